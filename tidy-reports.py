#!/usr/bin/env python3
"""Deactivate the report specs this suite made on Index Exchange that the reportID database
does not know: what is left behind when the database was lost or damaged, or when a save
answered too late. Only specs whose title has the suite's standard form
("... taken from Prog API Temporary AutoUploaded report by ...") are touched; specs made
by people never are. Use -n first to see what it would do.
"""

import sys

import cli
import reportid_db
import reportmanagementAPI
import settings as settings_module
from authenticationSupport import open_reporting_session
from errors import NotFoundError, SuiteError
from reportmanagementSupport import is_auto_title


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("-n", "--dry-run", action="store_true", help="show what would be deactivated, change nothing")
    return parser


def main(args):
    settings = settings_module.load_settings()
    known = {r["reportID"] for r in reportid_db.ReportIdDB(settings.settings_store()).all().values()}
    failed = 0
    with open_reporting_session(settings) as session:
        specs = reportmanagementAPI.list_active_specs(session)
        orphans = [s for s in specs if is_auto_title(s.get("title")) and s["reportID"] not in known]
        for spec in orphans:
            if args.dry_run:
                print(f"would deactivate {spec['reportID']}: {spec.get('title')}")
                continue
            try:
                reportmanagementAPI.deactivate_spec(session, spec["reportID"])
                print(f"deactivated {spec['reportID']}: {spec.get('title')}")
            except NotFoundError:
                print(f"{spec['reportID']}: already inactive")
            except SuiteError as err:
                print(f"{spec['reportID']}: {err}", file=sys.stderr)
                failed += 1
    kept = len(specs) - len(orphans)
    verb = "would deactivate" if args.dry_run else "deactivated"
    print(f"{verb} {len(orphans) - failed} of {len(specs)} active specs; {kept} kept "
          f"(in the reportID database, or not made by this suite)")
    return cli.EXIT_FAILED if failed else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
