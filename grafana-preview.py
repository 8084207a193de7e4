#!/usr/bin/env python3
"""Render the suite's Grafana dashboards to PNG without Grafana: every panel's SQL run on
the configured MySQL database (Grafana's macros expanded as Grafana documents them,
variables set to All), drawn where Grafana puts it; one PNG per dashboard in --out.
Needs matplotlib (./import-setup --dev) and the MySQL engine (the SQL is MySQL's)."""

import datetime as dt
import sys

import cli
import dashboardpreview
import mysql_db
import settings as settings_module
from errors import ConfigurationError


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--out", default="grafana-preview", help="folder for the PNGs (default ./grafana-preview)")
    parser.add_argument("--from", dest="time_from", metavar="YYYY-MM-DD",
                        help="range start for every dashboard (default: each dashboard's own range, as Grafana "
                             "opens it: revenue 30 days, CAL 2 days, import health 7 days)")
    parser.add_argument("--to", dest="time_to", metavar="YYYY-MM-DD", help="range end, inclusive (default: now)")
    return parser


def day(text, option):
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ConfigurationError(f"{option} takes a date YYYY-MM-DD, got {text!r}") from None


def main(args):
    cli.require_packages("matplotlib")
    end = day(args.time_to, "--to") + dt.timedelta(days=1) if args.time_to else dt.datetime.now(dt.timezone.utc)
    # Without --from, each dashboard over its own default range (as Grafana opens it).
    start = day(args.time_from, "--from") if args.time_from else None
    if start is not None and start >= end:
        raise ConfigurationError("--from must be before --to")
    settings = settings_module.load_settings()
    if settings.get("PROGSALESDBENGINE") != "mysql":
        raise ConfigurationError("the dashboards' SQL is MySQL's: set PROGSALESDBENGINE=mysql")
    db = mysql_db.connect(settings)
    try:
        for path in dashboardpreview.render_all(db, args.out, int(start.timestamp()) if start else None,
                                                int(end.timestamp())):
            print(f"wrote {path}")
    finally:
        db.close()
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
