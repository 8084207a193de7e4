"""The database layer: with mysql_db_reporting.py and mysql_db_cal.py (the suite's tables
and the queries on them), the only modules that speak SQL.

Two engines behind one interface: MySQL/MariaDB (production, mysql-connector-python) and
SQLite (stdlib, the embedded default for machines without a MySQL server). connect()
picks one from settings.

Loading rows (`Database.load_rows`): the table's columns are read from the server and
every header name is checked against them before anything is sent, so a CSV header can
never inject SQL; rows are upserted in multi-row batches; one call is one transaction
(a failure leaves the table as it was); a value that does not fit its column raises
ValueDoesNotFitError naming table, column, row number and value; rows are consumed as a
stream, so memory does not grow with the file.
"""

import contextlib
import csv
import dataclasses
import datetime as dt
import itertools
import logging
import os
import queue
import random
import re
import sqlite3
import threading
import time
from errno import ENXIO

from errors import ConfigurationError, SuiteError

log = logging.getLogger("mysql_db")

DEFAULT_BATCH_SIZE = 1000          # rows per upsert statement: small enough to overlap with the next one's making
# Galera's refusals of a transaction too big for one write set, by the setting at fault.
WRITE_SET_LIMITS = {"wsrep_max_ws_rows": "wsrep_max_ws_rows exceeded", "wsrep_max_ws_size": "Maximum writeset size"}
STATEMENTS_AHEAD = 2          # upsert statements made ahead of the server (each some 200 KB at 1,000 rows)
STRICT_SQL_MODE = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
# Server errors that mean "this value does not fit this column".
MYSQL_DATA_ERRORS = {1048, 1263, 1264, 1265, 1292, 1366, 1406, 1411}
# Deadlock (a Galera certification failure too) and lock wait timeout.
MYSQL_DEADLOCK_ERRORS = {1205, 1213}
# Server gone, lost mid-query, killed, or disconnected for inactivity.
MYSQL_LOST_CONNECTION_ERRORS = {2006, 2013, 2055, 1927, 4031}
# Access denied for the user, to the database, unknown database.
MYSQL_LOGIN_ERRORS = {1044, 1045, 1049, 1698}
# A command or table this user may not use: the wrong user was configured or given.
MYSQL_PERMISSION_ERRORS = {1142, 1143, 1227}
# How often a transaction the server ended is run again, and the waits between (seconds):
# long enough for a restarting server to come back.
TRANSACTION_ATTEMPTS = 4
RECONNECT_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)
_SERVER_COLUMN_AT_ROW = re.compile(r"column [`']?(?:[^`']*[`']\.[`'])*([^`'.]+)[`']? at row (\d+)")


class DatabaseError(SuiteError):
    """The database refused or failed an operation."""


class DatabaseConnectionError(DatabaseError):
    """No connection to the database server (down, unreachable): tried again next run."""


class DatabaseLoginError(DatabaseConnectionError):
    """The server refused the user, its password or the database: a configuration error."""
    exit_code = 2


class DatabasePermissionError(DatabaseError):
    """The user may not do this (DELETE, CREATE, a table): a configuration error."""
    exit_code = 2


class TransientDatabaseError(DatabaseError):
    """The server ended the transaction through no fault of its statements: the connection
    was lost, or it was rolled back for a deadlock or a lock wait timeout. Worth running
    the whole transaction again (Database.run_transaction does, boundedly)."""


class DatabaseConnectionLostError(TransientDatabaseError):
    """The connection went away mid-work (server restarted, network blip, killed)."""


class DatabaseDeadlockError(TransientDatabaseError):
    """Deadlock or lock wait timeout (also a Galera certification failure, 1213)."""


class MissingColumnsError(DatabaseError):
    """Rows lack columns the table needs to tell them apart (its primary key)."""

    def __init__(self, table, missing, what=None):
        super().__init__(f"{what or 'rows for ' + table} lack{'s' if what else ''} "
                         f"{', '.join(missing)} (part of the primary key of {table}); nothing of it was loaded")
        self.table, self.missing = table, list(missing)


class NoSuchTableError(DatabaseError):
    exit_code = 2

    def __init__(self, table):
        super().__init__(f"table {table} does not exist (or this user may not see it)")
        self.table = table


class InvalidColumnsError(DatabaseError):
    def __init__(self, table, unknown, known):
        super().__init__(f"table {table} has no column {', '.join(repr(c) for c in unknown)}; "
                         f"its columns: {', '.join(known)}")
        self.table, self.unknown = table, list(unknown)


class MalformedRowError(DatabaseError):
    def __init__(self, table, row_number, expected, got):
        super().__init__(f"loading {table}: row {row_number} has {got} fields, the header has {expected}")
        self.table, self.row_number = table, row_number


class ValueDoesNotFitError(DatabaseError):
    def __init__(self, table, column, row_number, value, reason):
        shown = value if value is None or len(str(value)) <= 80 else str(value)[:77] + "..."
        super().__init__(f"loading {table}: row {row_number}, column {column}: value {shown!r} does not fit ({reason})")
        self.table, self.column, self.row_number, self.value = table, column, row_number, value


@dataclasses.dataclass
class Column:
    name: str
    data_type: str            # lower case: int, bigint, varchar, decimal, datetime...
    nullable: bool = True
    primary_key: bool = False
    has_default: bool = False
    max_length: int = None    # characters, for char/varchar/text
    precision: int = None     # decimal digits in all, for decimal
    scale: int = None         # decimal digits after the point
    unsigned: bool = False

    @property
    def is_integer(self):
        return self.data_type in INTEGER_TYPES


@dataclasses.dataclass
class LoadResult:
    rows: int = 0
    inserted: int = 0         # rows whose key was new
    updated: int = 0          # rows whose key existed (their values overwritten)
    method: str = "upsert"    # "upsert", or "bulk" when LOAD DATA took the whole file
    sentinels: int = 0        # values the bulk load stored as a sentinel (bulk_load_csv's integer_sentinel)

    def __iadd__(self, other):
        self.rows += other.rows
        self.inserted += other.inserted
        self.updated += other.updated
        return self


# --- value checks, shared by both engines -------------------------------------------------

