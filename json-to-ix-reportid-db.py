#!/usr/bin/env python3
"""Replace the reportID database with the records of a JSON file, as
ix-reportid-db-to-json.py writes it. A file that is not valid JSON or not of that shape
is refused with the reason, and the database stays as it was."""

import sys

import cli
import reportid_db
import settings as settings_module


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("file", metavar="FILE")
    return parser


def main(args):
    settings = settings_module.load_settings()
    records = reportid_db.read_records_file(args.file)
    reportid_db.ReportIdDB(settings.settings_store()).replace_all(records)
    print(f"reportID database now holds {len(records)} records from {args.file}")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
