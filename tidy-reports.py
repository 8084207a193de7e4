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
import reportmanagementSupport
import settings as settings_module
from authenticationSupport import open_reporting_session
from errors import SuiteError


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("-n", "--dry-run", action="store_true", help="show what would be deactivated, change nothing")
    return parser


def main(args):
    settings = settings_module.load_settings()
    failed = 0
    with reportid_db.open_store(settings) as database, open_reporting_session(settings) as session:
        orphans, specs = reportmanagementSupport.orphan_specs(session, database)
        for spec in orphans:
            if args.dry_run:
                print(f"would deactivate {spec['reportID']}: {spec.get('title')}")
                continue
            try:
                outcome = reportmanagementSupport.deactivate_orphan(session, spec["reportID"])
            except SuiteError as err:
                print(f"{spec['reportID']}: {err}", file=sys.stderr)
                failed += 1
                continue
            print(f"{outcome} {spec['reportID']}: {spec.get('title')}" if outcome == "deactivated"
                  else f"{spec['reportID']}: {outcome}")
    kept = len(specs) - len(orphans)
    verb = "would deactivate" if args.dry_run else "deactivated"
    print(f"{verb} {len(orphans) - failed} of {len(specs)} active specs; {kept} kept "
          f"(in the reportID database, or not made by this suite)")
    return cli.EXIT_FAILED if failed else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
