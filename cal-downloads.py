#!/usr/bin/env python3
"""Pull Index Exchange CAL data into MySQL: mappings, and on request the hourly
impression (-i) and bid (-b) event logs (-l: both), for every publisher with an API key in
prog_ix_apikeys.

Cron, as the original suite ran it:
  0 * * * *  cal-downloads.py -M -l     hourly: logs only
  0 6 * * *  cal-downloads.py           daily: mappings only

Exit codes: 0 all loaded; 1 a publisher or a file failed (the others still loaded; a
failed file is tried again next run); 2 usage or configuration error.
"""

import sys

import cli
import settings as settings_module
from calWrapper import DEFAULT_WORKERS, CalOptions, CalRun


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("-M", "--no-mappings", action="store_true", help="skip the mappings")
    parser.add_argument("-i", "--impressions", action="store_true", help="impression logs")
    parser.add_argument("-b", "--bids", action="store_true", help="bid logs, all their parts")
    parser.add_argument("-l", "--logs", action="store_true", help="both logs")
    parser.add_argument("-p", "--publishers", metavar="ID[,ID]", help="only these publishers")
    parser.add_argument("-P", "--parallel", type=int, default=DEFAULT_WORKERS,
                        help=f"publishers handled at once (default {DEFAULT_WORKERS})")
    parser.add_argument("-R", "--summary", "--report", dest="report", action="store_true",
                        help="print a summary at the end")
    parser.add_argument("--check", action="store_true", help="only check tables, API keys and settings; send "
                                                            "nothing")
    parser.add_argument("--shard", metavar="K/N", help="only the publishers of shard K of N (by id), so N hosts "
                                                        "with the same crontab split the work")
    return parser


def main(args):
    settings = settings_module.load_settings()
    options = CalOptions(mappings=not args.no_mappings, impressions=args.impressions or args.logs,
                         bids=args.bids or args.logs, workers=args.parallel,
                         publisher_ids=cli.id_list(args.publishers, "-p") if args.publishers else None,
                         shard=cli.shard(args.shard) if args.shard else None)
    run = CalRun(settings, options, arguments=cli.command_line())
    if args.check:
        run.check_only()
        print(f"CAL: {run.summary.publishers} publishers' API keys; tables: {', '.join(sorted(set(run.tables.values())))}")
        return cli.EXIT_OK
    summary = run.run()
    if args.report:
        print(summary.text())
    elif not summary.complete:
        print(summary.text(), file=sys.stderr)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
