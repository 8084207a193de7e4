#!/usr/bin/env python3
"""Send each publisher's revenue statement for a period (or, with --activity, the import
activity) through CxReports: the data (docs/cxreports-data.schema.json) is pushed and the
report rendered to PDF and saved as DIR/<publisher_id>-<from>-<to>.pdf (default store
~/INDEX-REPORTS), or, with --job, given to a CxReports job whose run is followed to the
end (delivered when it needs no review; entries waiting for review are reported).

Settings: CXREPORTSBASEURL, CXREPORTSTOKEN (never printed), CXREPORTSWORKSPACE,
CXREPORTSEXPORTWAIT. Exit codes: 0 all sent; 1 a document failed (the others were still
sent); 2 usage or configuration error.

Example (cron, Mondays 09:00 UTC, last week's statements):
  cxreports-send.py --period last-week
"""

import datetime as dt
import sys

import cli
import settings as settings_module
from cxreportsWrapper import CxReportsOptions, CxReportsRun


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--period", default="last-week", help="last-week (default), last-month or FROM..TO")
    parser.add_argument("-l", "--publishers", metavar="ID[,ID]", help="only these publishers")
    parser.add_argument("--report", metavar="ID|CODE", help="the CxReports report (default revenue-statement, "
                                                            "or import-activity with --activity)")
    parser.add_argument("--job", type=int, metavar="JOBID", help="send through this CxReports job")
    parser.add_argument("--out", metavar="DIR", help="save the PDFs here (default ~/INDEX-REPORTS)")
    parser.add_argument("--activity", action="store_true", help="the import activity report instead of statements")
    parser.add_argument("-R", "--summary", "--report-summary", dest="report_summary", action="store_true",
                        help="print a summary at the end")
    parser.add_argument("--check", action="store_true", help="only check tables, publishers and settings; send "
                                                            "nothing")
    return parser


def main(args):
    settings = settings_module.load_settings()
    options = CxReportsOptions(period=args.period, report=args.report, job=args.job, out=args.out,
                               activity=args.activity,
                               publisher_ids=cli.id_list(args.publishers, "-l") if args.publishers else None)
    run = CxReportsRun(settings, options, arguments=cli.command_line())
    if args.check:
        run.check_only()
        print(f"CxReports: {len(run.targets)} documents for {run.start}..{run.end - dt.timedelta(days=1)}")
        return cli.EXIT_OK
    summary = run.run()
    if args.report_summary:
        print(summary.text())
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
