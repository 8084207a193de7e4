"""Creating the suite's tables and granting on them: what report-create-db-tables.py and
cal-create-db-tables.py (and the set-up steps of programs to come) share. Run as a user
that may create tables and grant, never as the importing user; never creates an account."""

import dataclasses

import mysql_db
import mysql_db_grafana
import mysql_db_health


@dataclasses.dataclass
class SetupResult:
    created: list          # tables of the group created now
    existing: list         # tables of the group that were there already
    health_created: bool   # the import-health record, which every group needs
    importers: list        # (user, host) granted SELECT, INSERT, UPDATE
    readers: list          # (user, host) granted SELECT on the tables Grafana charts
    converted: list = dataclasses.field(default_factory=list)   # tables whose key now keeps distinct texts apart

    def lines(self):
        lines = [f"created: {', '.join(self.created) or 'none'}; already there: {', '.join(self.existing) or 'none'}",
                 f"import-health record {mysql_db_health.IMPORT_LOG_TABLE}: "
                 f"{'created' if self.health_created else 'already there'}"]
        lines += [f"converted {t}: its key merged texts differing in case, accents or trailing spaces; it keeps "
                  f"them apart now (rows merged by earlier loads stay merged until their files load again)"
                  for t in self.converted]
        lines += [f"granted SELECT on the tables Grafana charts to '{u}'@'{h}'" for u, h in self.readers]
        lines += [f"granted SELECT, INSERT, UPDATE on them to '{u}'@'{h}'" for u, h in self.importers]
        return lines


def set_up_tables(db, ddl_by_name, grant_to=None, grafana_user=None, after_create=None):
    """Create the tables of `ddl_by_name` and the import-health record where missing, run
    `after_create(db)` (filling a mapping table, say), then grant: the importing account
    SELECT, INSERT, UPDATE on them, Grafana's SELECT on what it charts (MySQL only)."""
    created = mysql_db.create_tables(db, ddl_by_name)
    health = mysql_db.create_tables(db, mysql_db_health.HEALTH_TABLES)
    converted = mysql_db.keep_keys_distinct(db, list(ddl_by_name))
    if after_create:
        after_create(db)
    importers, readers = [], []
    if db.grants_apply:
        if grant_to:
            importers = mysql_db.grant_import_rights(db, grant_to, list(ddl_by_name) +
                                                     list(mysql_db_health.HEALTH_TABLES))
        if grafana_user:
            readers = mysql_db.grant_read_rights(db, grafana_user, mysql_db_grafana.GRAFANA_TABLES)
    return SetupResult(created, [t for t in ddl_by_name if t not in created], bool(health), importers, readers,
                       converted)


def set_up(settings, user, password, ddl_by_name, grant_to=None, grafana_user=None, after_create=None):
    """set_up_tables on a connection of its own as `user` (the configured user when None)."""
    with mysql_db.connect(settings, user=user, password=password) as db:
        return set_up_tables(db, ddl_by_name, grant_to, grafana_user, after_create)


def add_grant_options(parser):
    """-u, --grant-to and --grafana-user, as every set-up script takes them."""
    parser.add_argument("-u", "--user", help="MySQL user that may create tables (default: the configured user)")
    parser.add_argument("--grant-to", metavar="NAME[@HOST]",
                        help="also grant SELECT, INSERT, UPDATE on them to this existing MySQL account (NAME alone: "
                             "every host it exists for); an account is never created")
    parser.add_argument("--grafana-user", metavar="NAME[@HOST]",
                        help="also grant SELECT (only) on the tables Grafana charts to this existing MySQL account "
                             "(never the API keys); an account is never created")
