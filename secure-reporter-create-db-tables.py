#!/usr/bin/env python3
"""Create the Secure Reporter starter table prog_sr_direct_revenue (what the stand-in's
example report "Daily Direct Revenue" fills) and the import-health record
prog_ix_import_log, if missing.
Run it as a MySQL user that may create tables (-u; the password is prompted for)."""

import sys

import cli
import mappingfile
import mysql_db_securereporter
import settings as settings_module
import tableSetupSupport


def build_parser():
    parser = cli.make_parser(__doc__)
    tableSetupSupport.add_grant_options(parser)
    return parser


def main(args):
    settings = settings_module.load_settings()
    mapping = mappingfile.secure_reporter_mapping(settings)
    result = tableSetupSupport.set_up(settings, args.user, cli.admin_password(settings, args.user),
                                      mysql_db_securereporter.SECURE_REPORTER_TABLES, args.grant_to, args.grafana_user,
                                      mapped=lambda db: {e["db_table"]: () for e in mapping.entries.values()})
    print("\n".join(result.lines()))
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
