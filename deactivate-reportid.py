#!/usr/bin/env python3
"""Deactivate report specs on Index Exchange by reportID and drop them from the reportID
database (the main program then makes a new spec for those pairs when next needed).

A spec whose title is not one this suite gives (a person's) is left alone unless --force;
-n shows what would be done, and does nothing.

Exit codes: 0 done; 2 a reportID unknown both to Index Exchange and to the reportID
database, of an account this user may not see, or a person's spec without --force (the
others are still done)."""

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
    parser.add_argument("-n", "--dry-run", action="store_true", help="show what would be done; do nothing")
    parser.add_argument("--force", action="store_true",
                        help="also deactivate specs this suite did not make (a person's: their title is not the "
                             "suite's)")
    return parser


def main(args):
    settings = settings_module.load_settings()
    unknown = 0
    with reportid_db.open_store(settings) as database, open_reporting_session(settings) as session:
        active, _ = reportmanagementSupport.active_specs(session)
        for report_id in dict.fromkeys(args.report_ids):
            title = active.get(report_id, (None, None))[0]
            if title is not None and not reportmanagementSupport.is_auto_title(title) and not args.force:
                print(f"deactivate-reportid.py: {report_id} ({title!r}) is not a spec this suite made; left alone "
                      f"(--force deactivates it anyway)", file=sys.stderr)
                unknown += 1
                continue
            if args.dry_run:
                print(f"{report_id}: would be deactivated ({repr(title) if title else 'not listed as active'}) and "
                      f"dropped from the reportID database")
                continue
            try:
                print(f"{report_id}: {reportmanagementSupport.deactivate_and_forget(session, database, report_id)}")
            except ConfigurationError as err:
                print(f"deactivate-reportid.py: {err}", file=sys.stderr)
                unknown += 1
    return cli.EXIT_USAGE if unknown else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
