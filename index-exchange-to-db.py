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

Example (cron: quiet when all is well, so cron mails only when something needs a look;
add -R to see the summary when running it by hand):
  index-exchange-to-db.py "Generic Revenue Report" "Generic Revenue Report for today only"
"""

import sys

import cli
import mysql_db
import settings as settings_module
from errors import ConfigurationError
from indexExchangeToDBSupport import (RUNS_LIMIT, SECONDS_PER_RETRY, ImportOptions, ImportRun,
                                      check_configuration)


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
    return parser


def main(args):
    settings = settings_module.load_settings()
    publisher_ids = cli.id_list(args.publishers, "-l") if args.publishers else None
    if args.directory and not args.keep_files:
        raise ConfigurationError("-d goes with -n (it says where -n keeps the files)")
    if args.check:
        db = mysql_db.connect(settings)
        try:
            publishers, templates, tables = check_configuration(settings, db, args.reports, publisher_ids)
        finally:
            db.close()
        for name in args.reports:
            print(f"{name}: template has {len(templates[name]['querySpec']['fields'])} fields, "
                  f"table {tables[name]} has a column for each and for publisher_id")
        print(f"{len(publishers)} publishers")
        return cli.EXIT_OK
    options = ImportOptions(report_names=args.reports, publisher_ids=publisher_ids, keep_files=args.keep_files,
                            download_dir=args.directory, retries=args.retries, workers=args.parallel,
                            shard=cli.shard(args.shard) if args.shard else None)
    progress = cli.ProgressBar() if sys.stderr.isatty() and not args.debug else None
    summary = ImportRun(settings, options, progress=progress, arguments=cli.command_line()).run()
    if args.report:
        print(summary.text())
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
