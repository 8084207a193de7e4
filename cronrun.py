"""The one shape of every cron program's run (index-exchange-to-db.py, cal-downloads.py,
and those to come): a program is its own checks and steps on this skeleton.

    class MyRun(CronRun):
        folder_prefix = "ix-mine-"
        summary_class = MySummary
        def check(self, db): ...     # everything checkable before the first call out
        def steps(self, db): ...     # the work

CronRun.run() validates the options (a copy: the caller's are never changed), makes the
run's private scratch folder (removing those of dead runs), opens a database connection
per worker thread, records the run's start in prog_ix_import_log (the import-health
record), opens an HTTP client unless one was given, runs check() then steps(), completes
the record (exit code, counts, problems) and closes everything however it ends. The summary's exit_code is the script's: 0 complete,
1 something failed or is pending, 130 interrupted; errors raised before the work are
the scripts' to turn into one line (2 for configuration).
"""

import contextlib
import dataclasses
import logging
import os
import threading
import time
import uuid

import importHealthSupport
import monitoringSupport
import mysql_db
import mysql_db_health
import readwrite
from errors import ConfigurationError, SuiteError
from httpclient import HttpClient
from utility import Tally, cut_to_bytes

log = logging.getLogger("cronrun")

EXIT_COMPLETE, EXIT_INCOMPLETE, EXIT_CONFIGURATION, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclasses.dataclass
class RunSummary(Tally):
    """What a run did: counters the program declares, problems (each logged once, as it
    happens), the time taken, and whether it was interrupted."""
    interrupted: bool = False
    interrupt_code: int = EXIT_INTERRUPTED      # 130 for Ctrl-C, 143 for SIGTERM
    seconds: float = 0.0
    # Transactions the database ended through no fault of theirs (a conflict with another
    # node or program, a lost connection) and that were run again whole.
    transactions_retried: int = 0
    # Credentials a server refused (a token, a key): a configuration error, exit 2, not a
    # failure the next run picks up.
    credentials_refused: int = 0

    title = "Summary"

    @property
    def complete(self):
        """Everything done; programs say what "done" means."""
        raise NotImplementedError

    @property
    def exit_code(self):
        if self.interrupted:
            return self.interrupt_code
        if self.credentials_refused:
            return EXIT_CONFIGURATION
        return EXIT_COMPLETE if self.complete else EXIT_INCOMPLETE

    def lines(self):
        """The program's own summary lines (indented two spaces)."""
        raise NotImplementedError

    def health_counts(self):
        """{column of prog_ix_import_log: count} for what this program counts."""
        return {}

    def text(self):
        retried = ([f"  database transactions run again after a conflict or lost connection: "
                    f"{self.transactions_retried}"] if self.transactions_retried else [])
        return "\n".join([self.title, *self.lines(), *retried, f"  time taken: {self.seconds:.1f} s",
                          *self.problems_line()])


