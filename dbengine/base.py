"""The engine base: what every engine shares. Transactions (nested uses join the outer
one), a whole transaction run again when the server ended it through no fault of its
statements (after reconnecting, waiting a little for a restarting server), rows loaded
in batches as one transaction with every header name checked against the table first,
and exact counts of the rows whose key existed. The dialects fill in the SQL.

Loading rows (`Database.load_rows`): the table's columns are read from the server and
every header name is checked against them before anything is sent, so a CSV header can
never inject SQL; rows are upserted in multi-row batches; one call is one transaction
(a failure leaves the table as it was); a value that does not fit its column raises
ValueDoesNotFitError naming table, column, row number and value; rows are consumed as a
stream, so memory does not grow with the file.
"""

import contextlib
import dataclasses
import datetime as dt
import itertools
import logging
import random
import time

from dbengine.columns import merging_collation, value_problem
from utility import listed
from dbengine.errors import (DatabaseConnectionError, DatabaseConnectionLostError, DatabaseError,
                             DatabaseLoginError, InvalidColumnsError, MalformedRowError, MissingColumnsError,
                             NoSuchTableError, TransientDatabaseError, ValueDoesNotFitError)

log = logging.getLogger("mysql_db")

DEFAULT_BATCH_SIZE = 1000          # rows per upsert statement: small enough to overlap with the next one's making
# How often a transaction the server ended is run again, and the waits between (seconds):
# long enough for a restarting server to come back.
TRANSACTION_ATTEMPTS = 4
RECONNECT_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclasses.dataclass
class LoadResult:
    rows: int = 0
    inserted: int = 0         # rows whose key was new
    updated: int = 0          # rows whose key existed (their values overwritten)
    method: str = "upsert"    # "upsert", or "bulk" when LOAD DATA took the whole file
    sentinels: int = 0        # values the bulk load stored as a sentinel (bulk_load_csv's integer_sentinel)
    removed: int = 0          # rows deleted first: the window a file replaces held them

    def __iadd__(self, other):
        self.rows += other.rows
        self.inserted += other.inserted
        self.updated += other.updated
        self.removed += other.removed
        return self


class Database:
    """A connection to the suite's database, whichever engine: checked loading of rows
    (`load_rows`, `bulk_load_csv`), transactions (`transaction`, `run_transaction`, which
    runs one again when the server ended it), a few statements and queries, and the
    table's columns as the server declares them. Not shared between threads (see
    ConnectionPerThread); the dialects fill in the SQL. A context manager: `with
    mysql_db.connect(settings) as db:` closes it however the block ends.

    Where the engines differ, callers use a hook instead of testing `engine`:
    `now_seconds_sql` (the server's clock in SQL), `insert_if_missing` (a row made only
    when its key is not there yet), `grants_apply` (whether the engine has accounts to
    grant to), `table_options` (what CREATE TABLE adds)."""

    engine = None             # the dialect's name, for messages; callers use the hooks below
    placeholder = "%s"
    table_options = ""        # what CREATE TABLE adds after the columns
    now_seconds_sql = None    # SQL for the server's clock in seconds since 1970, UTC (fractional)
    grants_apply = False      # whether the engine has accounts and GRANT (MySQL), or none (SQLite)

    # Whether _insert_batch counts the rows whose key existed (MySQL: in the statement
    # itself); otherwise load_rows looks the keys up first (SQLite, one writer at a time).
    counts_existing_in_statement = False

    def __init__(self):
        self._transaction_depth = 0
        self._columns_cache = {}
        self._conn = None
        self.transactions_retried = 0
        self.closed = False

    def close(self):
        self.closed = True
        with contextlib.suppress(Exception):
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # engine hooks
    def _quote(self, name):
        raise NotImplementedError

    def table_ddl(self, ddl):
        """The CREATE TABLE statement this engine runs for the suite's plain `ddl`."""
        return ddl + self.table_options

    def column_ddl(self, definition):
        """A column's definition (from the suite's plain DDL) as this engine declares it."""
        return definition

    def forget_columns(self, table):
        """Read the table's columns afresh next time (after set-up changed them)."""
        self._columns_cache.pop(table, None)

    def quote(self, name):
        """An identifier (a table or column name already checked) quoted for this engine."""
        return self._quote(name)

    def _keep_existing_clause(self, table, columns):
        """What an INSERT of `columns` ends with so that a row whose key exists is left as
        it is (not INSERT IGNORE, which would also turn a value too long for its column into
        a warning and a truncated key)."""
        raise NotImplementedError

    def insert_if_missing(self, table, columns, values):
        """Insert one row unless its key is in `table` already (made by another program
        meanwhile, say), in which case that row is kept as it is. `columns` are names the
        caller wrote (never from a file); returns the rows inserted (0 or 1)."""
        names = ", ".join(self._quote(c) for c in columns)
        marks = ", ".join([self.placeholder] * len(columns))
        return self.execute(f"INSERT INTO {self._quote(table)} ({names}) VALUES ({marks}) "
                            f"{self._keep_existing_clause(table, columns)}", values)

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
                raise DatabaseError(f"loading {table}: column {listed([repr(h)])} named twice in the header")
            seen.add(h.lower())
        return [by_name[h.lower()] for h in header]

    def table_access(self, table, needed=("SELECT", "INSERT", "UPDATE")):
        """None when this user may do `needed` on `table`; otherwise what stands in the way:
        ("missing", []) the table does not exist; ("lacks", [privileges]) it exists and
        this user lacks those; ("unknown", [privileges]) this user has no grant on it at all,
        so cannot tell whether it exists. An engine without accounts has only "missing"."""
        return None if self.table_exists(table) else ("missing", [])

    def merging_key_columns(self, table):
        """[(column name, reason)] of the table's key columns whose collation makes distinct
        texts one key (see columns.merging_collation); [] when every key stays distinct."""
        found = []
        for column in self.table_columns(table):
            reason = merging_collation(column) if column.primary_key else None
            if reason:
                found.append((column.name, reason))
        return found

    def distinct_collation(self):
        """The collation that keeps every distinct text apart, where the engine has collations."""
        return None

    def keep_keys_distinct(self, table):
        """Make `table` compare its text by bytes, so distinct keys stay distinct (set-up,
        as a user that may ALTER). Nothing to do where texts are compared as bytes already."""

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
                    batch = self._stored_batch(batch, first, table, columns)
                    result.updated += self._count_existing(table, key_columns, key_positions, batch)
                    self._insert_batch(sql, batch, first, table, columns)
                    result.rows += len(batch)
        result.inserted = result.rows - result.updated
        log.debug("loaded %d rows into %s (%d new, %d existing)", result.rows, table, result.inserted, result.updated)
        return result

    def _stored_batch(self, batch, first_row_number, table, columns):
        """The batch as the engine stores it (an engine that checks values itself, SQLite,
        makes them what a strict MySQL server would store), before its keys are counted."""
        return batch

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


def now_text(precise=False):
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f" if precise else "%Y-%m-%d %H:%M:%S")
