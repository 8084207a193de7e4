"""MySQL's bulk path: a whole file (or a stream of rows through a named pipe) loaded by
LOAD DATA LOCAL INFILE inside a savepoint, kept only when the server had nothing to say,
else rolled back to the savepoint so the caller upserts (which names the row and column
at fault). LOAD DATA LOCAL reads only from the one folder the engine was given: a server
can otherwise ask the client for any file it likes."""

import contextlib
import csv
import itertools
import logging
import os
import threading
from errno import ENXIO

from dbengine.base import LoadResult
from dbengine.columns import INTEGER_SQL_REGEXP
from dbengine.mysql_literals import literal

log = logging.getLogger("mysql_db")


class MySQLBulkLoading:
    """The bulk path of MySQLDatabase (a mixin: it uses the engine's connection, its
    error mapping and `_local_infile_dir`)."""

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
                assigned.append(f"{self._quote(column.name)} = IF(@ix_v{n} REGEXP {literal(INTEGER_SQL_REGEXP)}, "
                                f"@ix_v{n}, (@ix_sentinels := @ix_sentinels + 1) * 0 + {int(integer_sentinel)})")
            else:
                targets.append(self._quote(column.name))
        names = ", ".join(targets)
        assigned += [f"{self._quote(columns[c.lower()].name)} = {literal(v)}" for c, v in constants.items()]
        assignments = ", ".join(assigned)
        if integer_sentinel is not None:
            self._call(lambda: self._conn.cmd_query("SET @ix_sentinels = 0"))
        if line_ending is None:
            with open(path, "rb") as f:
                line_ending = "\r\n" if f.readline().endswith(b"\r\n") else "\n"
        ending = "\\r\\n" if line_ending == "\r\n" else "\\n"
        sql = (f"LOAD DATA LOCAL INFILE {literal(path)} INTO TABLE {self._quote(table)} CHARACTER SET utf8mb4 "
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
                if self._ends_transaction(err):
                    # The server rolled back the whole transaction (or the connection is
                    # gone): there is no savepoint left; the caller runs it all again.
                    raise
                # LOAD DATA LOCAL switched off on the server, or the file refused: upsert.
                log.info("bulk load of %s not possible (%s); upserting instead", table, self._message(err))
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
