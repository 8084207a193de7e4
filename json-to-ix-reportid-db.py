#!/usr/bin/env python3
"""Replace the reportID database with the records of a JSON file, as
ix-reportid-db-to-json.py writes it. A file that is not valid JSON or not of that shape
is refused with the reason, and the database stays as it was. With --store mysql (or
PROGSALESREPORTIDSTORE=mysql) the records go into the table prog_ix_report_ids: the way
from one host's shelve to the database every host shares (see ix-reportid-db-to-json.py)."""

import sys

import cli
import reportid_db
import settings as settings_module


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--store", choices=reportid_db.STORES,
                        help="the store to replace (default: PROGSALESREPORTIDSTORE's)")
    parser.add_argument("file", metavar="FILE")
    return parser


def main(args):
    settings = settings_module.load_settings()
    records = reportid_db.read_records_file(args.file)
    with reportid_db.open_store(settings, store=args.store, check=False) as database:   # it may restore a damaged one
        database.replace_all(records)
    print(f"reportID database now holds {len(records)} records from {args.file}")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
