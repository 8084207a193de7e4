"""One run of secure-reporter-to-db.py (SecureReporterRun, on the shared cron skeleton):
the named Secure Reporter reports fetched and loaded into their mapped tables, several at
once (bounded); one report failing does not stop the others."""

import dataclasses
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import mappingfile
import secureReporterSupport
from cronrun import CronRun, RunSummary
from errors import AuthenticationError, ConfigurationError, SuiteError

log = logging.getLogger("secure-reporter-to-db")

DEFAULT_WORKERS = 4
MAX_WORKERS = 16


@dataclasses.dataclass
class SecureReporterOptions:
    report_names: list
    params: dict = dataclasses.field(default_factory=dict)   # --param overrides, for every report
    workers: int = DEFAULT_WORKERS
    today: object = None                                      # a date, for tests; None: today in UTC

    def validated(self):
        if not self.report_names:
            raise ConfigurationError("name at least one report")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigurationError(f"-P must be 1..{MAX_WORKERS}, got {self.workers}")
        return dataclasses.replace(self, report_names=list(dict.fromkeys(self.report_names)))


@dataclasses.dataclass
class SecureReporterSummary(RunSummary):
    """What one run of secure-reporter-to-db.py did."""
    reports: int = 0
    reports_loaded: int = 0
    reports_failed: int = 0
    records: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0

    logger = log
    title = "Secure Reporter summary"

    @property
    def complete(self):
        return not (self.reports_failed or self.interrupted)

    def lines(self):
        return [f"  reports: {self.reports} ({self.reports_loaded} loaded, {self.reports_failed} failed)",
                f"  records: {self.records} ({self.rows_inserted} inserted, {self.rows_updated} updated), "
                f"{self.rows_rejected} rejected"]

    def health_counts(self):
        return {"files_loaded": self.reports_loaded, "files_failed": self.reports_failed,
                "rows_inserted": self.rows_inserted, "rows_updated": self.rows_updated,
                "rows_rejected": self.rows_rejected}


def check_reports(settings, db, report_names):
    """{name: (mapping entry)} for every report, or one ConfigurationError listing every
    problem: not mapped, table missing."""
    mapping = mappingfile.secure_reporter_mapping(settings)
    entries, problems = {}, []
    for name in report_names:
        try:
            entries[name] = mapping.entry(name)
        except ConfigurationError as err:
            problems.append(str(err))
            continue
        if not db.table_exists(entries[name]["db_table"]):
            problems.append(f"report {name!r}: table {entries[name]['db_table']} does not exist "
                            f"(secure-reporter-create-db-tables.py creates the starter table)")
    if problems:
        raise ConfigurationError("nothing was sent to Secure Reporter:\n  " + "\n  ".join(problems))
    return entries


class SecureReporterRun(CronRun):
    """Fetch and load the named Secure Reporter reports (see the module's docstring)."""

    program = "secure-reporter-to-db.py"
    folder_prefix = "ix-sr-"
    summary_class = SecureReporterSummary
    health_record_required = False      # recorded when prog_ix_import_log exists

    def before_connecting(self):
        self.base_url = self.settings.url("SECUREREPORTERBASEURL")
        self.token = self.settings.require("SECUREREPORTERTOKEN")
        secureReporterSupport.token_name(self.token)

    def check(self, db):
        self.entries = check_reports(self.settings, db, self.options.report_names)
        today = self.options.today or secureReporterSupport.today_utc()
        self.params = {name: secureReporterSupport.resolve_params(entry.get("params"), self.options.params, today)
                       for name, entry in self.entries.items()}
        for name, params in self.params.items():
            log.info("report %r (%s): parameters %s", name, self.entries[name]["report"], params or "none")
        self.summary.reports = len(self.entries)

    def steps(self, db):
        try:
            self._check_parameters()
        except AuthenticationError as err:
            # Refused for every report: said once, none tried.
            self.summary.add(credentials_refused=1, reports_failed=len(self.entries))
            self.summary.problem(str(err))
            return
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="report") as pool:
            for future in [pool.submit(self._report, number, name) for number, name in enumerate(self.entries)]:
                future.result()

    def _check_parameters(self):
        """Every parameter given (in the mapping, or with --param) must be one the report
        takes: Secure Reporter ignores others silently, and the report would run with its
        defaults. Checked against the reports' definitions before any report runs."""
        problems, used = [], set()
        for name, entry in self.entries.items():
            taken = secureReporterSupport.report_parameters(self.http, self.base_url, self.token, entry["report"])
            if taken is None:
                log.info("report %r: its definition cannot be had; parameters not checked", name)
                used |= set(self.options.params or {})
                continue
            own = secureReporterSupport.unknown_parameters(entry.get("params") or {}, taken)
            if own:
                problems.append(f"report {name!r} takes no parameter {', '.join(own)} (the mapping gives it; it "
                                f"takes {', '.join(taken) or 'none'})")
            used |= {p for p in self.options.params or {} if p in taken}
        stray = [p for p in self.options.params or {} if p not in used]
        if stray:
            problems.append(f"--param {', '.join(stray)}: no report named takes it")
        if problems:
            raise ConfigurationError("no report was run: " + "; ".join(problems))

    def _report(self, number, name):
        entry = self.entries[name]
        path = os.path.join(self.folder, f"report-{number}.json")
        if self.summary.credentials_refused:
            self.summary.add(reports_failed=1)
            log.info("report %r: not tried, the token was refused", name)
            return
        try:
            secureReporterSupport.fetch_answer(self.http, self.base_url, self.token, entry["report"],
                                               self.params[name], path)
            result = secureReporterSupport.load_answer(self.connections.get(), path, entry["db_table"], entry["report"])
        except AuthenticationError as err:
            # The token is refused for every report: said once, the rest not tried.
            with self.summary.lock:
                first = not self.summary.credentials_refused
                self.summary.credentials_refused += 1
                self.summary.reports_failed += 1
            if first:
                self.summary.problem(f"report {name!r}: {err}")
            return
        except SuiteError as err:
            self.summary.add(reports_failed=1)
            self.summary.problem(f"report {name!r}: {err}")
            return
        except Exception as err:  # one report must not sink the others
            log.debug("report %r failed", name, exc_info=True)
            self.summary.add(reports_failed=1)
            self.summary.problem(f"report {name!r}: unexpected {type(err).__name__}: {err}")
            return
        finally:
            if os.path.exists(path):
                os.unlink(path)
        self.summary.add(reports_loaded=1, records=result.rows, rows_inserted=result.inserted,
                         rows_updated=result.updated)
        log.info("report %r: %d records into %s (%d new, %d updated)", name, result.rows, entry["db_table"],
                 result.inserted, result.updated)
