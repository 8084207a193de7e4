"""The SQLite dialect, the embedded engine (the only module that imports sqlite3): one
writer at a time, and every value made what a strict MySQL server stores, or refused as
it refuses it (dbengine.columns.stored_value), since SQLite stores whatever it is given."""

import re
import sqlite3

from dbengine.base import Database
from dbengine.columns import Column, Unfit, parse_type, stored_value
from dbengine.errors import DatabaseConnectionError, DatabaseError, NoSuchTableError, ValueDoesNotFitError

# A decimal column is made with TEXT affinity ("decimal text(24,8)"): with SQLite's own
# NUMERIC affinity, 1234567890123456.12345678 would be kept as a float, or an integer.
_DECIMAL_TYPE = re.compile(r"\b(decimal|numeric)\s*\(", re.IGNORECASE)
_DECIMAL_TEXT = re.compile(r"^\s*(decimal|numeric)\s+text\b", re.IGNORECASE)


class SQLiteDatabase(Database):
    """The embedded engine (a file, no server): the same interface and the same value
    checks a strict MySQL server makes, made here in Python; one writer at a time
    (BEGIN IMMEDIATE), so counting existing keys before each batch is exact."""

    engine = "sqlite"
    placeholder = "?"
    now_seconds_sql = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, path):
        super().__init__()
        self.path = str(path)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as err:
            raise DatabaseConnectionError(f"cannot open SQLite database {self.path}: {err}") from None

    def _quote(self, name):
        return '"' + name.replace('"', '""') + '"'

    def table_ddl(self, ddl):
        return _DECIMAL_TYPE.sub(lambda m: f"{m.group(1)} text(", ddl)

    def column_ddl(self, definition):
        return self.table_ddl(definition)

    def _keep_existing_clause(self, table, columns):
        return "ON CONFLICT DO NOTHING"

    def _begin(self):
        self._conn.execute("BEGIN IMMEDIATE")

    def _commit(self):
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def _rollback(self):
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _execute(self, sql, params):
        try:
            return self._conn.execute(_to_sqlite(sql), tuple(params)).rowcount
        except sqlite3.Error as err:
            raise DatabaseError(f"SQLite error: {err}") from None

    def _fetch(self, sql, params):
        try:
            return self._conn.execute(_to_sqlite(sql), tuple(params)).fetchall()
        except sqlite3.Error as err:
            raise DatabaseError(f"SQLite error: {err}") from None

    def execute_script(self, statements):
        for statement in statements:
            self._execute(statement, ())

    def table_columns(self, table):
        if table not in self._columns_cache:
            rows = self._conn.execute(f"PRAGMA table_info({self._quote(table)})").fetchall()
            if not rows:
                raise NoSuchTableError(table)
            columns = []
            for _, name, declared, notnull, default, pk in rows:
                kind, length, precision, scale, unsigned = parse_type(_DECIMAL_TEXT.sub(r"\1", declared or ""))
                columns.append(Column(name=name, data_type=kind, nullable=not notnull and not pk,
                                      primary_key=bool(pk), has_default=default is not None or not notnull,
                                      max_length=length, precision=precision, scale=scale, unsigned=unsigned))
            self._columns_cache[table] = columns
        return self._columns_cache[table]

    def _upsert_sql(self, table, columns, key_columns):
        names = [self._quote(c.name) for c in columns]
        sql = f"INSERT INTO {self._quote(table)} ({', '.join(names)}) VALUES ({', '.join(['?'] * len(names))})"
        keys = {k.name.lower() for k in key_columns}
        if key_columns and keys <= {c.name.lower() for c in columns}:
            updates = [f"{n}=excluded.{n}" for c, n in zip(columns, names) if c.name.lower() not in keys]
            target = ", ".join(self._quote(k.name) for k in key_columns)
            sql += f" ON CONFLICT({target}) DO " + (f"UPDATE SET {', '.join(updates)}" if updates else "NOTHING")
        return sql

    def _stored_batch(self, batch, first_row_number, table, columns):
        # SQLite stores what it is given whatever the declared type, so the values a strict
        # MySQL server would store are made here, and what it refuses is refused.
        stored = []
        for offset, row in enumerate(batch):
            values = []
            for column, value in zip(columns, row):
                try:
                    values.append(stored_value(column, value))
                except Unfit as refused:
                    raise ValueDoesNotFitError(table, column.name, first_row_number + offset, value,
                                               str(refused)) from None
            stored.append(tuple(values))
        return stored

    def _insert_batch(self, sql, batch, first_row_number, table, columns):
        try:
            self._conn.executemany(sql, batch)
        except sqlite3.Error as err:
            raise DatabaseError(f"loading {table}, rows {first_row_number}-{first_row_number + len(batch) - 1}: "
                                f"SQLite error: {err}") from None


def _to_sqlite(sql):
    """Our few hand-written statements use %s placeholders; SQLite wants ?."""
    return sql.replace("%s", "?")
