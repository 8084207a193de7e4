"""The main program's work: for each (publisher, report) pair, save the report's spec for
the publisher (only when needed), run it, wait for its file, download it and load it into
the mapped table; and first, collect the files earlier runs left pending.

Everything that can be checked locally is checked before the first call to Index
Exchange. reportRunScheduler decides when each step happens (runs kept at the cap, files
polled together, loads in a pool); this module does the steps.
"""

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import shutil
import threading

import mappingfile
import mysql_db
import mysql_db_reporting
import readwrite
import reportdownloadSupport
import reportdownloadWrapper
import reportid_db
import reportmanagementSupport
from authenticationSupport import reporting_session
from cronrun import CronRun, RunSummary, in_shard
from reportConfigSupport import check_configuration
from reportRunScheduler import FETCHERS, LOADERS, STARTERS, FileJob, PairJob, RunScheduler
from errors import AlreadyLoadedError, ApiError, ConfigurationError, ReportFileError, SuiteError
from utility import atomic_file

log = logging.getLogger("index-exchange-to-db")

RUNS_LIMIT = 50               # Index Exchange's runs in progress at once, per user
# A pending file Index Exchange does not list on this many runs, over at least these hours,
# is gone (it no longer knows it): not asked for again, said once.
GONE_AFTER_RUNS = 3
GONE_AFTER_HOURS = 12
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
    workers: int = None               # -P: runs in progress at once; None: the limit, or this shard's share
    shard: tuple = None               # (K, N): only the publishers of shard K of N

    @property
    def max_wait(self):
        return self.retries * SECONDS_PER_RETRY

    def validated(self):
        """A checked copy, each report once and in order; ConfigurationError naming the
        option otherwise."""
        if not self.report_names:
            raise ConfigurationError("name at least one report")
        if self.workers is not None and not 1 <= self.workers <= RUNS_LIMIT:
            raise ConfigurationError(f"-P must be 1..{RUNS_LIMIT}, got {self.workers}")
        if self.retries < 0:
            raise ConfigurationError(f"-r must be 0 or more, got {self.retries}")
        return dataclasses.replace(self, report_names=list(dict.fromkeys(self.report_names)),
                                   workers=self.workers or default_cap(self.shard))


