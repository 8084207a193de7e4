#!/usr/bin/env python3
"""Download the results of report runs into the data download store (or -d), one file per
fileID named <fileID>.csv, with a publisher_id column added (the file itself does not say
which publisher it was run for: give it with -p; 0 when absent).

Files Index Exchange does not hold (unknown, not ready, expired) or of another status
than -s asks are reported and skipped. Exit 0 when every file came; 1 when a download
failed (try again); 2 when a file is not there or not of the status asked for.
"""

import os
import sys
import tempfile

import cli
import readwrite
import reportdownloadAPI
import reportdownloadSupport
import settings as settings_module
from authenticationSupport import open_reporting_session
from errors import SuiteError
from utility import atomic_write


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("file_ids", nargs="+", type=int, metavar="FILEID")
    parser.add_argument("-p", "--publisher", type=int, default=0, help="publisher_id to add (default 0)")
    parser.add_argument("-s", "--status", choices=["new", "downloaded"], help="only files of this status")
    parser.add_argument("-d", "--out", "--directory", dest="directory", metavar="DIR",
                        help="write here instead of the data download store")
    return parser


def main(args):
    settings = settings_module.load_settings()
    folder = readwrite.ensure_folder(args.directory or settings.data_download_store())
    missing = failed = 0
    with open_reporting_session(settings) as session:
        items = {item["fileID"]: item for item in reportdownloadAPI.list_files(session, file_ids=args.file_ids)}
        for file_id in dict.fromkeys(args.file_ids):
            item = items.get(file_id)
            if item is None:
                print(f"{file_id}: not available from Index Exchange (unknown, not ready or expired); skipped",
                      file=sys.stderr)
                missing += 1
                continue
            if args.status and item.get("downloadStatus") != args.status:
                print(f"{file_id}: status {item.get('downloadStatus')}, not {args.status}; skipped", file=sys.stderr)
                missing += 1
                continue
            with tempfile.TemporaryDirectory() as scratch:
                raw = os.path.join(scratch, "raw")
                try:
                    reportdownloadSupport.download_verified(session, item, raw)
                    converted = os.path.join(scratch, "converted.csv")
                    rows = readwrite.copy_with_publisher_id(raw, converted, args.publisher)
                except SuiteError as err:
                    print(f"{file_id}: {err}", file=sys.stderr)
                    failed += 1
                    continue
                target = os.path.join(folder, f"{file_id}.csv")
                with open(converted, "rb") as f:
                    atomic_write(target, f.read(), mode=0o644)
            print(f"{file_id}: {rows} rows to {target}")
    # A download that failed may work next time (1); an id not there, or not of the status
    # asked for, is the caller's to fix (2).
    return cli.EXIT_FAILED if failed else cli.EXIT_USAGE if missing else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
