#!/usr/bin/env python3
"""What happened in the last hours, and whether anything needs a person: per program the
runs (start, duration, host, exit code, counts, problems; a run that never finished says
whether it still runs here or died), the report files not loaded (pending, gone, expired,
abandoned: age, attempts, reason), the pairs queued, the leases held and by which host,
and the day's spec saves against the limit. Works on MySQL and SQLite, as the importing
user.

Exit 0 when nothing needs a person; 1 when something does (a program's last run failed, a
run died, a file pending longer than --pending-hours, no successful run of a program in
--hours), so it can itself be a monitoring check; 2 usage or configuration.
--json prints the shape documented in statusSupport.py (and the README), stable.

Examples:
  ix-status.py                          the last 24 hours
  ix-status.py --hours 72 --program cal-downloads.py
  ix-status.py --json | jq .attention
"""

import json
import sys

import cli
import mysql_db
import settings as settings_module
import statusSupport
from errors import ConfigurationError


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--hours", type=int, default=24, help="look back this many hours (default 24)")
    parser.add_argument("--program", metavar="NAME", help="only this program (e.g. cal-downloads.py)")
    parser.add_argument("--pending-hours", type=int, default=24,
                        help="a report file pending longer than this needs a person (default 24)")
    parser.add_argument("--json", action="store_true", help="print JSON (the documented, stable shape)")
    return parser


def main(args):
    if args.hours < 1 or args.pending_hours < 1:
        raise ConfigurationError("--hours and --pending-hours take a whole number of hours, at least 1")
    settings = settings_module.load_settings()
    with mysql_db.connect(settings) as db:
        status = statusSupport.gather(db, settings, hours=args.hours, program=args.program,
                                      pending_hours=args.pending_hours)
    print(json.dumps(status, indent=2, ensure_ascii=False) if args.json else statusSupport.as_text(status))
    return cli.EXIT_FAILED if status["needs_attention"] else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
