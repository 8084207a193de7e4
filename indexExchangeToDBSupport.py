"""The main program's work: for each (publisher, report) pair, save the report's spec for
the publisher (only when needed), run it, wait for its file, download it and load it into
the mapped table; and first, collect the files earlier runs left pending.

Everything that can be checked locally is checked before the first call to Index
Exchange. Pairs go through a bounded pool of workers; each worker has at most one run in
progress, so the pool size bounds the runs in progress at Index Exchange.
"""

import dataclasses
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import mappingfile
import mysql_db
import mysql_db_reporting
import readwrite
import reportdownloadAPI
import reportdownloadSupport
import reportdownloadWrapper
import reportid_db
import reportmanagementAPI
import reportmanagementSupport
from authenticationSupport import reporting_session
from errors import AlreadyLoadedError, ApiError, ConfigurationError, NotFoundError, SuiteError
from httpclient import HttpClient
from utility import Tally

log = logging.getLogger("index-exchange-to-db")

DEFAULT_WORKERS = 20          # well under Index Exchange's 50 runs in progress
MAX_WORKERS = 50
SECONDS_PER_RETRY = 10        # -r N waits up to N x 10 s for a file, as the seed's retries did
FILE_RETENTION_DAYS = 30
DOWNLOAD_FOLDER_PREFIX = "ix-reports-"


@dataclasses.dataclass
class ImportOptions:
    report_names: list
    publisher_ids: list = None        # None: every publisher of prog_ix_publishers
    keep_files: bool = False          # -n
    download_dir: str = None          # -d
    retries: int = 15                 # -r
    workers: int = DEFAULT_WORKERS

    @property
    def max_wait(self):
        return self.retries * SECONDS_PER_RETRY


@dataclasses.dataclass
class Summary(Tally):
    publishers: int = 0
    reports: int = 0
    pairs: int = 0
    specs_created: int = 0
    specs_updated: int = 0
    specs_reused: int = 0
    pairs_queued: int = 0             # spec could not be saved or run: tried again next time
    files_loaded: int = 0
    files_from_earlier: int = 0       # of those, left pending by an earlier run
    files_pending: int = 0            # not ready in time, or load failed: collected next time
    files_failed: int = 0             # of the pending, those whose download or load failed
    files_expired: int = 0            # gone from Index Exchange before they were collected
    files_superseded: int = 0         # left by an earlier run, covered by a newer file loaded already
    rows_loaded: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    pairs_not_begun: int = 0          # Ctrl-C came first
    interrupted: bool = False
    seconds: float = 0.0

    logger = log

    @property
    def complete(self):
        return not (self.files_pending or self.pairs_queued or self.files_expired or self.interrupted)

    def text(self):
        lines = [
            "Activity summary",
            f"  publishers x reports: {self.publishers} x {self.reports} = {self.pairs} pairs",
            f"  report specs: {self.specs_created} created, {self.specs_updated} updated, "
            f"{self.specs_reused} reused, {self.pairs_queued} could not be run (queued for next time)",
            f"  files: {self.files_loaded} loaded ({self.files_from_earlier} left by earlier runs), "
            f"{self.files_pending} pending ({self.files_failed} of them failed), {self.files_expired} expired, "
            f"{self.files_superseded} superseded by newer files",
            f"  rows: {self.rows_loaded} loaded ({self.rows_inserted} inserted, {self.rows_updated} updated), "
            f"{self.rows_rejected} rejected",
            f"  time taken: {self.seconds:.1f} s",
        ]
        if self.interrupted:
            lines.append(f"  interrupted: {self.pairs_not_begun} pairs not begun, their files and the pending "
                         f"ones are collected by the next run")
        return "\n".join(lines + self.problems_line())


class RunInterrupted(Exception):
    """Ctrl-C: this worker stops where it is; its file stays pending."""


# --- checks before any call ---------------------------------------------------------------

