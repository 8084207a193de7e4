#!/usr/bin/env python3
"""Deactivate report specs on Index Exchange by reportID and drop them from the reportID
database (the main program then makes a new spec for those pairs when next needed).

Exit codes: 0 done; 2 a reportID unknown both to Index Exchange and to the reportID
database, or of an account this user may not see (the others are still done)."""

import sys

import cli
import reportid_db
import reportmanagementSupport
import settings as settings_module
from authenticationSupport import open_reporting_session
from errors import ConfigurationError


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("report_ids", nargs="+", type=int, metavar="REPORTID")
    return parser


def main(args):
    settings = settings_module.load_settings()
    unknown = 0
    with reportid_db.open_store(settings) as database, open_reporting_session(settings) as session:
        for report_id in dict.fromkeys(args.report_ids):
            try:
                print(f"{report_id}: {reportmanagementSupport.deactivate_and_forget(session, database, report_id)}")
            except ConfigurationError as err:
                print(f"deactivate-reportid.py: {err}", file=sys.stderr)
                unknown += 1
    return cli.EXIT_USAGE if unknown else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
