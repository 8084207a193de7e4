#!/usr/bin/env python3
"""Print the reportID database (a binary shelve, or the table prog_ix_report_ids when
PROGSALESREPORTIDSTORE=mysql) as JSON, for reading or for a backup that
json-to-ix-reportid-db.py loads back into either store: the way from shelve to MySQL.

  ix-reportid-db-to-json.py --store shelve > reportids.json
  json-to-ix-reportid-db.py --store mysql reportids.json"""

import json
import sys

import cli
import reportid_db
import settings as settings_module


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--store", choices=reportid_db.STORES,
                        help="the store to read (default: PROGSALESREPORTIDSTORE's)")
    return parser


def main(args):
    settings = settings_module.load_settings()
    with reportid_db.open_store(settings, store=args.store) as database:
        records = sorted(database.all().values(), key=lambda r: (r["publisher_id"], r["report_name"]))
    print(json.dumps({"version": 1, "reports": records}, indent=2, ensure_ascii=False, sort_keys=True))
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