_INT_RANGES = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
INTEGER_TYPES = frozenset(_INT_RANGES)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:([0-9]*)\.?([0-9]*))")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?")


def value_problem(column, value):
    """Why `value` (a string or None) does not fit `column`, or None when it fits."""
    if value is None:
        if not column.nullable and not column.has_default:
            return "column is NOT NULL"
        return None
    kind = column.data_type
    if kind in _INT_RANGES:
        if not _INTEGER.fullmatch(value):
            return f"not an integer, column is {kind}"
        bits = _INT_RANGES[kind]
        low, high = (0, 2 ** bits - 1) if column.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not low <= int(value) <= high:
            return f"out of range for {kind}{' unsigned' if column.unsigned else ''}"
        return None
    if kind in ("decimal", "numeric"):
        match = _DECIMAL.fullmatch(value)
        if not match or not (match.group(1) or match.group(2)):
            return f"not a decimal number, column is decimal({column.precision},{column.scale})"
        whole = match.group(1).lstrip("0")
        if column.precision is not None and len(whole) > column.precision - (column.scale or 0):
            return f"too many digits for decimal({column.precision},{column.scale})"
        return None   # extra fractional digits are rounded, as MySQL does
    if kind in ("float", "double", "real"):
        try:
            float(value)
        except ValueError:
            return f"not a number, column is {kind}"
        return None
    if kind in ("char", "varchar", "tinytext", "text", "mediumtext"):
        if column.max_length is not None and len(value) > column.max_length:
            return f"{len(value)} characters, column is {kind}({column.max_length})"
        return None
    if kind in ("date", "datetime", "timestamp"):
        if not _DATETIME.fullmatch(value):
            return f"not a date/time (YYYY-MM-DD[ HH:MM:SS]), column is {kind}"
        try:
            dt.date.fromisoformat(value[:10])
            if len(value) > 10:
                dt.time.fromisoformat(value[11:19] if len(value) >= 19 else value[11:16])
        except ValueError:
            return f"not a valid date/time, column is {kind}"
        if kind == "date" and len(value) > 10 and value[10:].strip("0: T"):
            return "has a time of day, column is date"
        return None
    return None


def _parse_type(declared):
    """(data_type, max_length, precision, scale, unsigned) from a declared SQL type."""
    text = declared.strip().lower()
    match = re.match(r"([a-z]+)\s*(?:\(\s*([0-9]+)\s*(?:,\s*([0-9]+)\s*)?\))?\s*(unsigned)?", text)
    if not match:
        return text or "text", None, None, None, False
    kind, first, second, unsigned = match.groups()
    first = int(first) if first else None
    second = int(second) if second else None
    if kind in ("char", "varchar"):
        return kind, first, None, None, bool(unsigned)
    if kind in ("decimal", "numeric"):
        return kind, None, first or 10, second or 0, bool(unsigned)
    lengths = {"tinytext": 255, "text": 65535, "mediumtext": 16777215}
    return kind, lengths.get(kind), None, None, bool(unsigned)


# --- the interface ------------------------------------------------------------------------

