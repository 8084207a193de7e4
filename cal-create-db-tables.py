#!/usr/bin/env python3
"""Create the CAL tables that do not exist yet, and fill prog_ix_api_to_db_table_mapping.
Flags choose groups (none: all): --auth (prog_ix_apikeys), --api (the api-to-table
mapping), --mapping (buyers, dsps, partners, sites, campaigns, creatives, deals, exchange
rates), --log (impression and bid logs, download log).

Run it as a MySQL user that may create tables (-u; the password is prompted for).
"""

import sys

import cli
import mysql_db
import mysql_db_grafana
import mysql_db_health
import mysql_db_cal
import settings as settings_module

GROUPS = ("auth", "api", "mapping", "log")


def build_parser():
    parser = cli.make_parser(__doc__)
    for group in GROUPS:
        parser.add_argument(f"--{group}", action="store_true", help=f"the {group} tables")
    parser.add_argument("-u", "--user", help="MySQL user that may create tables (default: the configured user)")
    parser.add_argument("--grant-to", metavar="NAME[@HOST]",
                        help="also grant SELECT, INSERT, UPDATE on them to this existing MySQL account (NAME alone: "
                             "every host it exists for); an account is never created")
    parser.add_argument("--grafana-user", metavar="NAME[@HOST]",
                        help="also grant SELECT (only) on the tables Grafana charts to this existing MySQL account "
                             "(never the API keys); an account is never created")
    return parser


def main(args):
    chosen = [g for g in GROUPS if getattr(args, g)] or list(GROUPS)
    settings = settings_module.load_settings()
    password = cli.admin_password(settings, args.user)
    tables = {name: ddl for name, (group, ddl) in mysql_db_cal.CAL_TABLES.items() if group in chosen}
    db = mysql_db.connect(settings, user=args.user, password=password)
    granted, readers = [], []
    try:
        created = mysql_db.create_tables(db, tables)
        health = mysql_db.create_tables(db, mysql_db_health.HEALTH_TABLES)
        if "api" in chosen:
            mysql_db_cal.fill_api_table_mapping(db)
        if args.grant_to and db.engine == "mysql":
            granted = mysql_db.grant_import_rights(db, args.grant_to, list(tables) + list(mysql_db_health.HEALTH_TABLES))
        if args.grafana_user and db.engine == "mysql":
            readers = mysql_db.grant_read_rights(db, args.grafana_user, mysql_db_grafana.GRAFANA_TABLES)
    finally:
        db.close()
    existing = [t for t in tables if t not in created]
    print(f"created: {', '.join(created) or 'none'}; already there: {', '.join(existing) or 'none'}")
    print(f"import-health record {mysql_db_health.IMPORT_LOG_TABLE}: {'created' if health else 'already there'}")
    for user, host in readers:
        print(f"granted SELECT on the tables Grafana charts to '{user}'@'{host}'")
    for user, host in granted:
        print(f"granted SELECT, INSERT, UPDATE on them to '{user}'@'{host}'")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
