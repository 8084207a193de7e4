#!/usr/bin/env python3
"""Report files asked for and not loaded, and what a person decides about them:

    pending-files.py                                   list them (pending, gone, expired, abandoned)
    pending-files.py --abandon "REASON" FILEID...      give up on them (pending, gone or expired)
    pending-files.py --retry FILEID...                 ask for them again (abandoned, gone or expired)

A pending file is collected by every run of index-exchange-to-db.py; one Index Exchange
does not list on 3 runs over 12 hours becomes `gone` by itself (said once), one older than
Index Exchange keeps files becomes `expired`. An abandoned file is never asked for again
until --retry.

Exit codes: 0 done; 2 an id that is not such a file (the others are still done)."""

import sys

import cli
import mysql_db
import mysql_db_reporting
import settings as settings_module
from errors import ConfigurationError
from utility import format_table


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("file_ids", nargs="*", type=int, metavar="FILEID")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--abandon", metavar="REASON", help="give up on these files, saying why")
    action.add_argument("--retry", action="store_true", help="put these files back to pending")
    return parser


def main(args):
    if bool(args.file_ids) != bool(args.abandon or args.retry):
        raise ConfigurationError("give --abandon REASON or --retry with the file ids, or neither to list")
    if args.abandon is not None and not args.abandon.strip():
        raise ConfigurationError("--abandon needs a reason (it is kept with the file)")
    with mysql_db.connect(settings_module.load_settings()) as db:
        if not args.file_ids:
            files = mysql_db_reporting.files_not_loaded(db)
            print(format_table(["file_id", "status", "publisher", "report", "requested_at", "attempts", "last_error"],
                               [(f["file_id"], f["status"], f["publisher_id"], f["report_name"],
                                 str(f["requested_at"])[:19], f["attempts"], (f["last_error"] or "")[:80])
                                for f in files]))
            print(f"{len(files)} files")
            return cli.EXIT_OK
        if args.retry:
            changed = mysql_db_reporting.retry_report_runs(db, args.file_ids)
            done, state = "back to pending", "abandoned, gone or expired"
        else:
            changed = mysql_db_reporting.abandon_report_runs(db, args.file_ids, args.abandon.strip())
            done, state = "abandoned", "pending, gone or expired"
    for file_id in args.file_ids:
        if file_id in changed:
            print(f"file {file_id}: {done}")
        else:
            print(f"pending-files.py: file {file_id} is not {state}; nothing done to it", file=sys.stderr)
    return cli.EXIT_OK if len(changed) == len(set(args.file_ids)) else cli.EXIT_USAGE


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