class Database:
    """A connection to the suite's database, whichever engine: checked loading of rows
    (`load_rows`, `bulk_load_csv`), transactions (`transaction`, `run_transaction`, which
    runs one again when the server ended it), a few statements and queries, and the
    table's columns as the server declares them. Not shared between threads (see
    ConnectionPerThread); the engines below fill in the SQL."""

    engine = None
    placeholder = "%s"
    table_options = ""        # what CREATE TABLE adds after the columns

    # Whether _insert_batch counts the rows whose key existed (MySQL: in the statement
    # itself); otherwise load_rows looks the keys up first (SQLite, one writer at a time).
    counts_existing_in_statement = False

    def __init__(self):
        self._transaction_depth = 0
        self._columns_cache = {}
        self._conn = None
        self.transactions_retried = 0

    def close(self):
        with contextlib.suppress(Exception):
            self._conn.close()

    # engine hooks
    def _quote(self, name):
        raise NotImplementedError

    def table_columns(self, table):
        raise NotImplementedError

    def _upsert_sql(self, table, columns, key_columns):
        raise NotImplementedError

    def _insert_batch(self, sql, batch, first_row_number, table, columns):
        raise NotImplementedError

    # shared
    def table_exists(self, table):
        try:
            self.table_columns(table)
            return True
        except NoSuchTableError:
            return False

    def run_transaction(self, work, what="transaction", attempts=TRANSACTION_ATTEMPTS, sleep=time.sleep):
        """work() in one transaction; returns what it returns. When the server ends the
        transaction through no fault of its statements (connection lost, deadlock, lock
        wait timeout), the whole of it is run again, up to `attempts` times in all, after
        reconnecting when needed. work must be safe to run again: it re-reads its input.
        Inside a caller's transaction it runs once (the caller's retry covers it)."""
        if self._transaction_depth:
            return work()
        for attempt in itertools.count(1):
            try:
                with self.transaction():
                    return work()
            except TransientDatabaseError as err:
                if attempt >= attempts:
                    raise
                self.transactions_retried += 1
                log.info("%s: %s; running it again (attempt %d of %d)", what, err, attempt + 1, attempts)
                if isinstance(err, DatabaseConnectionLostError):
                    self._reconnect(sleep)
                else:
                    sleep(random.uniform(0.05, 0.2) * attempt)
                    if not self._alive():      # a conflict can leave the connection unusable
                        self._reconnect(sleep)

    def _reconnect(self, sleep):
        """A new connection, waiting a little for a restarting server; DatabaseConnectionError
        when it does not come back."""
        for wait in RECONNECT_WAITS:
            try:
                self.reconnect()
                return
            except DatabaseLoginError:
                raise
            except DatabaseConnectionError as err:
                failure = err
                sleep(wait)
        raise failure

    def reconnect(self):
        raise NotImplementedError

    def _alive(self):
        return True

    galera = False     # a node of a Galera cluster (MySQLDatabase finds out when it connects)

    def refuse_beyond_write_set(self, rows, what):
        """On a Galera node whose wsrep_max_ws_rows is set: a load of `rows` rows (one
        transaction, one write set) that it cannot hold is refused before anything is
        sent, naming the setting; the server would refuse it mid-way anyway."""
        if not self.galera:
            return
        limit = int(self.fetch_all("SELECT @@GLOBAL.wsrep_max_ws_rows")[0][0] or 0)
        if limit and rows > limit:
            raise DatabaseError(f"{what}: {rows} rows is more than one Galera write set may hold "
                                f"(wsrep_max_ws_rows = {limit}); refused before loading, nothing changed. Raise "
                                f"wsrep_max_ws_rows on every node (0 means no limit)")

    @contextlib.contextmanager
    def transaction(self):
        """One transaction; nested uses join the outer one. Rolls back on any error."""
        if self._transaction_depth:
            self._transaction_depth += 1
            try:
                yield
            finally:
                self._transaction_depth -= 1
            return
        self._begin()
        self._transaction_depth = 1
        try:
            yield
        except BaseException:
            self._transaction_depth = 0
            self._rollback()
            raise
        self._transaction_depth = 0
        self._commit()

    def _checked_columns(self, table, header):
        """The table's Column objects for each header name; unknown names are an error."""
        by_name = {c.name.lower(): c for c in self.table_columns(table)}
        unknown = [h for h in header if h.lower() not in by_name]
        if unknown:
            raise InvalidColumnsError(table, unknown, [c.name for c in by_name.values()])
        seen = set()
        for h in header:
            if h.lower() in seen:
                raise DatabaseError(f"loading {table}: column {h!r} named twice in the header")
            seen.add(h.lower())
        return [by_name[h.lower()] for h in header]

    def missing_columns(self, table, names):
        """The `names` that `table` has no column for (compared without case)."""
        have = {c.name.lower() for c in self.table_columns(table)}
        return [n for n in names if n.lower() not in have]

    def missing_key_columns(self, table, names):
        """The columns of `table`'s primary key that `names` lacks."""
        lowered = {n.lower() for n in names}
        return [c.name for c in self.table_columns(table) if c.primary_key and c.name.lower() not in lowered]

    def load_rows(self, table, header, rows, constants=None, batch_size=DEFAULT_BATCH_SIZE):
        """Upsert `rows` (sequences of strings or None, in `header` order) into `table`.

        `constants` ({column: value}) are added to every row (publisher_id, say). Row
        numbers in errors count data rows from 1. All of it is one transaction. Rows
        lacking a column of the table's primary key are refused (MissingColumnsError),
        since they would overwrite each other. Inserted/updated counts are exact even
        while another program loads the same table: a row counts as updated when its
        key was in the table (or earlier in this load) at the moment it was written.
        """
        constants = dict(constants or {})
        names = list(header) + list(constants)
        columns = self._checked_columns(table, names)
        missing = self.missing_key_columns(table, names)
        if missing:
            raise MissingColumnsError(table, missing)
        key_columns = [c for c in self.table_columns(table) if c.primary_key]
        sql = self._upsert_sql(table, columns, key_columns)
        width = len(header)
        suffix = tuple(None if v is None else str(v) for v in constants.values())
        for column, value in zip(columns[width:], suffix):
            problem = value_problem(column, value)
            if problem:
                raise ValueDoesNotFitError(table, column.name, 1, value, problem)
        key_positions = _key_positions(names, key_columns)
        result = LoadResult()
        batches = _batches(rows, width, suffix, batch_size, table)
        with self.transaction():
            if self.counts_existing_in_statement:
                self._reset_existing_count()
                result.rows = self._upsert_batches(sql, batches, table, columns)
                result.updated = self._existing_count() if key_columns else 0
            else:
                for first, batch in batches:
                    result.updated += self._count_existing(table, key_columns, key_positions, batch)
                    self._insert_batch(sql, batch, first, table, columns)
                    result.rows += len(batch)
        result.inserted = result.rows - result.updated
        log.debug("loaded %d rows into %s (%d new, %d existing)", result.rows, table, result.inserted, result.updated)
        return result

    def _upsert_batches(self, sql, batches, table, columns):
        """Write every (first row number, batch); returns the rows written."""
        written = 0
        for first, batch in batches:
            self._insert_batch(sql, batch, first, table, columns)
            written += len(batch)
        return written

    def _count_existing(self, table, key_columns, key_positions, batch):
        """How many rows of the batch hit a key already in the table or earlier in the batch.

        Keys of earlier batches of this load are in the table already (same transaction),
        so nothing is remembered across batches and memory stays flat.
        """
        if not key_positions:
            return 0
        if len(key_positions) == 1:
            position = key_positions[0]
            keys = {row[position] for row in batch}
        else:
            keys = {tuple(row[p] for p in key_positions) for row in batch}
        found = self._count_keys_present(table, key_columns, keys) if keys else 0
        # Each distinct key not yet present is one insert; every other row updates.
        return len(batch) - (len(keys) - found)

    def _count_keys_present(self, table, key_columns, keys):
        """How many of the distinct `keys` (strings, or tuples of strings) the table holds."""
        quoted = ", ".join(self._quote(k.name) for k in key_columns)
        keys = list(keys)
        single = len(key_columns) == 1
        tuple_sql = self.placeholder if single else "(" + ", ".join([self.placeholder] * len(key_columns)) + ")"
        present = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            sql = (f"SELECT COUNT(*) FROM {self._quote(table)} WHERE ({quoted}) IN "
                   f"({', '.join([tuple_sql] * len(chunk))})")
            params = chunk if single else [v for k in chunk for v in k]
            present += int(self._fetch(sql, params)[0][0])
        return present

    def any_key_present(self, table, header, rows, constants=None):
        """Whether any of `rows` (a few, in `header` order) has a key the table holds."""
        constants = dict(constants or {})
        names = list(header) + list(constants)
        key_columns = [c for c in self.table_columns(table) if c.primary_key]
        positions = _key_positions(names, key_columns)
        if not positions or not rows:
            return False
        suffix = tuple(str(v) for v in constants.values())
        batch = [tuple(row) + suffix for row in rows if len(row) == len(header)]
        return self._count_existing(table, key_columns, positions, batch) > 0

    bulk_load_folder = None     # the folder bulk loads may read from (none: no bulk loads)

    def bulk_load_csv(self, table, path, header, constants=None, line_ending=None, skip=(), integer_sentinel=None):
        """Load a whole plain CSV file at the server's own speed when that is safe;
        None when this engine or server cannot, or when the file needs the upsert path."""
        return None

    def bulk_load_rows(self, table, header, rows, constants=None):
        """Load `rows` (sequences of strings, never None) at the server's own speed when
        that is safe; None, with nothing loaded, when this engine or server cannot or the
        rows need the upsert path."""
        return None

    def fetch_all(self, sql, params=()):
        return self._fetch(sql, params)

    def execute(self, sql, params=()):
        """One statement in its own transaction (or the caller's); returns rows changed."""
        with self.transaction():
            return self._execute(sql, params)

    def execute_script(self, statements):
        """DDL, statement by statement (table creation runs as a user that may)."""
        for statement in statements:
            self._execute(statement, ())
        self._commit()


