#!/usr/bin/env python3
"""The main program: run the named reports for every publisher and load the results.

For each publisher of prog_ix_publishers (or of -l) and each report named, the report's
template (from the templates store) is saved on Index Exchange for the publisher (only
when it changed), run, and its file downloaded and upserted into the table that
report_to_db_table_mapping.py names, with publisher_id added. Files left pending by
earlier runs are collected first.

Exit codes: 0 all loaded; 1 something is pending or failed (it is collected next run);
2 usage or configuration error (nothing was sent to Index Exchange); 130 interrupted
(Ctrl-C stops promptly; what was asked for stays pending, and -R still prints the summary).

With --from and --to, a backfill: the named reports for that window (both days included,
UTC) instead of their templates' date ranges, in chunks of --chunk-days, through a spec of
its own per pair that is deactivated when the pair is done. Run the same command again
(after a kill, or the next day when the day's spec saves are used) and it continues where
it stopped; --abandon ends it unfinished. ix-status.py shows the chunks done and left.

Example (cron: quiet when all is well, so cron mails only when something needs a look;
add -R to see the summary when running it by hand):
  index-exchange-to-db.py "Generic Revenue Report" "Generic Revenue Report for today only"
A backfill of the year so far (the seed's "Generic Revenue Report Back dates"):
  index-exchange-to-db.py -R --from 2026-01-01 --to 2026-12-05 "Generic Revenue Report"
"""

import sys

import backfillSupport
import cli
import mysql_db
import settings as settings_module
from errors import ConfigurationError
from indexExchangeToDBSupport import RUNS_LIMIT, SECONDS_PER_RETRY, ImportOptions, ImportRun
from reportConfigSupport import check_configuration


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("reports", nargs="+", metavar="REPORT", help="report names (template file names)")
    parser.add_argument("-R", "--summary", "--report", dest="report", action="store_true",
                        help="print a summary of the activity at the end")
    parser.add_argument("-n", "--keep-files", action="store_true",
                        help="also keep each downloaded CSV in the data download store, named by fileID")
    parser.add_argument("-d", "--out", "--directory", dest="directory", metavar="DIR",
                        help="with -n: keep the CSVs here instead")
    parser.add_argument("-l", "--publishers", metavar="ID[,ID]",
                        help="only these publisher ids (each must be in prog_ix_publishers)")
    parser.add_argument("-r", "--retries", type=int, default=15,
                        help=f"wait up to N x {SECONDS_PER_RETRY} s for each file (polling with backoff); "
                             f"0 checks once; default 15")
    parser.add_argument("-P", "--parallel", type=int, default=None,
                        help=f"runs in progress at Index Exchange at once (1-{RUNS_LIMIT}); default {RUNS_LIMIT}, "
                             f"its limit, or with --shard K/N an N-th of it")
    parser.add_argument("--check", action="store_true",
                        help="only check templates, mapping and tables; send nothing")
    parser.add_argument("--shard", metavar="K/N", help="only the publishers of shard K of N (by id), so N hosts "
                                                        "with the same crontab split the work")
    backfill = parser.add_argument_group("backfill")
    backfill.add_argument("--from", dest="first_day", metavar="YYYY-MM-DD",
                          help="backfill from this day (UTC, included); with --to")
    backfill.add_argument("--to", dest="last_day", metavar="YYYY-MM-DD",
                          help="backfill to this day (UTC, included; today at the latest)")
    backfill.add_argument("--chunk-days", type=int, default=None,
                          help=f"days asked of Index Exchange per run (1-{backfillSupport.MAX_CHUNK_DAYS}); "
                               f"default {backfillSupport.DEFAULT_CHUNK_DAYS}")
    backfill.add_argument("--abandon", action="store_true",
                          help="end the backfill of --from/--to unfinished: its chunks not loaded are abandoned and "
                               "its specs deactivated")
    return parser


def main(args):
    settings = settings_module.load_settings()
    publisher_ids = cli.id_list(args.publishers, "-l") if args.publishers else None
    if args.directory and not args.keep_files:
        raise ConfigurationError("-d goes with -n (it says where -n keeps the files)")
    common = dict(report_names=args.reports, publisher_ids=publisher_ids, keep_files=args.keep_files,
                  download_dir=args.directory, retries=args.retries, workers=args.parallel,
                  shard=cli.shard(args.shard) if args.shard else None)
    backfill = args.first_day is not None or args.last_day is not None
    if not backfill and (args.chunk_days is not None or args.abandon):
        raise ConfigurationError(f"{'--chunk-days' if args.chunk_days is not None else '--abandon'} goes with "
                                 f"--from and --to (a backfill)")
    if backfill:
        options = backfillSupport.BackfillOptions(
            **common, abandon=args.abandon,
            first_day=backfillSupport.parse_day(args.first_day, "--from") if args.first_day else None,
            last_day=backfillSupport.parse_day(args.last_day, "--to") if args.last_day else None,
            chunk_days=backfillSupport.DEFAULT_CHUNK_DAYS if args.chunk_days is None else args.chunk_days)
        run = backfillSupport.BackfillRun(settings, options, arguments=cli.command_line())
    else:
        run = ImportRun(settings, ImportOptions(**common), arguments=cli.command_line())
    if args.check:
        return check(settings, args, run)
    run.progress = cli.ProgressBar() if sys.stderr.isatty() and not args.debug else None
    summary = run.run()
    if args.report:
        print(summary.text())
    return summary.exit_code


def check(settings, args, run):
    """--check: templates, mapping, tables (and a backfill's window), nothing sent."""
    if isinstance(run, backfillSupport.BackfillRun):
        run.check_only()
        publishers, templates, tables = run.summary.publishers, run.templates, run.tables
    else:
        db = mysql_db.connect(settings)
        try:
            publishers, templates, tables = check_configuration(settings, db, args.reports, run.options.publisher_ids)
        finally:
            db.close()
        publishers = len(publishers)
    for name in args.reports:
        print(f"{name}: template has {len(templates[name]['querySpec']['fields'])} fields, "
              f"table {tables[name]} has a column for each and for publisher_id")
    print(f"{publishers} publishers")
    if isinstance(run, backfillSupport.BackfillRun):
        print(f"backfill {run.backfill}: {len(run.chunks)} chunks of at most {run.options.chunk_days} days per pair, "
              f"{len(run.chunks) * run.summary.pairs} in all")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
