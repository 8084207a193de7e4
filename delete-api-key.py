#!/usr/bin/env python3
"""Delete publishers' CAL API keys from prog_ix_apikeys:
    delete-api-key.py [-u ADMINUSER] PUBLISHERID...
Deleting needs DELETE, which the importing user does not have: give a MySQL user that
may with -u (its password is prompted for). An id that has no key is said so (exit 0),
whoever runs it. With no ids, list the table, keys masked."""

import sys

import cli
import mysql_db
import mysql_db_cal
import settings as settings_module
from errors import ConfigurationError
from utility import format_table, mask_secret


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("publisher_ids", nargs="*", type=int, metavar="PUBLISHERID")
    parser.add_argument("-u", "--user", help="MySQL user that may delete (default: the configured user)")
    return parser


def main(args):
    settings = settings_module.load_settings()
    password = cli.admin_password(settings, args.user) if args.publisher_ids else None
    db = mysql_db.connect(settings, user=args.user if args.publisher_ids else None, password=password)
    try:
        if not args.publisher_ids:
            rows = mysql_db_cal.all_api_keys(db)
            print(format_table(["publisher_id", "api_key"], [(p, mask_secret(k, keep=4)) for p, k in rows]))
            print(f"{len(rows)} keys")
            return cli.EXIT_OK
        known = {p for p, _ in mysql_db_cal.all_api_keys(db)}
        doomed = [p for p in args.publisher_ids if p in known]
        try:
            deleted = mysql_db_cal.delete_api_keys(db, doomed) if doomed else 0
        except mysql_db.DatabasePermissionError:
            raise ConfigurationError(f"the MySQL user {args.user or settings.get('PROGSALESMYSQLUSERNAME')} may not "
                                     f"DELETE (the importing user has SELECT, INSERT, UPDATE only): give a user that "
                                     f"may with -u ADMINUSER; nothing was deleted") from None
    finally:
        db.close()
    for publisher in args.publisher_ids:
        print(f"publisher {publisher}: {'key deleted' if publisher in known else 'had no key'}")
    return cli.EXIT_OK if deleted == len(doomed) else cli.EXIT_FAILED


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
