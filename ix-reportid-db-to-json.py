#!/usr/bin/env python3
"""Print the reportID database (a binary shelve) as JSON, for reading or for a backup that
json-to-ix-reportid-db.py loads back."""

import json
import sys

import cli
import reportid_db
import settings as settings_module


def build_parser():
    return cli.make_parser(__doc__)


def main(args):
    settings = settings_module.load_settings()
    records = sorted(reportid_db.ReportIdDB(settings.settings_store()).all().values(),
                     key=lambda r: (r["publisher_id"], r["report_name"]))
    print(json.dumps({"version": 1, "reports": records}, indent=2, ensure_ascii=False, sort_keys=True))
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