class CronRun:
    """One run of a cron program (see the module's docstring). Subclasses set
    `folder_prefix` and `summary_class`, may set `bulk_load_from_folder` (LOAD DATA LOCAL
    allowed from the scratch folder, and from nowhere else), and write `check` and `steps`;
    `before_connecting` checks settings without any I/O."""

    folder_prefix = "ix-run-"
    summary_class = RunSummary
    bulk_load_from_folder = False
    health_record_required = True       # False: recorded only when prog_ix_import_log exists

    program = "cron program"

    def __init__(self, settings, options, http=None, arguments=""):
        self.settings = settings
        self.options = options
        self.http = http
        self.arguments = arguments          # the command line, as the import-health record shows it
        self.run_id = uuid.uuid4().hex
        self.summary = self.summary_class()
        self.stopping = threading.Event()    # set on Ctrl-C: workers stop at their next step
        self.folder = None
        self.connections = None
        self.resources = contextlib.ExitStack()   # what check/steps open, closed before the connections

    def run(self):
        started = time.monotonic()
        self.options = self.options.validated()
        self.before_connecting()
        monitoring = monitoringSupport.Monitoring(self.settings, self.program)
        monitoring.started_run()
        try:
            return self._run(started, monitoring)
        except BaseException as err:
            if not monitoring.ended:        # failed before its end was told (no database, say)
                code, problems = self._outcome(err)
                monitoring.ended_run(code, problems, self.summary.health_counts())
            raise

    def _run(self, started, monitoring):
        own_http = self.http is None
        with readwrite.run_folder(self.folder_prefix) as self.folder:
            self.connections = mysql_db.ConnectionPerThread(
                self.settings, local_infile_dir=self.folder if self.bulk_load_from_folder else None)
            try:
                db = self.connections.get()
                self._open_health_record(db)
                failure = None
                try:
                    self.check(db)
                    if own_http:
                        self.http = HttpClient.from_settings(self.settings, pool_size=self.http_pool_size())
                    self.steps(db)
                except BaseException as err:
                    failure = err
                # What check/steps opened is closed before the record is completed, so a
                # failure closing it (a reportID database that cannot be saved) is the
                # run's outcome in the record too, as it is the process's exit code.
                try:
                    self.resources.close()
                except BaseException as err:
                    failure = failure or err
                self.summary.seconds = time.monotonic() - started
                self.summary.transactions_retried = self.connections.transactions_retried()
                code, problems = self._outcome(failure)
                self._close_health_record(db, code, problems)
                monitoring.ended_run(code, problems, self.summary.health_counts())
                if failure is not None:
                    raise failure
            finally:
                try:
                    self.resources.close()
                finally:
                    self.connections.close()
                if own_http and self.http is not None:
                    self.http.close()
                    self.http = None
        return self.summary

    def check_only(self):
        """--check: the options, the settings and what check() looks at, then stop: no
        health record, no call to any server."""
        self.options = self.options.validated()
        self.before_connecting()
        self.connections = mysql_db.ConnectionPerThread(self.settings)
        try:
            self.check(self.connections.get())
        finally:
            try:
                self.resources.close()
            finally:
                self.connections.close()

    def _open_health_record(self, db):
        """The run's row in prog_ix_import_log, from its start: a run killed mid-way stays
        visible as unfinished."""
        if not db.table_exists(mysql_db_health.IMPORT_LOG_TABLE):
            if not self.health_record_required:
                self.run_id = None
                return
            raise ConfigurationError(f"table {mysql_db_health.IMPORT_LOG_TABLE} (the import-health record) does not "
                                     f"exist: create it with report-create-db-tables.py or cal-create-db-tables.py")
        lacking = db.missing_columns(mysql_db_health.IMPORT_LOG_TABLE, ["pid", "rows_removed"])
        if lacking:
            raise ConfigurationError(f"table {mysql_db_health.IMPORT_LOG_TABLE} was made by an older version (no "
                                     f"{', '.join(lacking)} column): run report-create-db-tables.py again as the "
                                     f"admin to add it")
        importHealthSupport.settle_earlier_runs(db, self.settings)
        mysql_db_health.open_run(db, self.run_id, self.program, importHealthSupport.this_host(), os.getpid(),
                                 self.arguments)

    def _outcome(self, failure):
        """(exit code, problem lines) of the run, as the process ends it."""
        if failure is None:
            code = self.summary.exit_code
        elif isinstance(failure, KeyboardInterrupt):
            code = getattr(failure, "exit_code", EXIT_INTERRUPTED)       # Ctrl-C 130, SIGTERM 143
        else:
            code = getattr(failure, "exit_code", EXIT_INCOMPLETE)
        problems = list(self.summary.problems)
        if failure is not None and not isinstance(failure, KeyboardInterrupt):
            problems.append(f"{type(failure).__name__}: {failure}")
        return code, problems

    def _close_health_record(self, db, code, problem_lines):
        if self.run_id is None:
            return
        problems = cut_to_bytes("\n".join(problem_lines), mysql_db_health.PROBLEMS_BYTES)
        counts = self.summary.health_counts()
        try:
            mysql_db_health.close_run(db, self.run_id, code, counts, problems)
        except SuiteError as err:
            # The database is gone (or read-only): the next run records this run's end.
            try:
                importHealthSupport.remember_unrecorded(self.settings, self.run_id, code, counts, problems)
                log.error("cannot complete this run's row in %s now (%s); the next run records it",
                          mysql_db_health.IMPORT_LOG_TABLE, err)
            except (OSError, SuiteError) as note_err:
                log.error("cannot complete this run's row in %s (%s), nor keep a note of it (%s): a later run "
                          "records it as died", mysql_db_health.IMPORT_LOG_TABLE, err, note_err)

    def before_connecting(self):
        """Settings the run needs, checked before anything is opened."""

    def check(self, db):
        raise NotImplementedError

    def steps(self, db):
        raise NotImplementedError

    def http_pool_size(self):
        # A connection for each worker, or the pool discards and reopens them.
        return getattr(self.options, "workers", 1) + 4


def in_shard(publisher_id, shard):
    """Whether a publisher falls in shard (K, N): stable, by id, so N hosts with the same
    crontab and shards 1/N..N/N split the publishers, each exactly once."""
    if shard is None:
        return True
    k, n = shard
    return int(publisher_id) % n == k - 1