def check_configuration(settings, db, report_names, publisher_filter=None):
    """(publishers [(id, name)], templates {name: spec}, tables {name: table}), or one
    ConfigurationError listing every problem found."""
    problems = []
    templates, tables = {}, {}
    mapping = mappingfile.report_mapping(settings)
    for table in (mysql_db_reporting.PUBLISHERS_TABLE, mysql_db_reporting.REPORT_RUNS_TABLE, mysql_db_reporting.PAIR_QUEUE_TABLE):
        if not db.table_exists(table):
            problems.append(f"table {table} does not exist (create it with report-create-db-tables.py)")
    for name in report_names:
        try:
            templates[name] = readwrite.read_template(settings, name)
        except ConfigurationError as err:
            problems.append(f"report {name!r}: {err}")
        try:
            table = tables[name] = mapping.entry(name)["db_table"]
        except ConfigurationError as err:
            problems.append(f"report {name!r}: {err}")
            continue
        wanted = list(templates[name]["querySpec"]["fields"]) if name in templates else []
        try:
            missing = db.missing_columns(table, wanted + ["publisher_id"])
        except mysql_db.NoSuchTableError:
            problems.append(f"report {name!r}: table {table} does not exist")
            continue
        if missing:
            problems.append(f"report {name!r}: table {table} has no column for {', '.join(missing)}")
    publishers = []
    if db.table_exists(mysql_db_reporting.PUBLISHERS_TABLE):
        publishers = mysql_db_reporting.publishers(db)
        if not publishers:
            problems.append(f"table {mysql_db_reporting.PUBLISHERS_TABLE} is empty: add the publishers to import")
        if publisher_filter:
            known = {pid for pid, _ in publishers}
            unknown = [p for p in publisher_filter if p not in known]
            if unknown:
                problems.append(f"-l: publisher id {', '.join(map(str, unknown))} not in {mysql_db_reporting.PUBLISHERS_TABLE}")
            publishers = [(pid, name) for pid, name in publishers if pid in set(publisher_filter)]
    if problems:
        raise ConfigurationError("nothing was sent to Index Exchange:\n  " + "\n  ".join(problems))
    return publishers, templates, tables


# --- the run ------------------------------------------------------------------------------

