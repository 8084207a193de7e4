#!/usr/bin/env python3
"""Create the reporting half's tables that do not exist yet: prog_ix_publishers (as the
seed defines it), a starter prog_ix_stats for the Generic Revenue Report templates, and
the suite's bookkeeping tables prog_ix_report_runs and prog_ix_report_queue.

Run it as a MySQL user that may create tables (-u; the password is prompted for), not as
the importing user, which needs only SELECT, INSERT and UPDATE. With
PROGSALESDBENGINE=sqlite no user is needed.

Publishers are then added by hand, for example:
    INSERT INTO prog_ix_publishers (publisher_id, publisher, country) VALUES (180280, 'Nordic News', 'SE');
"""

import sys

import cli
import mysql_db
import mysql_db_grafana
import mysql_db_health
import mysql_db_reporting
import settings as settings_module


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("-u", "--user", help="MySQL user that may create tables (default: the configured user)")
    parser.add_argument("--grant-to", metavar="NAME[@HOST]",
                        help="also grant SELECT, INSERT, UPDATE on them to this existing MySQL account (NAME alone: "
                             "every host it exists for); an account is never created")
    parser.add_argument("--grafana-user", metavar="NAME[@HOST]",
                        help="also grant SELECT (only) on the tables Grafana charts to this existing MySQL account "
                             "(never the API keys); an account is never created")
    return parser


def main(args):
    settings = settings_module.load_settings()
    password = cli.admin_password(settings, args.user)
    db = mysql_db.connect(settings, user=args.user, password=password)
    granted, readers = [], []
    try:
        created = mysql_db.create_tables(db, mysql_db_reporting.REPORTING_TABLES)
        health = mysql_db.create_tables(db, mysql_db_health.HEALTH_TABLES)
        if args.grant_to and db.engine == "mysql":
            granted = mysql_db.grant_import_rights(db, args.grant_to, list(mysql_db_reporting.REPORTING_TABLES) +
                                                   list(mysql_db_health.HEALTH_TABLES))
        if args.grafana_user and db.engine == "mysql":
            readers = mysql_db.grant_read_rights(db, args.grafana_user, mysql_db_grafana.GRAFANA_TABLES)
    finally:
        db.close()
    existing = [t for t in mysql_db_reporting.REPORTING_TABLES if t not in created]
    print(f"created: {', '.join(created) or 'none'}; already there: {', '.join(existing) or 'none'}")
    print(f"import-health record {mysql_db_health.IMPORT_LOG_TABLE}: {'created' if health else 'already there'}")
    for user, host in readers:
        print(f"granted SELECT on the tables Grafana charts to '{user}'@'{host}'")
    for user, host in granted:
        print(f"granted SELECT, INSERT, UPDATE on them to '{user}'@'{host}'")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