def default_cap(shard):
    """The runs in progress one host keeps by default: Index Exchange's limit, shared
    evenly by the N hosts of --shard K/N (they run the same crontab at the same time)."""
    return max(1, RUNS_LIMIT // (shard[1] if shard else 1))


@dataclasses.dataclass
class Summary(RunSummary):
    """What one run of the main program did."""
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
    files_gone: int = 0               # left by earlier runs, no longer known to Index Exchange (marked gone now)
    rows_loaded: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    rows_removed: int = 0             # deleted first from windows that files replaced
    pairs_not_begun: int = 0          # Ctrl-C, the database gone, or every run slot held by runs given up on
    pairs_waiting_for_saves: int = 0  # of the queued, those whose spec needs a save when the day's are used
    pairs_elsewhere: int = 0          # held, or finished during this run, by another copy (another host)

    logger = log
    title = "Activity summary"

    @property
    def complete(self):
        return not (self.files_pending or self.pairs_queued or self.files_expired or self.files_gone
                    or self.interrupted or self.pairs_not_begun)

    def lines(self):
        lines = [
            f"  publishers x reports: {self.publishers} x {self.reports} = {self.pairs} pairs",
            f"  report specs: {self.specs_created} created, {self.specs_updated} updated, "
            f"{self.specs_reused} reused, {self.pairs_queued} could not be run (queued for next time)",
            f"  files: {self.files_loaded} loaded ({self.files_from_earlier} left by earlier runs), "
            f"{self.files_pending} pending ({self.files_failed} of them failed), {self.files_expired} expired, "
            f"{self.files_superseded} superseded by newer files"
            + (f", {self.files_gone} gone from Index Exchange" if self.files_gone else ""),
            f"  rows: {self.rows_loaded} loaded ({self.rows_inserted} inserted, {self.rows_updated} updated), "
            f"{self.rows_rejected} rejected"
            + (f"; {self.rows_removed} removed from replaced windows" if self.rows_removed else ""),
        ]
        if self.pairs_elsewhere:
            lines.append(f"  pairs left to other copies: {self.pairs_elsewhere} (working them, or finished them "
                         f"during this run)")
        if self.interrupted:
            lines.append(f"  interrupted: {self.pairs_not_begun} pairs not begun, their files and the pending "
                         f"ones are collected by the next run")
        elif self.pairs_not_begun:
            lines.append(f"  pairs not begun: {self.pairs_not_begun} (run by the next run)")
        return lines

    def health_counts(self):
        return {"pairs": self.pairs, "files_loaded": self.files_loaded, "files_pending": self.files_pending,
                "files_failed": self.files_failed, "files_expired": self.files_expired + self.files_gone,
                "rows_inserted": self.rows_inserted, "rows_updated": self.rows_updated,
                "rows_rejected": self.rows_rejected, "rows_removed": self.rows_removed}


# --- the run ------------------------------------------------------------------------------

def choose_pairs(publisher_ids, report_names, queued, runnable):
    """The (publisher, report) pairs of this run: queued pairs first (in queue order), then
    every publisher x report. A queued pair waits for a run that includes its publisher;
    one whose report cannot be run any more (`runnable(name)` is False) is dropped.
    Returns (pairs, dropped)."""
    pairs = [(pid, name) for pid in publisher_ids for name in report_names]
    included = set(publisher_ids)
    first, dropped = [], []
    for pid, name in queued:
        if (pid, name) in pairs or pid not in included:
            continue
        (first if runnable(name) else dropped).append((pid, name))
    return list(reversed(first)) + pairs, dropped


class FileLedger:
    """Every status a file asked for gets in prog_ix_report_runs, written from here only:
    pending when its run is requested, then loaded (inside the load's transaction),
    still pending with a reason, expired or superseded."""

    def __init__(self, db):
        self.db = db

    def requested(self, file_id, report_id, publisher_id, name, table):
        mysql_db_reporting.record_report_run(self.db, file_id, report_id, publisher_id, name, table)

    def loaded(self, file_id, result, time_range):
        """Inside the load's transaction; AlreadyLoadedError when another copy was first."""
        if not mysql_db_reporting.mark_report_run_loaded(self.db, file_id, result, time_range):
            raise AlreadyLoadedError(f"file {file_id} was loaded by another program meanwhile")

    def still_pending(self, file_id, reason):
        mysql_db_reporting.mark_report_run_problem(self.db, file_id, reason)

    def expired(self, file_id):
        mysql_db_reporting.mark_report_run_problem(self.db, file_id, "expired on Index Exchange", status="expired")

    def superseded(self, file_id, newer):
        mysql_db_reporting.mark_report_run_problem(self.db, file_id, f"superseded by file {newer}",
                                                   status="superseded")


class RunInterrupted(Exception):
    """Ctrl-C: this worker stops where it is; its file stays pending."""


class ImportRun(CronRun):
    """One run of index-exchange-to-db.py: collect the files earlier runs left pending,
    then save (when needed), run, wait for, download and load every pair's report, with
    at most -P runs in progress at Index Exchange (see reportRunScheduler)."""

    program = "index-exchange-to-db.py"
    folder_prefix = DOWNLOAD_FOLDER_PREFIX
    summary_class = Summary
    bulk_load_from_folder = True

    def __init__(self, settings, options, http=None, progress=None, arguments=""):
        super().__init__(settings, options, http, arguments)
        self.progress = progress
        self._gone_lock = threading.Lock()
        self.database_unreachable = False

    def before_connecting(self):
        self.username = self.settings.require("INDEXEXCHANGEUSERNAME")
        self.settings.require("INDEXEXCHANGEPASSWORD")
        self.keep_dir = None
        if self.options.keep_files:
            self.keep_dir = readwrite.ensure_folder(self.options.download_dir or self.settings.data_download_store())

    def check(self, db):
        options = self.options
        publishers, self.templates, self.tables = check_configuration(
            self.settings, db, options.report_names, options.publisher_ids)
        self.mapping = mappingfile.report_mapping(self.settings)
        publishers = [(pid, name) for pid, name in publishers if in_shard(pid, options.shard)]
        queued = mysql_db_reporting.queued_pairs(db)
        self.queued = set(queued)
        self.pairs, dropped = choose_pairs([pid for pid, _ in publishers], options.report_names, queued,
                                           lambda name: name in self.templates or self._add_queued_report(db, name))
        for pid, name in dropped:
            self.summary.problem(f"queued report {name!r} for publisher {pid} dropped: its template or table is gone")
            mysql_db_reporting.mark_pair_done(db, pid, name, status="dropped")
        # A sharded host collects only its own publishers' files (another host takes the rest).
        self.pending = [run for run in mysql_db_reporting.pending_report_runs(db)
                        if in_shard(run["publisher_id"], options.shard)]
        self.summary.publishers = len(publishers)
        self.summary.reports = len(options.report_names)
        self.summary.pairs = len(publishers) * len(options.report_names)
        self.reportids = self.resources.enter_context(reportid_db.open_store(self.settings, self.connections))

    def steps(self, db):
        self.session = reporting_session(self.http, self.settings)
        self.save_budget = reportmanagementSupport.SaveBudget(
            self.connections.get, self.settings.integer("INDEXEXCHANGESAVESPERDAY"))
        self._work(self.pending, self.pairs)
        if self.summary.pairs_waiting_for_saves:
            self.summary.problem(
                f"{self.summary.pairs_waiting_for_saves} pairs wait for a spec save: {self.save_budget.spent_why()}; "
                f"queued, they run from {self.save_budget.next_day()}")

    def http_pool_size(self):
        return min(self.options.workers, STARTERS) + min(self.options.workers, FETCHERS) + LOADERS + 2

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
        active, listed_at = reportmanagementSupport.active_specs(self.session)
        earlier = {}
        for run in pending:
            earlier.setdefault((int(run["publisher_id"]), run["report_name"]), []).append(run)
        new = set(pairs)
        # Pairs with files pending first, then the rest in order (queued pairs lead).
        jobs = [PairJob(pair, earlier.get(pair, []), pair in new)
                for pair in list(earlier) + [pair for pair in pairs if pair not in earlier]]
        # A pair another program finishes after this moment is not worked again by this run.
        self.started_at = self.reportids.now()
        self._schedule(jobs, active, listed_at)

    def _schedule(self, jobs, active, listed_at):
        """Carry `jobs` through RunScheduler; Ctrl-C or SIGTERM ends it with what was asked
        for left pending."""
        if self.progress:
            self.progress.start(len(jobs))
        scheduler = RunScheduler(self, jobs, active, listed_at)
        try:
            scheduler.run()
        except KeyboardInterrupt as err:         # Ctrl-C, or SIGTERM (cli.Terminated)
            self.summary.interrupt_code = getattr(err, "exit_code", self.summary.interrupt_code)
            scheduler.interrupted()
        if self.progress:
            self.progress.finish()

    # --- the steps of a pair, each called by RunScheduler from a pool thread ---------------

    def start_pair(self, job, active, listed_at):
        """Take the pair (nobody else works it meanwhile), then save its spec when needed and
        run it. Returns the pair's files to collect, oldest first: those earlier runs left
        pending, and the new run's."""
        if not self._claim(job, not_worked_since=self.started_at):
            return None
        files = self._earlier_files(job)
        if job.run_new and not self.stopping.is_set():
            file_id = self._run_pair(job.pair, active, listed_at)
            if file_id is not None:
                files.append(FileJob(file_id, job, self.tables[job.pair[1]], holds_slot=True))
        return files

    def _claim(self, job, not_worked_since=None):
        """Whether this program now works the job's pair (its spec's name in the reportID
        database); said and counted when another program has it."""
        publisher_id = job.pair[0]
        claim = self.reportids.claim(publisher_id, job.spec_key, not_worked_since=not_worked_since)
        if not claim.held:
            self.summary.add(pairs_elsewhere=1)
            log.info("publisher %s, report %r: %s; left to it", publisher_id, job.spec_key, claim.reason)
            return False
        job.claimed = True
        return True

    @staticmethod
    def _earlier_files(job):
        """The files earlier runs left pending for the job, as FileJobs."""
        files = []
        for run in job.earlier_runs:
            requested = run["requested_at"]
            if isinstance(requested, str):
                requested = dt.datetime.fromisoformat(requested)
            age = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - requested
            files.append(FileJob(int(run["file_id"]), job, run["db_table"], earlier=requested,
                                 expired=age > dt.timedelta(days=FILE_RETENTION_DAYS)))
        return files

    def _run_pair(self, pair, active, listed_at):
        """The fileID of the pair's new run; None when it could not be run (queued)."""
        publisher_id, name = pair
        db = self.connections.get()
        try:
            report_id, file_id, actions = reportmanagementSupport.run_pair(
                self.session, self.reportids, publisher_id, name, self.templates[name], self.username, active,
                listed_at, budget=self.save_budget)
        except reportmanagementSupport.SaveBudgetSpent as err:
            # One line for all of them at the end of the run, not one per pair.
            mysql_db_reporting.queue_pair(db, publisher_id, name, err)
            self.summary.add(pairs_queued=1, pairs_waiting_for_saves=1)
            log.info("publisher %s, report %r: queued, %s", publisher_id, name, err)
            return None
        except (ApiError, reportid_db.LeaseLostError) as err:
            mysql_db_reporting.queue_pair(db, publisher_id, name, err)
            self.summary.add(pairs_queued=1)
            self.summary.problem(f"publisher {publisher_id}, report {name!r}: not run, queued for next time: {err}")
            return None
        for action in actions:
            self.summary.add(**{f"specs_{action}": 1})
        FileLedger(db).requested(file_id, report_id, publisher_id, name, self.tables[name])
        if pair in self.queued:
            mysql_db_reporting.mark_pair_done(db, publisher_id, name)
        log.debug("publisher %s, report %r: spec %s %s, file %s requested", publisher_id, name, report_id,
                  "/".join(actions), file_id)
        return file_id

    def not_ready(self, file, gone, listing_error=None):
        """A file given up on for this run: pending for the next (or expired). With
        `listing_error`, Index Exchange was not answering when the wait ran out: that is
        the reason recorded, not "not ready"."""
        ledger = FileLedger(self.connections.get())
        try:
            if gone:
                ledger.expired(file.file_id)
                self.summary.add(files_expired=1)
                self.summary.problem(f"{file.where}: expired on Index Exchange before it could be collected")
            elif listing_error is not None:
                ledger.still_pending(file.file_id, f"Index Exchange did not answer the file list when the wait of "
                                                   f"{self.options.max_wait} s ran out: {listing_error}")
                self.summary.add(files_pending=1)
                log.info("%s: Index Exchange not answering; collected next time", file.where)
            else:
                ledger.still_pending(file.file_id, f"not ready after {self.options.max_wait} s")
                self.summary.add(files_pending=1)
                self.summary.problem(f"{file.where}: not ready after {self.options.max_wait} s; collected next time")
        except mysql_db.DatabaseError as err:
            self.summary.add(files_pending=1)
            self.summary.problem(f"{file.where}: not ready, and cannot record it: {err}")

    def not_listed(self, file):
        """A file of an earlier run that Index Exchange does not list now: pending, or gone
        once it has not been listed on GONE_AFTER_RUNS runs over GONE_AFTER_HOURS."""
        try:
            count, since, gone = mysql_db_reporting.mark_report_run_unlisted(
                self.connections.get(), file.file_id, GONE_AFTER_RUNS, GONE_AFTER_HOURS)
        except mysql_db.DatabaseError as err:
            self.summary.add(files_pending=1)
            self.summary.problem(f"{file.where}: not listed by Index Exchange, and cannot record it: {err}")
            return
        if gone:
            self.summary.add(files_gone=1)
            self.summary.problem(f"{file.where}: Index Exchange no longer knows it (not listed on {count} runs since "
                                 f"{since:%Y-%m-%d %H:%M} UTC); marked gone, not asked for again (pending-files.py "
                                 f"--retry {file.file_id} puts it back)")
        else:
            self.summary.add(files_pending=1)
            self.summary.problem(f"{file.where}: not listed by Index Exchange (not ready yet, or unknown to it; "
                                 f"{count} runs so far); looked for again next run")

    def fetch_file(self, file):
        """Download one ready file into the scratch folder (file.path); False when it is not
        to be loaded (superseded, or the download failed: pending for the next run). A file
        is fetched as soon as it is ready, even while an older file of its pair still waits."""
        publisher_id, name = file.pair.pair
        try:
            if self.stopping.is_set():
                raise RunInterrupted()
            file.time_range = listed_time_range(file.item)
            if file.earlier and file.time_range:
                db = self.connections.get()     # only these need the database here
                if self._superseded(db, FileLedger(db), file.where, file.file_id, publisher_id, name,
                                    file.earlier, file.time_range):
                    return False
            file.path = self._download(file.item, file.file_id)
            return True
        except RunInterrupted:
            self._interrupted_file(file)
        except (SuiteError, OSError) as err:
            self._failed_file(file, FileLedger(self.connections.get()), err)
        self._discard(file)
        return False

    def load_file(self, file):
        """Load one fetched file, its pair's older files done; True when loaded. Otherwise it
        stays pending in prog_ix_report_runs for the next run."""
        db = self.connections.get()
        publisher_id, name = file.pair.pair
        ledger = FileLedger(db)
        try:
            if self.stopping.is_set():
                raise RunInterrupted()
            result = self._load(db, ledger, file.path, file.file_id, publisher_id, name, file.table,
                                file.time_range)
        except AlreadyLoadedError:
            log.info("%s: already loaded by another copy of the program", file.where)
            return False
        except reportdownloadWrapper.SupersededError as err:
            ledger.superseded(file.file_id, err.newer)
            self.summary.add(files_superseded=1)
            log.info("%s: %s; not loaded", file.where, err)
            return False
        except RunInterrupted:
            self._interrupted_file(file)
            return False
        except (SuiteError, OSError) as err:
            self._failed_file(file, ledger, err)
            return False
        finally:
            self._discard(file)
        self.summary.add(files_loaded=1, rows_loaded=result.rows, rows_inserted=result.inserted,
                         rows_updated=result.updated, rows_removed=result.removed,
                         files_from_earlier=1 if file.earlier else 0)
        log.info("%s: %d rows into %s (%d new, %d updated, %s)%s", file.where, result.rows, file.table,
                 result.inserted, result.updated, result.method,
                 " (left by an earlier run)" if file.earlier else "")
        return True

    def database_gone(self, error):
        """Whether `error` says the database cannot be reached (after the reconnect
        attempts). Then the run stops starting pairs, so no run is asked of Index Exchange
        whose file could not be recorded; what was asked for stays pending, and one line
        says why."""
        if not isinstance(error, mysql_db.DatabaseConnectionError):
            return False
        self.database_unreachable = True
        state = "read-only" if isinstance(error, mysql_db.DatabaseReadOnlyError) else "unreachable"
        with self._gone_lock:
            if not self.stopping.is_set():
                self.stopping.set()
                self.summary.problem(f"database {state}, run stopped; everything asked for stays pending for "
                                     f"the next run: {error}")
        return True

    def _interrupted_file(self, file):
        self.summary.add(files_pending=1)
        log.info("%s: interrupted; pending for the next run", file.where)

    def _failed_file(self, file, ledger, err):
        if self.database_gone(err):
            self.summary.add(files_pending=1)
            return
        path = file.path
        rejected = readwrite.count_data_rows(path) if path and os.path.exists(path) else 0
        try:
            ledger.still_pending(file.file_id, err)
        except mysql_db.DatabaseError as db_err:
            log.error("%s: cannot record the failure: %s", file.where, db_err)
        self.summary.add(files_pending=1, files_failed=1, rows_rejected=rejected)
        self.summary.problem(f"{file.where}: {err}")

    @staticmethod
    def _discard(file):
        if file.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file.path)
            file.path = None

    def pair_done(self, job):
        """Give the pair back once all its files are loaded or left pending."""
        if not job.claimed:
            return
        job.claimed = False
        publisher_id, name = job.pair
        try:
            if not self.database_unreachable:    # else its lease runs out by itself; trying costs the reconnect waits
                self.reportids.release(publisher_id, job.spec_key, worked=not self.stopping.is_set())
        except mysql_db.DatabaseConnectionError as err:
            self.database_gone(err)
        except SuiteError as err:   # the lease runs out by itself
            log.warning("publisher %s, report %r: cannot give the pair back: %s", publisher_id, name, err)
        if self.progress:
            self.progress.step()

    def _superseded(self, db, ledger, where, file_id, publisher_id, name, earlier, time_range):
        newer = mysql_db_reporting.newer_file_covering(db, file_id, publisher_id, name, earlier, time_range)
        if newer:
            # Loading it now would put older figures over the newer file's.
            ledger.superseded(file_id, newer)
            self.summary.add(files_superseded=1)
            log.info("%s: superseded by file %s, loaded already; not loaded", where, newer)
        return bool(newer)

    def _download(self, item, file_id):
        path = os.path.join(self.folder, f"{file_id}.csv")
        reportdownloadSupport.download_verified(self.session, item, path)
        if self.keep_dir:
            self._keep(path, file_id)
        return path

    def _load(self, db, ledger, path, file_id, publisher_id, name, table, time_range):
        template = self.templates.get(name)
        return reportdownloadWrapper.load_report_file(
            db, path, table, publisher_id, name=f"file {file_id}",
            expected_fields=template["querySpec"]["fields"] if template else None,
            within=lambda result: ledger.loaded(file_id, result, time_range),
            replace=self._replacement(name, file_id, time_range))

    def _replacement(self, name, file_id, time_range):
        """How a file of report `name` replaces its window (None: it is upserted)."""
        entry = self.mapping.get(name) or {}
        if not entry.get("replace"):
            return None
        if time_range is None:
            raise ReportFileError(f"file {file_id}: Index Exchange listed no reportTimeRange for it, so the window "
                                  f"it replaces is not known; not loaded")
        return reportdownloadWrapper.WindowReplacement(entry["replace"], time_range, file_id)

    def _keep(self, path, file_id):
        """-n: a copy in the data download store, put in place by an atomic rename."""
        with open(path, "rb") as source, atomic_file(os.path.join(self.keep_dir, f"{file_id}.csv"), 0o644) as kept:
            shutil.copyfileobj(source, kept)


def listed_time_range(item):
    """(from, to) dates of a listed file, or None when the list did not give them."""
    dates = item.get("reportTimeRange") or {}
    start, end = str(dates.get("from") or "")[:10], str(dates.get("to") or "")[:10]
    valid = all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in (start, end))
    return (start, end) if valid else None