class ImportRun:
    def __init__(self, settings, options, http=None, progress=None):
        self.settings = settings
        self.options = options
        self.http = http
        self.progress = progress
        self.summary = Summary()
        self.username = None
        self.stopping = threading.Event()      # set by Ctrl-C: every worker stops at its next step

    def run(self):
        started = time.monotonic()
        options = self.options
        if not options.report_names:
            raise ConfigurationError("name at least one report")
        options.report_names = list(dict.fromkeys(options.report_names))   # each once, in order
        if not 1 <= options.workers <= MAX_WORKERS:
            raise ConfigurationError(f"-P must be 1..{MAX_WORKERS}, got {options.workers}")
        if options.retries < 0:
            raise ConfigurationError(f"-r must be 0 or more, got {options.retries}")
        self.username = self.settings.require("INDEXEXCHANGEUSERNAME")
        self.settings.require("INDEXEXCHANGEPASSWORD")
        self.keep_dir = None
        if options.keep_files:
            self.keep_dir = readwrite.ensure_folder(options.download_dir or self.settings.data_download_store())
        with readwrite.run_folder(DOWNLOAD_FOLDER_PREFIX) as self.download_dir:
            self._run_in_folder()
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _run_in_folder(self):
        options = self.options
        # Downloads go to a folder of this run's own (self.download_dir), never shared with
        # another copy of the program (which could rewrite a file while this one loads
        # it); files are bulk-loaded from there, and from nowhere else.
        self.connections = mysql_db.ConnectionPerThread(self.settings, local_infile_dir=self.download_dir)
        try:
            db = self.connections.get()
            publishers, self.templates, self.tables = check_configuration(
                self.settings, db, options.report_names, options.publisher_ids)
            pairs = [(pid, name) for pid, _ in publishers for name in options.report_names]
            queued = mysql_db_reporting.queued_pairs(db)
            self.queued = set(queued)
            included = {pid for pid, _ in publishers}
            for pid, name in queued:
                # Another publisher's pair waits for a run that includes that publisher.
                if (pid, name) in pairs or pid not in included:
                    continue
                if name in self.templates or self._add_queued_report(db, name):
                    pairs.insert(0, (pid, name))
                else:
                    self.summary.problem(f"queued report {name!r} for publisher {pid} dropped: its template or "
                                         f"table is gone")
                    mysql_db_reporting.mark_pair_done(db, pid, name, status="dropped")
            pending = mysql_db_reporting.pending_report_runs(db)
            self.summary.publishers = len(publishers)
            self.summary.reports = len(options.report_names)
            self.summary.pairs = len(publishers) * len(options.report_names)
            self.reportids = reportid_db.ReportIdDB(self.settings.settings_store())
            own_http = self.http is None
            # A connection for each worker, or the pool discards and reopens them.
            self.http = self.http or HttpClient.from_settings(self.settings, pool_size=options.workers + 4)
            try:
                self.session = reporting_session(self.http, self.settings)
                self._work(pending, pairs)
            finally:
                if own_http:
                    self.http.close()
        finally:
            self.connections.close()

    def _add_queued_report(self, db, name):
        try:
            self.templates[name] = readwrite.read_template(self.settings, name)
        except ConfigurationError:
            return False
        entry = mappingfile.report_mapping(self.settings).get(name)
        table = entry["db_table"] if entry else None
        if table is None or not db.table_exists(table):
            return False
        self.tables[name] = table
        return True

    def _work(self, pending, pairs):
        listed_at = time.time()
        active = {item["reportID"] for item in reportmanagementAPI.list_active_specs(self.session)}
        # Files of one pair load oldest first, so an older file never overwrites a newer
        # one's rows ("today only"). Each waits for the one before it, which the FIFO pool
        # has always started already.
        self._last_load = {}
        tasks = []
        for run in pending:
            tasks.append((self._collect_earlier, run, *self._load_turn((int(run["publisher_id"]), run["report_name"]))))
        tasks += [(self._process_pair, pair, active, listed_at, *self._load_turn(pair)) for pair in pairs]
        if self.progress:
            self.progress.start(len(tasks))
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="pair") as pool:
            futures = [pool.submit(self._guarded, *task) for task in tasks]
            try:
                for future in as_completed(futures):
                    future.result()
                    if self.progress:
                        self.progress.step()
            except KeyboardInterrupt:
                # Stop promptly: pairs not begun are not begun, waiting stops, a load under
                # way finishes its transaction; what was asked for stays pending for the
                # next run, which collects it first.
                self.stopping.set()
                not_begun = sum(future.cancel() for future in futures)
                self.summary.interrupted = True
                self.summary.add(pairs_not_begun=not_begun)
                log.warning("interrupted: %d pairs not begun; stopping the rest, their files stay pending",
                            not_begun)
        if self.progress:
            self.progress.finish()

    def _load_turn(self, pair):
        """(event to wait for before loading, event to set when done) for the next file of a pair."""
        before = self._last_load.get(pair)
        done = self._last_load[pair] = threading.Event()
        return before, done

    def _guarded(self, function, *args):
        """A task's unexpected failure is reported, and the other pairs go on."""
        try:
            function(*args)
        except Exception as err:  # one pair must not sink the others
            log.debug("task failed", exc_info=True)
            self.summary.problem(f"unexpected {type(err).__name__}: {err}")
            self.summary.add(files_pending=1, files_failed=1)
        finally:
            args[-1].set()      # this pair's next file may load now

    # --- one pair -------------------------------------------------------------------------

    def _process_pair(self, pair, active, listed_at, before, done):
        if self.stopping.is_set():
            return
        publisher_id, name = pair
        db = self.connections.get()
        template, table = self.templates[name], self.tables[name]
        try:
            report_id, action = reportmanagementSupport.ensure_spec(
                self.session, self.reportids, publisher_id, name, template, self.username, active, listed_at)
            self.summary.add(**{f"specs_{action}": 1})
            try:
                file_id = reportdownloadAPI.run_report(self.session, report_id)
            except NotFoundError:
                # Deactivated on Index Exchange since we listed it: a new spec, then run.
                report_id, action = reportmanagementSupport.ensure_spec(
                    self.session, self.reportids, publisher_id, name, template, self.username, active,
                    listed_at, force_new=True)
                self.summary.add(**{f"specs_{action}": 1})
                file_id = reportdownloadAPI.run_report(self.session, report_id)
        except ApiError as err:
            mysql_db_reporting.queue_pair(db, publisher_id, name, err)
            self.summary.add(pairs_queued=1)
            self.summary.problem(f"publisher {publisher_id}, report {name!r}: not run, queued for next time: {err}")
            return
        mysql_db_reporting.record_report_run(db, file_id, report_id, publisher_id, name, table)
        if pair in self.queued:
            mysql_db_reporting.mark_pair_done(db, publisher_id, name)
        log.debug("publisher %s, report %r: spec %s %s, file %s requested", publisher_id, name, report_id,
                  action, file_id)
        self._collect(db, file_id, publisher_id, name, table, self.options.max_wait, before=before)

    def _collect_earlier(self, run, before, done):
        db = self.connections.get()
        requested = run["requested_at"]
        if isinstance(requested, str):
            requested = dt.datetime.fromisoformat(requested)
        age = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - requested
        loaded = self._collect(db, int(run["file_id"]), int(run["publisher_id"]), run["report_name"],
                               run["db_table"], self.options.max_wait, earlier=requested,
                               expired=age > dt.timedelta(days=FILE_RETENTION_DAYS), before=before)
        if loaded:
            self.summary.add(files_from_earlier=1)

    def _collect(self, db, file_id, publisher_id, name, table, max_wait, earlier=None, expired=False,
                 before=None):
        """Wait for, download and load one file; True when loaded. Otherwise it stays
        pending in prog_ix_report_runs for the next run. `earlier`: when an earlier run
        asked for the file."""
        where = f"publisher {publisher_id}, report {name!r}, file {file_id}"
        path = None
        try:
            item = reportdownloadSupport.wait_for_file(self.session, file_id, max_wait, sleep=self._pause)
            if item is None:
                if expired:
                    mysql_db_reporting.mark_report_run_problem(db, file_id, "expired on Index Exchange", status="expired")
                    self.summary.add(files_expired=1)
                    self.summary.problem(f"{where}: expired on Index Exchange before it could be collected")
                    return False
                mysql_db_reporting.mark_report_run_problem(db, file_id, f"not ready after {max_wait} s")
                self.summary.add(files_pending=1)
                self.summary.problem(f"{where}: not ready after {max_wait} s; collected next time")
                return False
            time_range = _time_range(item)
            if earlier and time_range:
                newer = mysql_db_reporting.newer_file_covering(db, file_id, publisher_id, name, earlier, time_range)
                if newer:
                    # Loading it now would put older figures over the newer file's.
                    mysql_db_reporting.mark_report_run_problem(db, file_id, f"superseded by file {newer}", status="superseded")
                    self.summary.add(files_superseded=1)
                    log.info("%s: superseded by file %s, loaded already; not loaded", where, newer)
                    return False
            path = os.path.join(self.download_dir, f"{file_id}.csv")
            reportdownloadSupport.download_verified(self.session, item, path)
            if self.keep_dir:
                self._keep(path, file_id)
            if before is not None:
                before.wait()
            if self.stopping.is_set():
                raise RunInterrupted()
            template = self.templates.get(name)
            result = reportdownloadWrapper.load_report_file(
                db, path, table, publisher_id, file_id=file_id, time_range=time_range,
                expected_fields=template["querySpec"]["fields"] if template else None)
        except AlreadyLoadedError:
            log.info("%s: already loaded by another copy of the program", where)
            return False
        except RunInterrupted:
            self.summary.add(files_pending=1)
            log.info("%s: interrupted; pending for the next run", where)
            return False
        except (SuiteError, OSError) as err:
            rejected = readwrite.count_data_rows(path) if path and os.path.exists(path) else 0
            try:
                mysql_db_reporting.mark_report_run_problem(db, file_id, err)
            except mysql_db.DatabaseError as db_err:
                log.error("%s: cannot record the failure: %s", where, db_err)
            self.summary.add(files_pending=1, files_failed=1, rows_rejected=rejected)
            self.summary.problem(f"{where}: {err}")
            return False
        finally:
            if path:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        self.summary.add(files_loaded=1, rows_loaded=result.rows, rows_inserted=result.inserted,
                         rows_updated=result.updated)
        log.info("%s: %d rows into %s (%d new, %d updated, %s)%s", where, result.rows, table, result.inserted,
                 result.updated, result.method, " (left by an earlier run)" if earlier else "")
        return True

    def _pause(self, seconds):
        """The waiting between polls: cut short by Ctrl-C."""
        if self.stopping.wait(seconds):
            raise RunInterrupted()

    def _keep(self, path, file_id):
        """-n: a copy in the data download store, put in place by an atomic rename."""
        target = os.path.join(self.keep_dir, f"{file_id}.csv")
        fd, temporary = tempfile.mkstemp(dir=self.keep_dir, prefix=f".{file_id}-")
        os.close(fd)
        shutil.copyfile(path, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)


def _time_range(item):
    """(from, to) dates of a listed file, or None when the list did not give them."""
    dates = item.get("reportTimeRange") or {}
    start, end = str(dates.get("from") or "")[:10], str(dates.get("to") or "")[:10]
    valid = all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in (start, end))
    return (start, end) if valid else None


class ProgressBar:
    """A one-line bar on a terminal's stderr; nothing when stderr is not a terminal."""

    def __init__(self, stream=None, width=30):
        self.stream = stream or sys.stderr
        self.width = width
        self.total = self.done = 0
        self._lock = threading.Lock()

    def start(self, total):
        self.total = total
        self._draw()

    def step(self):
        with self._lock:
            self.done += 1
            self._draw()

    def finish(self):
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self):
        filled = int(self.width * self.done / self.total) if self.total else self.width
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} pairs")
        self.stream.flush()
