#!/usr/bin/env python3
"""List the report files Index Exchange holds for downloading, as a table or (-j) JSON."""

import json
import sys

import cli
import reportdownloadAPI
import settings as settings_module
from authenticationSupport import open_reporting_session
from utility import format_table


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("-a", "--accounts", help="only these publisher (account) ids, comma-separated")
    parser.add_argument("-f", "--file-ids", help="only these fileIDs, comma-separated")
    parser.add_argument("-r", "--report-ids", help="only files of these reportIDs, comma-separated")
    parser.add_argument("-s", "--status", choices=["new", "downloaded"], help="only files of this status")
    parser.add_argument("-j", "--json", action="store_true", help="JSON, as Index Exchange gives it")
    return parser


def main(args):
    settings = settings_module.load_settings()
    filters = {name: cli.id_list(value, option) for name, option, value in
               (("account_ids", "-a", args.accounts), ("file_ids", "-f", args.file_ids),
                ("report_ids", "-r", args.report_ids)) if value}
    with open_reporting_session(settings) as session:
        items = reportdownloadAPI.list_files(session, status=args.status, **filters)
    if args.json:
        print(json.dumps(items, indent=2, ensure_ascii=False))
    else:
        print(format_table(["fileID", "reportID", "status", "created", "bytes", "title"],
                           [(i["fileID"], i.get("reportID"), i.get("downloadStatus"), i.get("createdAt"),
                             i.get("fileSize"), i.get("reportTitle")) for i in items]))
        print(f"{len(items)} files")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