def _key_positions(names, key_columns):
    """Where each primary-key column stands among `names`; [] when the key is not all there
    (then every row is a new one)."""
    lowered = [n.lower() for n in names]
    positions = [lowered.index(k.name.lower()) for k in key_columns if k.name.lower() in lowered]
    return positions if len(positions) == len(key_columns) else []


# --- MySQL / MariaDB ----------------------------------------------------------------------

class MySQLDatabase(Database):
    """MySQL or MariaDB through mysql-connector-python's C extension: UTC, strict sql_mode,
    utf8mb4. Every driver error becomes one of this module's typed errors (a lost
    connection and a deadlock are TransientDatabaseError, which run_transaction retries);
    reconnect() replaces a lost connection in place."""

    engine = "mysql"
    counts_existing_in_statement = True
    # Explicit, whatever the database's default: on a latin1 database a site name such
    # as 'Łódź Daily 🎉' would otherwise not fit, and its file stay pending forever.
    table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"

    def __init__(self, host, port, user, password, database, connect_timeout=10, local_infile_dir=None,
                 tls=None):
        super().__init__()
        import mysql.connector  # imported here so that SQLite users need no MySQL library
        self._connector = mysql.connector
        # The C extension raises its own MySQLInterfaceError from commit() and rollback(),
        # which is not a mysql.connector.Error.
        try:
            from _mysql_connector import MySQLError as InterfaceError
        except ImportError:
            InterfaceError = mysql.connector.Error
        self._driver_errors = (mysql.connector.Error, InterfaceError)
        self.database = database
        self._where = f"{user}@{host}:{port}, database {database}"
        # LOAD DATA LOCAL only from this one folder: a server can otherwise ask the client
        # for any file it likes.
        self._local_infile_dir = os.path.realpath(local_infile_dir) if local_infile_dir else None
        local = {"allow_local_infile": False}
        if self._local_infile_dir:
            local["allow_local_infile_in_path"] = self._local_infile_dir
        self._connect_options = dict(
            host=host, port=int(port), user=user, password=password, database=database,
            charset="utf8mb4", collation="utf8mb4_general_ci", autocommit=False,
            time_zone="+00:00", sql_mode=STRICT_SQL_MODE, connection_timeout=connect_timeout,
            use_pure=False, **local, **(tls or {}))
        self._conn = self._open()
        log.debug("connected to MySQL %s:%s as %s (%s)", host, port, user, type(self._conn).__name__)

    def _open(self):
        try:
            conn = self._connector.connect(**self._connect_options)
        except self._driver_errors as err:
            errno, message = _errno_and_message(err)
            kind = DatabaseLoginError if errno in MYSQL_LOGIN_ERRORS else DatabaseConnectionError
            raise kind(f"cannot connect to MySQL as {self._where}: {message}") from None
        self.galera = self._wait_for_causality(conn)
        return conn

    def _wait_for_causality(self, conn):
        """On a Galera node, make every read wait until this node has applied what the
        other nodes committed before it (wsrep_sync_wait=1): a pending file, a lease or a
        spec written through another node is then seen. True when the server is one."""
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT @@wsrep_on")
            (on,) = cursor.fetchone()
            if on:
                cursor.execute("SET SESSION wsrep_sync_wait = 1")
            cursor.close()
            conn.rollback()
            return bool(on)
        except self._driver_errors:      # not MariaDB/Galera: no such variable
            with contextlib.suppress(*self._driver_errors):
                conn.rollback()
            return False

    def _global_setting(self, name):
        try:
            cursor = self._conn.cursor()
            cursor.execute(f"SELECT @@GLOBAL.{name}")
            (value,) = cursor.fetchone()
            cursor.close()
            return value
        except Exception:  # the connection may be gone with the transaction: the name is enough
            return "its current value"

    def reconnect(self):
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = self._open()
        self._transaction_depth = 0
        log.info("reconnected to MySQL as %s", self._where)

    def _typed(self, err, what):
        """The suite's error for a driver error: deadlocks and lost connections are
        transient (worth running the transaction again), the rest a DatabaseError."""
        errno, message = _errno_and_message(err)
        text = f"{what}: MySQL error {errno}: {message}" if what else f"MySQL error {errno}: {message}"
        if errno in MYSQL_DEADLOCK_ERRORS:
            return DatabaseDeadlockError(text)
        limit = next((name for name, words in WRITE_SET_LIMITS.items() if words in message), None)
        if limit:
            return DatabaseError(f"{what + ': ' if what else ''}too big for one Galera write set ({limit} = "
                                 f"{self._global_setting(limit)}); nothing of it was kept. Raise {limit} on every "
                                 f"node (SET GLOBAL {limit} = ...; 0 means no limit for wsrep_max_ws_rows)")
        if errno in MYSQL_LOST_CONNECTION_ERRORS or not self._alive() or (errno == -1 and "not available" in message):
            # (-1, "Connection not available": the connector gave up on a connection whose
            # statement the server aborted mid-transfer, e.g. a Galera conflict during LOAD DATA.)
            return DatabaseConnectionLostError(text)
        if errno in MYSQL_LOGIN_ERRORS:
            return DatabaseLoginError(text)
        if errno in MYSQL_PERMISSION_ERRORS:
            return DatabasePermissionError(text)
        return DatabaseError(text)

    def _alive(self):
        try:
            return self._conn.is_connected()
        except Exception:  # asking can fail the same way; then it is not
            return False

    def _call(self, action, what=None):
        """action() with driver errors turned into typed ones."""
        try:
            return action()
        except self._driver_errors as err:
            raise self._typed(err, what) from None

    def _quote(self, name):
        return "`" + name.replace("`", "``") + "`"

    def _begin(self):
        # End any implicit read snapshot; then a clean transaction.
        self._call(self._conn.rollback, "starting a transaction")

    def _commit(self):
        self._call(self._conn.commit, "committing")

    def _rollback(self):
        with contextlib.suppress(Exception):
            self._conn.rollback()

    def _cursor_call(self, sql, params, fetch):
        cursor = self._call(self._conn.cursor)
        try:
            cursor.execute(sql, tuple(params))
            return cursor.fetchall() if fetch else cursor.rowcount
        finally:
            cursor.close()

    def _execute(self, sql, params):
        return self._call(lambda: self._cursor_call(sql, params, fetch=False))

    def _fetch(self, sql, params):
        try:
            return self._call(lambda: self._cursor_call(sql, params, fetch=True))
        finally:
            if not self._transaction_depth:
                # A read outside a transaction must not hold a snapshot that hides later
                # writes of other programs from this long-lived connection.
                self._rollback()

    def fetch_named(self, sql, params=()):
        """(column names, rows) of a read-only query (a dashboard panel's)."""
        def query():
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql, tuple(params))
                return [d[0] for d in cursor.description], cursor.fetchall()
            finally:
                cursor.close()
        try:
            return self._call(query)
        finally:
            if not self._transaction_depth:
                self._rollback()

    def fetch_all(self, sql, params=()):
        """Rows of a query; a query outside a transaction survives one lost connection."""
        if self._transaction_depth:
            return self._fetch(sql, params)
        try:
            return self._fetch(sql, params)
        except DatabaseConnectionLostError:
            self._reconnect(time.sleep)
            return self._fetch(sql, params)

    def execute(self, sql, params=()):
        """One statement in its own transaction (run again if the server ended it), or in
        the caller's; returns rows changed."""
        return self.run_transaction(lambda: self._execute(sql, params), what="statement")

    def _reset_existing_count(self):
        self._call(lambda: self._conn.cmd_query("SET @ix_existing = 0"))

    def _existing_count(self):
        return int(self._fetch("SELECT @ix_existing", ())[0][0] or 0)

    def table_columns(self, table):
        if table not in self._columns_cache:
            rows = self._fetch(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, COLUMN_DEFAULT, EXTRA, "
                "CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (table,))
            if not rows:
                raise NoSuchTableError(table)
            columns = []
            for name, column_type, nullable, key, default, extra, char_length in rows:
                column_type = column_type.decode() if isinstance(column_type, bytes) else column_type
                kind, length, precision, scale, unsigned = _parse_type(column_type)
                extra = extra.decode() if isinstance(extra, bytes) else (extra or "")
                columns.append(Column(
                    name=name, data_type=kind, nullable=nullable == "YES", primary_key=key == "PRI",
                    has_default=default is not None or "auto_increment" in extra or nullable == "YES",
                    max_length=char_length if char_length is not None else length,
                    precision=precision, scale=scale, unsigned=unsigned))
            self._columns_cache[table] = columns
        return self._columns_cache[table]

    def _upsert_sql(self, table, columns, key_columns):
        names = [self._quote(c.name) for c in columns]
        keys = {k.name.lower() for k in key_columns}
        assigned = [(n, f"VALUES({n})") for c, n in zip(columns, names) if c.name.lower() not in keys]
        if not assigned:   # only key columns: a duplicate changes nothing
            assigned = [(names[0], names[0])]
        # The UPDATE clause runs once for each row whose key exists at the moment it is
        # written, so a counter bumped there gives exact insert/update counts without a
        # second query, even while another program writes the same keys.
        target, value = assigned[0]
        assigned[0] = (target, f"IF((@ix_existing := @ix_existing + 1) > 0, {value}, {value})")
        updates = [f"{n}={v}" for n, v in assigned]
        # One multi-row statement per batch, its values written as literals by
        # _row_literal: the connector's executemany spends more time rewriting and
        # converting than the server spends storing (measured in run-benchmarks.py).
        return (f"INSERT INTO {self._quote(table)} ({', '.join(names)}) VALUES ",
                f" ON DUPLICATE KEY UPDATE {', '.join(updates)}")

    def _insert_batch(self, sql, batch, first_row_number, table, columns):
        prefix, suffix = sql
        self._send_batch(prefix + _rows_literal(batch) + suffix, batch, first_row_number, table, columns)

    def _send_batch(self, statement, batch, first_row_number, table, columns):
        try:
            self._conn.cmd_query(statement)
        except self._driver_errors as err:
            raise self._explain(err, batch, first_row_number, table, columns) from None

    def _upsert_batches(self, sql, batches, table, columns):
        """As the base class, but the next statements' text (reading and checking rows,
        writing literals: Python's work) is made in a thread while this one waits for the
        server (the C extension lets go of the GIL meanwhile). At most STATEMENTS_AHEAD
        statements wait, so memory stays flat."""
        prefix, suffix = sql
        ready = queue.Queue(maxsize=STATEMENTS_AHEAD)
        halt = threading.Event()

        def put(item):
            while not halt.is_set():
                try:
                    ready.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def build():
            try:
                for first, batch in batches:
                    if not put((first, batch, prefix + _rows_literal(batch) + suffix)):
                        return
                put(None)
            except BaseException as err:  # raised in the loading thread, as if it had read the rows
                put(err)

        builder = threading.Thread(target=build, name="statement-builder", daemon=True)
        builder.start()
        written = 0
        try:
            while True:
                item = ready.get()
                if item is None:
                    return written
                if isinstance(item, BaseException):
                    raise item
                first, batch, statement = item
                self._send_batch(statement, batch, first, table, columns)
                written += len(batch)
        finally:
            halt.set()
            builder.join()

    @property
    def bulk_load_folder(self):
        """The folder bulk loads may read from; None when they are not allowed."""
        return self._local_infile_dir

    def bulk_load_csv(self, table, path, header, constants=None, line_ending=None, skip=(), integer_sentinel=None):
        """LOAD DATA LOCAL INFILE of the whole file, kept only if the server had nothing to
        say: any warning (a key already there, a value that does not fit, a short row)
        rolls it back to a savepoint and the caller takes the upsert path, which names
        the row and column at fault. Rounding of extra decimal places is not a warning.
        `line_ending` ("\n" or "\r\n") when known, else read from the file's first line
        (a pipe being written as it loads must be given it: it can be read only once).
        Header names in `skip` are not loaded. With `integer_sentinel`, a value of an
        integer column that is not an integer is stored as that sentinel by the statement
        itself, and the result's `sentinels` counts them."""
        if not self._local_infile_dir or not self._transaction_depth:
            return None
        path = os.path.realpath(path)
        if os.path.dirname(path) != self._local_infile_dir and \
                not path.startswith(self._local_infile_dir + os.sep):
            return None
        constants = dict(constants or {})
        skipped = {name.lower() for name in skip}
        loaded = [h for h in header if h.lower() not in skipped]
        columns = {c.name.lower(): c for c in self._checked_columns(table, loaded + list(constants))}
        targets, assigned = [], []
        for n, name in enumerate(header):
            column = columns.get(name.lower()) if name.lower() not in skipped else None
            if column is None:
                targets.append("@ix_skip")
            elif integer_sentinel is not None and column.is_integer:
                # The same test as the upsert path's (an optional sign, then ASCII digits).
                targets.append(f"@ix_v{n}")
                assigned.append(f"{self._quote(column.name)} = IF(@ix_v{n} REGEXP '^[+-]?[0-9]+\\\\z', @ix_v{n}, "
                                f"(@ix_sentinels := @ix_sentinels + 1) * 0 + {int(integer_sentinel)})")
            else:
                targets.append(self._quote(column.name))
        names = ", ".join(targets)
        assigned += [f"{self._quote(columns[c.lower()].name)} = {_literal(v)}" for c, v in constants.items()]
        assignments = ", ".join(assigned)
        if integer_sentinel is not None:
            self._call(lambda: self._conn.cmd_query("SET @ix_sentinels = 0"))
        if line_ending is None:
            with open(path, "rb") as f:
                line_ending = "\r\n" if f.readline().endswith(b"\r\n") else "\n"
        ending = "\\r\\n" if line_ending == "\r\n" else "\\n"
        sql = (f"LOAD DATA LOCAL INFILE {_literal(path)} INTO TABLE {self._quote(table)} CHARACTER SET utf8mb4 "
               f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
               f"LINES TERMINATED BY '{ending}' IGNORE 1 LINES ({names})"
               + (f" SET {assignments}" if assignments else ""))
        result = self._call(lambda: self._bulk_load(table, sql), f"bulk loading {table}")
        if result is not None and integer_sentinel is not None:
            result.sentinels = int(self._fetch("SELECT @ix_sentinels", ())[0][0] or 0)
        return result

    def bulk_load_rows(self, table, header, rows, constants=None):
        """LOAD DATA LOCAL of `rows` streamed through a named pipe in the load folder as a
        thread makes them, so making them and the server's loading overlap and memory stays
        flat. Kept only when every row went in without a warning (as bulk_load_csv); None,
        with nothing loaded, otherwise. A failure making the rows is raised, nothing loaded."""
        if not self._local_infile_dir or not self._transaction_depth:
            return None
        pipe = os.path.join(self._local_infile_dir, f".rows-{os.getpid()}-{threading.get_ident()}.csv")
        os.mkfifo(pipe, 0o600)
        writer = _PipeWriter(pipe, header, rows)
        self._call(lambda: self._conn.cmd_query("SAVEPOINT ix_stream"))
        writer.start()
        try:
            result = self.bulk_load_csv(table, pipe, header, constants, line_ending="\n")
        finally:
            writer.finish()
            os.unlink(pipe)
        if writer.error is not None or (result is not None and (not writer.complete or result.rows != writer.rows)):
            # The rows stopped short (their source failed, or the server stopped reading):
            # what went in is taken back, so the rows load whole or not at all.
            self._call(lambda: self._conn.cmd_query("ROLLBACK TO SAVEPOINT ix_stream"))
            if writer.error is not None:
                raise writer.error
            log.debug("streamed load of %s stopped after %d rows; upserting instead", table, writer.rows)
            return None
        self._call(lambda: self._conn.cmd_query("RELEASE SAVEPOINT ix_stream"))
        return result

    def _bulk_load(self, table, sql):
        cursor = self._conn.cursor()
        try:
            cursor.execute("SAVEPOINT ix_bulk_load")
            cursor.execute("SET SESSION sql_notes = 0")
            try:
                cursor.execute(sql)
                loaded, warnings = cursor.rowcount, cursor.warning_count
            except self._driver_errors as err:
                errno, message = _errno_and_message(err)
                if errno in MYSQL_DEADLOCK_ERRORS or errno in MYSQL_LOST_CONNECTION_ERRORS or not self._alive():
                    # The server rolled back the whole transaction (or the connection is
                    # gone): there is no savepoint left; the caller runs it all again.
                    raise
                # LOAD DATA LOCAL switched off on the server, or the file refused: upsert.
                log.info("bulk load of %s not possible (%s); upserting instead", table, message)
                self._local_infile_dir = None
                cursor.execute("ROLLBACK TO SAVEPOINT ix_bulk_load")
                cursor.execute("SET SESSION sql_notes = 1")
                return None
            cursor.execute("SET SESSION sql_notes = 1")
            if warnings:
                log.debug("bulk load of %s had %d warnings; upserting instead", table, warnings)
                cursor.execute("ROLLBACK TO SAVEPOINT ix_bulk_load")
                return None
            cursor.execute("RELEASE SAVEPOINT ix_bulk_load")
            log.debug("bulk loaded %d rows into %s", loaded, table)
            return LoadResult(rows=loaded, inserted=loaded, updated=0, method="bulk")
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def _count_keys_present(self, table, key_columns, keys):
        quoted = ", ".join(self._quote(k.name) for k in key_columns)
        single = len(key_columns) == 1
        literals = [_literal(k) if single else _row_literal(k) for k in keys]
        present = 0
        for start in range(0, len(literals), 2000):
            rows = self._fetch(f"SELECT COUNT(*) FROM {self._quote(table)} WHERE ({quoted}) IN "
                               f"({','.join(literals[start:start + 2000])})", ())
            present += int(rows[0][0])
        return present

    def _explain(self, err, batch, first_row_number, table, columns):
        """Turn a server error on a batch into one that names row, column and value."""
        errno, message = _errno_and_message(err)
        rows = f"loading {table}, rows {first_row_number}-{first_row_number + len(batch) - 1}"
        if errno in MYSQL_DATA_ERRORS:
            match = _SERVER_COLUMN_AT_ROW.search(message)
            if match:
                name, index = match.group(1), int(match.group(2)) - 1
                positions = [i for i, c in enumerate(columns) if c.name.lower() == name.lower()]
                if positions and 0 <= index < len(batch):
                    return ValueDoesNotFitError(table, columns[positions[0]].name, first_row_number + index,
                                                batch[index][positions[0]], message)
            located = _first_problem(batch, columns, first_row_number, table)
            if located:
                return located
        return self._typed(err, rows)


def _errno_and_message(err):
    """(errno, message) of either driver error class."""
    errno = getattr(err, "errno", None)
    message = getattr(err, "msg", None) or (err.args[0] if err.args and isinstance(err.args[0], str) else str(err))
    return errno, message


# MySQL string literals, for a session without NO_BACKSLASH_ESCAPES (we set sql_mode
# ourselves): backslash, quote, NUL and Ctrl-Z are escaped; the rest, newlines and all
# UTF-8, may stand as it is.
_SEPARATOR = "\x1f"


def _escape(text):
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "'" in text:
        text = text.replace("'", "\\'")
    if "\x00" in text:
        text = text.replace("\x00", "\\0")
    if "\x1a" in text:
        text = text.replace("\x1a", "\\Z")
    return text


def _literal(value):
    if value is None:
        return "NULL"
    return "'" + _escape(str(value)) + "'"


def _row_literal(row):
    """('v1','v2',...) for a row of strings; escaping the joined row at once is several
    times faster than value by value."""
    try:
        joined = _SEPARATOR.join(row)
    except TypeError:            # a None or a number among the values
        return "(" + ",".join(map(_literal, row)) + ")"
    if joined.count(_SEPARATOR) != len(row) - 1:
        return "(" + ",".join(map(_literal, row)) + ")"
    return "('" + _escape(joined).replace(_SEPARATOR, "','") + "')"


_ROW_SEPARATOR = "\x1e"


def _rows_literal(batch):
    """('v1','v2',...),(...) for a batch of rows of strings: the whole batch joined and
    escaped at once (a third faster than row by row); row by row when a value is not a
    string or holds a separator."""
    try:
        joined = _ROW_SEPARATOR.join([_SEPARATOR.join(row) for row in batch])
    except TypeError:            # a None or a number among the values
        return ",".join(map(_row_literal, batch))
    if joined.count(_SEPARATOR) != sum(len(row) - 1 for row in batch) or \
            joined.count(_ROW_SEPARATOR) != len(batch) - 1:
        return ",".join(map(_row_literal, batch))
    return "('" + _escape(joined).replace(_SEPARATOR, "','").replace(_ROW_SEPARATOR, "'),('") + "')"


def _first_problem(batch, columns, first_row_number, table):
    for offset, row in enumerate(batch):
        for column, value in zip(columns, row):
            problem = value_problem(column, value)
            if problem:
                return ValueDoesNotFitError(table, column.name, first_row_number + offset, value, problem)
    return None


# --- SQLite -------------------------------------------------------------------------------

def _batches(rows, width, suffix, batch_size, table):
    """(first row number, [row tuples with `suffix` added]) of at most `batch_size` rows;
    a row whose field count is not `width` is a MalformedRowError naming it."""
    row_number = 0
    iterator = iter(rows)
    while True:
        batch = []
        for row in itertools.islice(iterator, batch_size):
            row_number += 1
            if len(row) != width:
                raise MalformedRowError(table, row_number, width, len(row))
            batch.append(tuple(row) + suffix if suffix else tuple(row))
        if not batch:
            return
        yield row_number - len(batch) + 1, batch


class _PipeWriter(threading.Thread):
    """Writes a header and rows as CSV (every value quoted, so the word NULL stays a
    string) into a named pipe that LOAD DATA LOCAL reads; stops when told, and when the
    reader goes away."""

    CHUNK = 1000

    def __init__(self, pipe, header, rows):
        super().__init__(name="pipe-writer", daemon=True)
        self.pipe, self.header, self.rows_source = pipe, header, rows
        self.rows = 0
        self.complete = False
        self.error = None
        self._halt = threading.Event()

    def run(self):
        # Opened without blocking, again and again until the server opens its end, so
        # that a statement refused before reading never leaves this thread stuck.
        while True:
            try:
                fd = os.open(self.pipe, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as err:
                if err.errno != ENXIO or self._halt.wait(0.002):
                    return
        os.set_blocking(fd, True)
        try:
            with open(fd, "w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
                writer.writerow(self.header)
                iterator = iter(self.rows_source)
                while not self._halt.is_set():
                    chunk = list(itertools.islice(iterator, self.CHUNK))
                    if not chunk:
                        self.complete = True
                        break
                    writer.writerows(chunk)
                    self.rows += len(chunk)
        except BrokenPipeError:
            self.complete = False
        except Exception as err:  # the rows' source failed: raised by the loading thread
            self.error = err

    def finish(self):
        """After the statement: stop writing, and unblock a write the server will not read."""
        self._halt.set()
        with contextlib.suppress(OSError):
            os.close(os.open(self.pipe, os.O_RDONLY | os.O_NONBLOCK))
        self.join()


class SQLiteDatabase(Database):
    """The embedded engine (a file, no server): the same interface and the same value
    checks a strict MySQL server makes, made here in Python; one writer at a time
    (BEGIN IMMEDIATE), so counting existing keys before each batch is exact."""

    engine = "sqlite"
    placeholder = "?"

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
                kind, length, precision, scale, unsigned = _parse_type(declared or "")
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

    def _insert_batch(self, sql, batch, first_row_number, table, columns):
        # SQLite stores what it is given whatever the declared type, so the checks a
        # strict MySQL server makes are made here.
        located = _first_problem(batch, columns, first_row_number, table)
        if located:
            raise located
        try:
            self._conn.executemany(sql, batch)
        except sqlite3.Error as err:
            raise DatabaseError(f"loading {table}, rows {first_row_number}-{first_row_number + len(batch) - 1}: "
                                f"SQLite error: {err}") from None


def _to_sqlite(sql):
    """Our few hand-written statements use %s placeholders; SQLite wants ?."""
    return sql.replace("%s", "?")


# --- set-up: tables and grants ----------------------------------------------------------

def create_tables(db, ddl_by_name):
    """Create the tables that do not exist yet; returns the names created."""
    created = []
    for name, ddl in ddl_by_name.items():
        if db.table_exists(name):
            continue
        db.execute_script([ddl + db.table_options])
        created.append(name)
    return created


_ACCOUNT = re.compile(r"([A-Za-z0-9_.\-]{1,80})(?:@([A-Za-z0-9_.%:\-]{1,255}))?")


def existing_accounts(db, account, option="--grant-to"):
    """[(user, host)] for `account` ("NAME" or "NAME@HOST") that exist on the server.
    NAME alone means every host NAME exists for. An account that does not exist is a
    ConfigurationError: the suite never creates one (a GRANT to a missing account makes
    it, with no password, on MariaDB)."""
    match = _ACCOUNT.fullmatch(account or "")
    if not match:
        raise ConfigurationError(f"{option}: {account!r} is not NAME or NAME@HOST (a plain MySQL account)")
    user, host = match.groups()
    try:
        hosts = [h.decode() if isinstance(h, bytes) else h
                 for (h,) in db.fetch_all("SELECT Host FROM mysql.user WHERE User = %s", (user,))]
    except DatabaseError as err:
        raise ConfigurationError(f"{option}: cannot check that the account {user} exists ({err}); "
                                 f"run this as a user that may read mysql.user") from None
    if host is not None:
        hosts = [h for h in hosts if h == host]
    if not hosts:
        named = f"'{user}'@'{host}'" if host is not None else f"'{user}'"
        raise ConfigurationError(
            f"{option}: the MySQL account {named} does not exist, and this program never creates one; "
            f"create it first: CREATE USER '{user}'@'{host or 'HOST'}' IDENTIFIED BY '...'")
    return [(user, h) for h in hosts]


def grant(db, accounts, privileges, tables):
    """GRANT `privileges` on `tables` to existing `accounts`; the session refuses to create
    an account implicitly (NO_AUTO_CREATE_USER; MySQL 8 never does)."""
    with contextlib.suppress(DatabaseError):      # MySQL 8 has no such mode, and needs none
        db.execute_script(["SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_CREATE_USER')"])
    for user, host in accounts:
        for table in tables:
            db.execute_script([f"GRANT {privileges} ON {db._quote(table)} TO {_literal(user)}@{_literal(host)}"])


def grant_import_rights(db, account, tables):
    """Give the importing account what the import path needs, and no more; returns the
    accounts granted to."""
    accounts = existing_accounts(db, account)
    grant(db, accounts, "SELECT, INSERT, UPDATE", tables)
    return accounts


def grant_read_rights(db, account, tables):
    """SELECT only, on those of `tables` that exist, for a reading account (Grafana's);
    returns the accounts granted to."""
    accounts = existing_accounts(db, account, option="--grafana-user")
    grant(db, accounts, "SELECT", [t for t in tables if db.table_exists(t)])
    return accounts


def now_text(precise=False):
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f" if precise else "%Y-%m-%d %H:%M:%S")



# --- choosing an engine -------------------------------------------------------------------

def connect(settings, user=None, password=None, local_infile_dir=None):
    """A Database from settings: MySQL by default, SQLite when PROGSALESDBENGINE=sqlite.

    `user`/`password` override the importing user's, for the table-creating steps.
    `local_infile_dir` lets MySQL bulk-load files of that folder (unless
    PROGSALESMYSQLLOCALINFILE=off).
    """
    if settings.get("PROGSALESDBENGINE") == "sqlite":
        return SQLiteDatabase(settings.sqlite_path())
    return MySQLDatabase(
        host=settings.get("PROGSALESMYSQLHOSTNAME"), port=settings.integer("PROGSALESMYSQLPORT"),
        user=user or settings.require("PROGSALESMYSQLUSERNAME"),
        password=password if password is not None else settings.require("PROGSALESMYSQLPASSWORD"),
        database=settings.get("PROGSALESMYSQLDATABASE"),
        local_infile_dir=local_infile_dir if settings.get("PROGSALESMYSQLLOCALINFILE") != "off" else None,
        tls=tls_options(settings))


def tls_options(settings):
    """The connector's TLS options from PROGSALESMYSQLTLS: `on` requires TLS and, unless the
    host is this machine, verifies the server's certificate and name (against
    PROGSALESMYSQLTLSCA, or the system's CAs)."""
    mode = settings.get("PROGSALESMYSQLTLS")
    if mode == "off":
        return {"ssl_disabled": True}
    if mode == "auto":
        return {}
    options = {"ssl_disabled": False}
    if not settings.is_local_host("PROGSALESMYSQLHOSTNAME"):
        import ssl
        ca = settings.get("PROGSALESMYSQLTLSCA") or ssl.get_default_verify_paths().cafile \
            or "/etc/ssl/certs/ca-certificates.crt"
        if not os.path.isfile(ca):
            raise ConfigurationError(f"PROGSALESMYSQLTLS=on: no CA file {ca} to verify the server with "
                                     f"(set PROGSALESMYSQLTLSCA)")
        options.update(ssl_ca=ca, ssl_verify_cert=True, ssl_verify_identity=True)
    return options


class ConnectionPerThread:
    """A database connection for each worker thread (connections are not thread-safe)."""

    def __init__(self, settings, local_infile_dir=None):
        self._settings = settings
        self._local_infile_dir = local_infile_dir
        self._local = threading.local()
        self._all = []
        self._lock = threading.Lock()

    def get(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self._settings, local_infile_dir=self._local_infile_dir)
            with self._lock:
                self._all.append(db)
        return db

    def transactions_retried(self):
        """Transactions run again so far, over every thread's connection."""
        with self._lock:
            return sum(db.transactions_retried for db in self._all)

    def close(self):
        for db in self._all:
            db.close()
