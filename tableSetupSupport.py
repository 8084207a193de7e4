"""Creating the suite's tables and granting on them: what report-create-db-tables.py and
cal-create-db-tables.py (and the set-up steps of programs to come) share. Run as a user
that may create tables and grant, never as the importing user; never creates an account."""

import dataclasses

import mysql_db
import mysql_db_grafana
import mysql_db_health


IMPORT_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")


@dataclasses.dataclass
class SetupResult:
    created: list          # tables of the group created now
    existing: list         # tables of the group that were there already
    health_created: bool   # the import-health record, which every group needs
    importers: list        # (user, host) granted SELECT, INSERT, UPDATE
    readers: list          # (user, host) granted SELECT on the tables Grafana charts
    converted: list = dataclasses.field(default_factory=list)   # tables whose key now keeps distinct texts apart
    added_columns: list = dataclasses.field(default_factory=list)   # "table.column" added to older tables
    mapped: list = dataclasses.field(default_factory=list)     # tables the mapping files name, granted on too
    mapped_missing: list = dataclasses.field(default_factory=list)   # ... that do not exist (yet)
    deletes: list = dataclasses.field(default_factory=list)    # tables the importing user may DELETE from

    def lines(self):
        lines = [f"created: {', '.join(self.created) or 'none'}; already there: {', '.join(self.existing) or 'none'}",
                 f"import-health record {mysql_db_health.IMPORT_LOG_TABLE}: "
                 f"{'created' if self.health_created else 'already there'}"]
        if self.added_columns:
            lines.append(f"added columns an older version lacked: {', '.join(self.added_columns)}")
        lines += [f"converted {t}: its key merged texts differing in case, accents or trailing spaces; it keeps "
                  f"them apart now (rows merged by earlier loads stay merged until their files load again)"
                  for t in self.converted]
        if self.mapped:
            lines.append(f"tables the mapping names: {', '.join(self.mapped)}")
        if self.mapped_missing:
            lines.append(f"named in the mapping but not there, so not granted on: {', '.join(self.mapped_missing)} "
                         f"(make them, e.g. with check-report-schema.py --create-table, then run this again)")
        lines += [f"granted SELECT on the tables Grafana charts to '{u}'@'{h}'" for u, h in self.readers]
        lines += [f"granted SELECT, INSERT, UPDATE on them to '{u}'@'{h}'" for u, h in self.importers]
        if self.importers and self.deletes:
            lines.append(f"granted DELETE on {', '.join(self.deletes)} (their files replace their window) to "
                         + ", ".join(f"'{u}'@'{h}'" for u, h in self.importers))
        return lines


def set_up_tables(db, ddl_by_name, grant_to=None, grafana_user=None, after_create=None, mapped=None):
    """Create the tables of `ddl_by_name` and the import-health record where missing, add
    the columns an older version's tables lack, run `after_create(db)` (filling a mapping
    table, say), then grant: the importing account SELECT, INSERT, UPDATE on them and on
    every existing table `mapped(db)` names ({table: extra privileges, e.g. ("DELETE",)}),
    Grafana's reader SELECT on what it charts and on those tables (MySQL only). Safe to run
    again, after a table was added to a mapping say."""
    created = mysql_db.create_tables(db, ddl_by_name)
    health = mysql_db.create_tables(db, mysql_db_health.HEALTH_TABLES)
    added = mysql_db.add_missing_columns(db, {**ddl_by_name, **mysql_db_health.HEALTH_TABLES})
    if after_create:
        after_create(db)
    named = dict(mapped(db)) if mapped else {}
    present = {t: extra for t, extra in named.items() if db.table_exists(t)}
    converted = mysql_db.keep_keys_distinct(db, list(dict.fromkeys([*ddl_by_name, *present])))
    deletes = sorted(t for t, extra in present.items() if "DELETE" in extra)
    importers, readers = [], []
    if db.grants_apply:
        if grant_to:
            importers = mysql_db.grant_import_rights(db, grant_to, list(dict.fromkeys(
                [*ddl_by_name, *mysql_db_health.HEALTH_TABLES, *present])))
            if deletes:
                mysql_db.grant(db, importers, "DELETE", deletes)
        if grafana_user:
            readers = mysql_db.grant_read_rights(db, grafana_user, list(dict.fromkeys(
                [*mysql_db_grafana.GRAFANA_TABLES, *present])))
    return SetupResult(created, [t for t in ddl_by_name if t not in created], bool(health), importers, readers,
                       converted, added, sorted(present), sorted(t for t in named if t not in present), deletes)


def set_up(settings, user, password, ddl_by_name, grant_to=None, grafana_user=None, after_create=None, mapped=None):
    """set_up_tables on a connection of its own as `user` (the configured user when None)."""
    with mysql_db.connect(settings, user=user, password=password) as db:
        return set_up_tables(db, ddl_by_name, grant_to, grafana_user, after_create, mapped)


def add_grant_options(parser):
    """-u, --grant-to and --grafana-user, as every set-up script takes them."""
    parser.add_argument("-u", "--user", help="MySQL user that may create tables (default: the configured user)")
    parser.add_argument("--grant-to", metavar="NAME[@HOST]",
                        help="also grant SELECT, INSERT, UPDATE on them, and on every table the mapping file names, "
                             "to this existing MySQL account (NAME alone: every host it exists for); an account is "
                             "never created. Run again after adding a table to the mapping")
    parser.add_argument("--grafana-user", metavar="NAME[@HOST]",
                        help="also grant SELECT (only) on the tables Grafana charts and the tables the mapping names "
                             "to this existing MySQL account (never the API keys); an account is never created")
