#!/usr/bin/env python3
"""Write the suite's Grafana dashboards (dashboards.py, built with grafana-foundation-sdk)
to grafana/dashboards/<name>.json, where Grafana's file provisioning reads them, and its
alert rules to grafana/provisioning/alerting/index-exchange.yaml. The JSON
is checked in; a test fails when it differs from what dashboards.py builds, so run this
after changing dashboards.py or mysql_db_grafana.py. --check only compares (exit 1 when
a file is out of date). Needs the dev requirements (./import-setup --dev)."""

import os
import sys

import cli
import dashboards
from utility import atomic_write

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafana", "dashboards")
ALERTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafana", "provisioning", "alerting",
                           "index-exchange.yaml")


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--check", action="store_true", help="only compare the checked-in files, write nothing")
    return parser


def main(args):
    cli.require_packages("grafana_foundation_sdk", "yaml")
    stale = []
    files = {os.path.join(FOLDER, f"{name}.json"): dashboards.rendered(spec)
             for name, spec in dashboards.DASHBOARDS.items()}
    files[ALERTS_FILE] = dashboards.rendered_alerts()
    for path, text in files.items():
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, text.encode("utf-8"), mode=0o644)
            print(f"wrote {path}")
    if args.check and stale:
        print("out of date: " + ", ".join(stale) + " (run grafana-build-dashboards.py)", file=sys.stderr)
        return cli.EXIT_FAILED
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
