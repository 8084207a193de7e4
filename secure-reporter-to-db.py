#!/usr/bin/env python3
"""Load Secure Reporter reports into prog_stats: each REPORT (a key of
SECURE_REPORTER_TO_DB_TABLE in secure_reporter_to_db_table_mapping.py) is run on the
Secure Reporter server with its parameters and its records upserted into the mapped table
(one transaction per report; a report that fails leaves its table as it was).

Settings: SECUREREPORTERBASEURL and SECUREREPORTERTOKEN (the Basic credential as the token
page copies it; never printed). Parameters may be dates relative to the run (today,
yesterday, today-7d, month-start...), resolved in UTC; -v shows them.

Exit codes: 0 all loaded; 1 a report failed (the others still loaded); 2 usage or
configuration error, and then nothing was sent to Secure Reporter.

Example (cron, daily at 07:15 UTC):
  secure-reporter-to-db.py "Direct revenue"
"""

import sys

import cli
import mysql_db
import secureReporterSupport
import settings as settings_module
from secureReporterWrapper import DEFAULT_WORKERS, MAX_WORKERS, SecureReporterOptions, SecureReporterRun, check_reports


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("reports", nargs="+", metavar="REPORT", help="report names (keys of the mapping)")
    parser.add_argument("-R", "--summary", "--report", dest="report", action="store_true",
                        help="print a summary of the activity at the end")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="a bind parameter for this run, overriding the mapping's (may be given again)")
    parser.add_argument("-P", "--parallel", type=int, default=DEFAULT_WORKERS,
                        help=f"reports fetched at once (1-{MAX_WORKERS}); default {DEFAULT_WORKERS}")
    parser.add_argument("--check", action="store_true", help="only check mapping, tables and settings; send nothing")
    return parser


def main(args):
    settings = settings_module.load_settings()
    params = secureReporterSupport.parse_param_options(args.param)
    if args.check:
        settings.url("SECUREREPORTERBASEURL")
        secureReporterSupport.token_name(settings.require("SECUREREPORTERTOKEN"))
        db = mysql_db.connect(settings)
        try:
            entries = check_reports(settings, db, args.reports)
        finally:
            db.close()
        for name, entry in entries.items():
            print(f"{name}: report {entry['report']} into {entry['db_table']}")
        return cli.EXIT_OK
    options = SecureReporterOptions(report_names=args.reports, params=params, workers=args.parallel)
    summary = SecureReporterRun(settings, options, arguments=cli.command_line()).run()
    if args.report:
        print(summary.text())
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
