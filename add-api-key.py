#!/usr/bin/env python3
"""Add or replace publishers' CAL API keys in prog_ix_apikeys:
    add-api-key.py PUBLISHERID [PUBLISHERID]...
The key of each publisher is prompted for without echo, or read from standard input, one
line per publisher in the order given (keys never go on the command line, where ps and
the shell history would show them). Each publisher must be in prog_ix_publishers.
With no ids, list the table with the keys masked. Keys are never printed in full.

Example:  printf '%s\\n' "$KEY" | add-api-key.py 180280
"""

import sys

import calSupport
import cli
import mysql_db
import mysql_db_cal
import settings as settings_module
from errors import ConfigurationError
from utility import format_table, mask_secret


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("publisher_ids", nargs="*", metavar="PUBLISHERID")
    return parser


def list_keys(db):
    rows = mysql_db_cal.all_api_keys(db)
    print(format_table(["publisher_id", "api_key"], [(p, mask_secret(k, keep=4)) for p, k in rows]))
    print(f"{len(rows)} keys")


def main(args):
    ids = []
    for text in args.publisher_ids:
        if not text.isdigit():
            raise ConfigurationError(f"publisher id must be a whole number, got {mask_secret(text, keep=4)!s}; "
                                     f"keys are not taken on the command line: give the ids, then type the keys")
        ids.append(int(text))
    db = mysql_db.connect(settings_module.load_settings())
    try:
        if not ids:
            list_keys(db)
            return cli.EXIT_OK
        calSupport.check_publishers_known(db, ids)
        pairs = [(publisher, cli.read_secret(f"CAL API key for publisher {publisher}")) for publisher in ids]
        calSupport.store_api_keys(db, pairs)
    finally:
        db.close()
    for publisher, key in pairs:
        print(f"publisher {publisher}: key {mask_secret(key, keep=4)} stored")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
