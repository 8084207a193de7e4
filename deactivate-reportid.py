#!/usr/bin/env python3
"""Deactivate report specs on Index Exchange by reportID and drop them from the reportID
database (the main program then makes a new spec for those pairs when next needed)."""

import sys

import cli
import reportid_db
import reportmanagementAPI
import settings as settings_module
from authenticationSupport import open_reporting_session
from errors import NotFoundError, PermissionDeniedError


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("report_ids", nargs="+", type=int, metavar="REPORTID")
    return parser


def main(args):
    settings = settings_module.load_settings()
    database = reportid_db.ReportIdDB(settings.settings_store())
    failed = 0
    with open_reporting_session(settings) as session:
        for report_id in dict.fromkeys(args.report_ids):
            try:
                reportmanagementAPI.deactivate_spec(session, report_id)
                outcome = "deactivated"
            except NotFoundError:
                outcome = "not active on Index Exchange (unknown or already deactivated)"
            except PermissionDeniedError as err:
                print(f"{report_id}: {err}", file=sys.stderr)
                failed += 1
                continue
            dropped = database.remove_report_ids([report_id])
            print(f"{report_id}: {outcome}; {'dropped from' if dropped else 'not in'} the reportID database")
    return cli.EXIT_FAILED if failed else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
