"""The MySQL/MariaDB dialect, through mysql-connector-python's C extension (the only
module that imports the driver): UTC sessions, strict sql_mode, utf8mb4, every driver
error turned into one of dbengine.errors' kinds, the upsert statement with its exact
insert/update count, statements made ahead in a thread, and Galera's causality wait."""

import contextlib
import logging
import os
import queue
import re
import threading
import time

from dbengine.base import Database
from dbengine.columns import DISTINCT_KEY_COLLATIONS, Column, first_problem, parse_type
from dbengine.errors import (DatabaseConnectionError, DatabaseConnectionLostError, DatabaseDeadlockError,
                             DatabaseError, DatabaseLoginError, DatabasePermissionError, DatabaseReadOnlyError,
                             NoSuchTableError,
                             ValueDoesNotFitError)
from dbengine.mysql_bulk import MySQLBulkLoading
from dbengine.mysql_literals import literal, row_literal, rows_literal

log = logging.getLogger("mysql_db")

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
# The server takes no writes: --read-only (1290), a table read only (1036).
MYSQL_READ_ONLY_ERRORS = {1290, 1036}
# A statement bigger than max_allowed_packet (the server then closes the connection).
MYSQL_PACKET_TOO_LARGE = 1153
# Access denied for the user, to the database, unknown database.
MYSQL_LOGIN_ERRORS = {1044, 1045, 1049, 1698}
# A command or table this user may not use: the wrong user was configured or given.
MYSQL_PERMISSION_ERRORS = {1142, 1143, 1227}
_SERVER_COLUMN_AT_ROW = re.compile(r"column [`']?(?:[^`']*[`']\.[`'])*([^`'.]+)[`']? at row (\d+)")


