#!/usr/bin/env python3
"""Create the reporting half's tables that do not exist yet: prog_ix_publishers (as the
seed defines it), a starter prog_ix_stats for the Generic Revenue Report templates, the
suite's bookkeeping tables prog_ix_report_runs, prog_ix_report_queue and
prog_ix_spec_saves (the day's spec saves, shared by every host), the chunks of
backfills prog_ix_backfill_chunks, the reportID
database for several hosts prog_ix_report_ids, and the import-health record
prog_ix_import_log. Run again, it creates what is missing and converts a table whose key
would take distinct texts for one.

Run it as a MySQL user that may create tables (-u; the password is prompted for), not as
the importing user, which needs only SELECT, INSERT and UPDATE (and DELETE on the
tables of mapping entries whose files replace their window; --grant-to grants it). With
PROGSALESDBENGINE=sqlite no user is needed.

Publishers are then added by hand, for example:
    INSERT INTO prog_ix_publishers (publisher_id, publisher, country) VALUES (180280, 'Nordic News', 'SE');
"""

import sys

import cli
import mappingfile
import mysql_db_reporting
import tableSetupSupport
import settings as settings_module


def build_parser():
    parser = cli.make_parser(__doc__)
    tableSetupSupport.add_grant_options(parser)
    return parser


def main(args):
    settings = settings_module.load_settings()
    mapping = mappingfile.report_mapping(settings)
    result = tableSetupSupport.set_up(settings, args.user, cli.admin_password(settings, args.user),
                                      mysql_db_reporting.REPORTING_TABLES, args.grant_to, args.grafana_user,
                                      mapped=lambda db: mappingfile.report_tables(mapping))
    print("\n".join(result.lines()))
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
