#!/usr/bin/env python3
"""List the active report specs on Index Exchange, marking those the reportID database
knows (with the publisher and report name it keeps them for), as a table or (-j) JSON."""

import json
import sys

import cli
import reportid_db
import reportmanagementAPI
import settings as settings_module
from authenticationSupport import open_reporting_session
from reportmanagementSupport import is_auto_title
from utility import format_table


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("-a", "--accounts", help="only specs of these publisher (account) ids, comma-separated")
    parser.add_argument("-j", "--json", action="store_true", help="JSON")
    return parser


def main(args):
    settings = settings_module.load_settings()
    accounts = cli.id_list(args.accounts, "-a") if args.accounts else None
    with reportid_db.open_store(settings) as database:
        known = {r["reportID"]: r for r in database.all().values()}
    with open_reporting_session(settings) as session:
        specs = reportmanagementAPI.list_active_specs(session, account_ids=accounts)
    rows = []
    for spec in specs:
        record = known.get(spec["reportID"])
        rows.append(dict(spec, known=record is not None, auto_title=is_auto_title(spec.get("title")),
                         publisher_id=record["publisher_id"] if record else None,
                         report_name=record["report_name"] if record else None))
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return cli.EXIT_OK
    print(format_table(["reportID", "accounts", "in reportID db", "publisher / report name", "title"],
                       [(r["reportID"], ",".join(map(str, r.get("accounts", []))), "yes" if r["known"] else "",
                         f"{r['publisher_id']} / {r['report_name']}" if r["known"] else "", r.get("title"))
                        for r in rows]))
    print(f"{len(rows)} active specs, {sum(r['known'] for r in rows)} in the reportID database")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