class MySQLDatabase(MySQLBulkLoading, Database):
    """MySQL or MariaDB through mysql-connector-python's C extension: UTC, strict sql_mode,
    utf8mb4. Every driver error becomes one of dbengine.errors' kinds (a lost
    connection and a deadlock are TransientDatabaseError, which run_transaction retries);
    reconnect() replaces a lost connection in place."""

    engine = "mysql"
    counts_existing_in_statement = True
    now_seconds_sql = "UNIX_TIMESTAMP(NOW(6))"
    grants_apply = True

    @property
    def table_options(self):
        """Explicit, whatever the database's default: utf8mb4, or on a latin1 database a site
        name such as 'Łódź Daily 🎉' would not fit and its file stay pending forever; and a
        binary collation that pads nothing, or deals 'IX-abc' and 'IX-ABC' would be one key
        and one deal's figures overwrite the other's."""
        return f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={self.distinct_collation()}"

    def distinct_collation(self):
        """The server's utf8mb4 collation that keeps every distinct text distinct (MariaDB:
        utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin); utf8mb4_bin on older servers, which
        still take trailing spaces as padding."""
        if self._distinct_collation is None:
            names = {row[0] for row in self._fetch(
                "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (%s, %s)",
                DISTINCT_KEY_COLLATIONS)}
            self._distinct_collation = next((n for n in DISTINCT_KEY_COLLATIONS if n in names), "utf8mb4_bin")
        return self._distinct_collation

    def table_access(self, table, needed=("SELECT", "INSERT", "UPDATE")):
        granted = self.privileges_on(table)
        lacking = [p for p in needed if p not in granted]
        if self.table_exists(table):
            return ("lacks", lacking) if lacking else None
        # A user sees only the tables it has a grant on: with none on this one, whether it
        # exists cannot be told; with the database's privileges, it truly does not.
        return ("missing", []) if not lacking else ("unknown", lacking)

    def privileges_on(self, table):
        """The privileges this user holds on `table` (globally, on the database, or on it)."""
        rows = self._fetch(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = @ix_grantee "
            "UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES "
            "  WHERE GRANTEE = @ix_grantee AND TABLE_SCHEMA = DATABASE() "
            "UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES "
            "  WHERE GRANTEE = @ix_grantee AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (table,)) if self._set_grantee() else []
        return {row[0].upper() for row in rows}

    def _set_grantee(self):
        """@ix_grantee: this user as information_schema names grantees ('user'@'host')."""
        self._call(lambda: self._conn.cmd_query(
            "SET @ix_grantee = CONCAT(\"'\", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), \"'@'\", "
            "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), \"'\")"))
        return True

    def keep_keys_distinct(self, table):
        self._columns_cache.pop(table, None)
        self.execute_script([f"ALTER TABLE {self._quote(table)} CONVERT TO CHARACTER SET utf8mb4 "
                             f"COLLATE {self.distinct_collation()}"])

    def __init__(self, host, port, user, password, database, connect_timeout=10, local_infile_dir=None,
                 tls=None):
        super().__init__()
        self._distinct_collation = None
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
        self._max_allowed_packet = self._server_packet_limit(conn)
        # Room for the protocol's own bytes around a statement.
        self._max_statement_bytes = max(4096, self._max_allowed_packet - 4096)
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

    def _server_packet_limit(self, conn):
        """The largest statement the server takes (max_allowed_packet), in bytes."""
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT @@max_allowed_packet")
            (limit,) = cursor.fetchone()
            cursor.close()
            conn.rollback()
            return int(limit)
        except self._driver_errors:     # not expected; the smallest default a server has
            return 1 << 20

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
        if errno == MYSQL_PACKET_TOO_LARGE:
            # Not a lost connection to retry: the same statement would be refused again.
            return DatabaseError(f"{text}; raise max_allowed_packet on the server (now "
                                 f"{self._max_allowed_packet:,} bytes)")
        if errno in MYSQL_LOST_CONNECTION_ERRORS or not self._alive() or (errno == -1 and "not available" in message):
            # (-1, "Connection not available": the connector gave up on a connection whose
            # statement the server aborted mid-transfer, e.g. a Galera conflict during LOAD DATA.)
            return DatabaseConnectionLostError(text)
        if errno in MYSQL_READ_ONLY_ERRORS:
            return DatabaseReadOnlyError(text)
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

    def _keep_existing_clause(self, table, columns):
        first = self._quote(columns[0])
        return f"ON DUPLICATE KEY UPDATE {first} = {first}"

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
                "CHARACTER_MAXIMUM_LENGTH, COLLATION_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (table,))
            if not rows:
                raise NoSuchTableError(table)
            columns = []
            for name, column_type, nullable, key, default, extra, char_length, collation in rows:
                column_type = column_type.decode() if isinstance(column_type, bytes) else column_type
                kind, length, precision, scale, unsigned = parse_type(column_type)
                extra = extra.decode() if isinstance(extra, bytes) else (extra or "")
                columns.append(Column(
                    name=name, data_type=kind, nullable=nullable == "YES", primary_key=key == "PRI",
                    has_default=default is not None or "auto_increment" in extra or nullable == "YES",
                    max_length=char_length if char_length is not None else length,
                    precision=precision, scale=scale, unsigned=unsigned, collation=collation))
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
        # mysql_literals: the connector's executemany spends more time rewriting and
        # converting than the server spends storing (measured in run-benchmarks.py).
        return (f"INSERT INTO {self._quote(table)} ({', '.join(names)}) VALUES ",
                f" ON DUPLICATE KEY UPDATE {', '.join(updates)}")

    def _insert_batch(self, sql, batch, first_row_number, table, columns):
        prefix, suffix = sql
        for first, rows, statement in self._statements(prefix, suffix, first_row_number, batch, table):
            self._send_batch(statement, rows, first, table, columns)

    def _statements(self, prefix, suffix, first, batch, table):
        """(first row number, rows, statement) for a batch: one statement, or several when
        the batch's text is longer than the server takes in one packet (long text values:
        batches are counted in rows). A single row longer than that is an error naming it."""
        statement = prefix + rows_literal(batch) + suffix
        # Characters are 1 to 4 bytes: only a statement that may be too long is measured.
        if len(statement) * 4 <= self._max_statement_bytes or \
                len(statement.encode("utf-8")) <= self._max_statement_bytes:
            yield first, batch, statement
            return
        if len(batch) == 1:
            raise DatabaseError(f"loading {table}: row {first} is {len(statement.encode('utf-8')):,} bytes as SQL, "
                                f"more than the server takes in one statement (max_allowed_packet = "
                                f"{self._max_allowed_packet:,}); raise max_allowed_packet on the server")
        half = len(batch) // 2
        yield from self._statements(prefix, suffix, first, batch[:half], table)
        yield from self._statements(prefix, suffix, first + half, batch[half:], table)

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
                    for statement in self._statements(prefix, suffix, first, batch, table):
                        if not put(statement):
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

    def _count_keys_present(self, table, key_columns, keys):
        quoted = ", ".join(self._quote(k.name) for k in key_columns)
        single = len(key_columns) == 1
        literals = [literal(k) if single else row_literal(k) for k in keys]
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
            located = first_problem(batch, columns, first_row_number, table)
            if located:
                return located
        return self._typed(err, rows)

    def _ends_transaction(self, err):
        """Whether a driver error means the server rolled back the whole transaction (or
        the connection is gone): then no savepoint is left to go back to."""
        errno, _ = _errno_and_message(err)
        return errno in MYSQL_DEADLOCK_ERRORS or errno in MYSQL_LOST_CONNECTION_ERRORS or not self._alive()

    @staticmethod
    def _message(err):
        return _errno_and_message(err)[1]


def _errno_and_message(err):
    """(errno, message) of either driver error class."""
    errno = getattr(err, "errno", None)
    message = getattr(err, "msg", None) or (err.args[0] if err.args and isinstance(err.args[0], str) else str(err))
    return errno, message
