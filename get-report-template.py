#!/usr/bin/env python3
"""Download report specs from Index Exchange into the templates store.

Define a report in the Index Exchange web GUI, note its ID, then:
    get-report-template.py 1965885 [reportID...]
Each is stored as JSON in ~/INDEX-TEMPLATES, in a file named by the report's title (or by
its number with -n). That file name is the report name the main program takes.
"""

import sys

import cli
import readwrite
import reportmanagementAPI
import settings as settings_module
from authenticationSupport import open_reporting_session
from errors import BadRequestError, ConfigurationError, NotFoundError, PermissionDeniedError


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("report_ids", nargs="+", type=int, metavar="REPORTID")
    parser.add_argument("-n", "--by-number", action="store_true", help="name the file by reportID, not title")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite a template of the same name")
    return parser


def main(args):
    settings = settings_module.load_settings()
    store = settings.templates_store()
    failed = 0
    with open_reporting_session(settings) as session:
        for report_id in args.report_ids:
            try:
                spec = reportmanagementAPI.get_spec(session, report_id)
            except (NotFoundError, PermissionDeniedError, BadRequestError) as err:
                print(f"{report_id}: {err}", file=sys.stderr)
                failed += 1
                continue
            name = str(report_id) if args.by_number else spec.get("reportTitle") or str(report_id)
            path = store / readwrite.template_file_name(name)
            if path.exists() and not args.force:
                raise ConfigurationError(f"{path} exists already; use -f to overwrite it")
            readwrite.write_template(settings, spec, name)
            print(f"{report_id}: saved as {path}")
    # An id Index Exchange does not know, or will not show this user, is the caller's to fix.
    return cli.EXIT_USAGE if failed else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
