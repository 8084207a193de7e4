#!/usr/bin/env python3
"""Create the CAL tables that do not exist yet, and fill prog_ix_api_to_db_table_mapping.
Flags choose groups (none: all): --auth (prog_ix_apikeys), --api
(prog_ix_api_to_db_table_mapping), --mapping (prog_ix_buyer_mapping, prog_ix_dsp_mapping,
prog_ix_partner_mapping, prog_ix_site_mapping, prog_ix_campaign_mapping, prog_ix_creatives,
prog_ix_deal_mapping, prog_ix_exchange_rates), --log (prog_ix_impression_log,
prog_ix_bid_log, prog_ix_cal_download_log); and the import-health record
prog_ix_import_log.

Run it as a MySQL user that may create tables (-u; the password is prompted for).
"""

import sys

import cli
import mysql_db_cal
import tableSetupSupport
import settings as settings_module

GROUPS = ("auth", "api", "mapping", "log")


def build_parser():
    parser = cli.make_parser(__doc__)
    for group in GROUPS:
        parser.add_argument(f"--{group}", action="store_true", help=f"the {group} tables")
    tableSetupSupport.add_grant_options(parser)
    return parser


def mapped_tables(db):
    """The tables prog_ix_api_to_db_table_mapping sends CAL data to (an operator may point
    an API at a table of their own there)."""
    if not db.table_exists(mysql_db_cal.API_TABLE_MAPPING_TABLE):
        return {}
    return {table: () for table in mysql_db_cal.api_tables(db).values()}


def main(args):
    chosen = [g for g in GROUPS if getattr(args, g)] or list(GROUPS)
    settings = settings_module.load_settings()
    tables = {name: ddl for name, (group, ddl) in mysql_db_cal.CAL_TABLES.items() if group in chosen}
    result = tableSetupSupport.set_up(settings, args.user, cli.admin_password(settings, args.user), tables,
                                      args.grant_to, args.grafana_user,
                                      after_create=mysql_db_cal.fill_api_table_mapping if "api" in chosen else None,
                                      mapped=mapped_tables)
    print("\n".join(result.lines()))
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
