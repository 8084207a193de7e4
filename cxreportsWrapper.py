"""One run of cxreports-send.py (CxReportsRun, on the shared cron skeleton): each
publisher's revenue statement for a period (or the import activity) pushed to CxReports
and either saved as a PDF or sent through a CxReports job. A publisher that fails does
not stop the others."""

import dataclasses
import datetime as dt
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import cxreportsSupport
import mysql_db
import mysql_db_health
import mysql_db_reporting
import readwrite
from cronrun import CronRun, RunSummary
from errors import AuthenticationError, ConfigurationError, SuiteError
from utility import only_known

log = logging.getLogger("cxreports-send")

DEFAULT_REPORT, ACTIVITY_REPORT = "revenue-statement", "import-activity"
REPORTS_STORE = "INDEX-REPORTS"
WORKERS = 4


@dataclasses.dataclass
class CxReportsOptions:
    period: str = "last-week"
    publisher_ids: list = None
    report: str = None                  # id or type code; default by kind
    job: int = None                     # send through this job instead of saving PDFs
    out: str = None                     # folder for the PDFs (default ~/INDEX-REPORTS)
    activity: bool = False
    today: object = None                # a date, for tests

    def validated(self):
        if self.job is not None and self.out:
            raise ConfigurationError("--out goes with saving PDFs, not with --job")
        return dataclasses.replace(self)


@dataclasses.dataclass
class CxReportsSummary(RunSummary):
    """What one run of cxreports-send.py did."""
    documents: int = 0
    saved: int = 0
    delivered: int = 0
    waiting_for_review: int = 0
    without_data: int = 0         # publishers with no revenue rows for the period: no statement
    failed: int = 0
    outcomes: list = dataclasses.field(default_factory=list)

    logger = log
    title = "CxReports summary"

    @property
    def complete(self):
        return not (self.failed or self.interrupted)

    def lines(self):
        return [f"  documents: {self.documents} ({self.saved} saved, {self.delivered} delivered, "
                f"{self.waiting_for_review} waiting for review, {self.without_data} without data, "
                f"{self.failed} failed)",
                *[f"  {outcome}" for outcome in self.outcomes]]

    def health_counts(self):
        return {"files_loaded": self.saved + self.delivered, "files_pending": self.waiting_for_review,
                "files_failed": self.failed}


class CxReportsRun(CronRun):
    """Make and deliver the statements (or the activity report) of one period."""

    program = "cxreports-send.py"
    folder_prefix = "ix-cx-"
    summary_class = CxReportsSummary
    health_record_required = False

    def before_connecting(self):
        self.base_url = self.settings.url("CXREPORTSBASEURL")
        self.token = self.settings.require("CXREPORTSTOKEN")
        self.workspace = self.settings.require("CXREPORTSWORKSPACE")
        self.max_wait = float(self.settings.integer("CXREPORTSEXPORTWAIT", minimum=1))
        self.start, self.end = cxreportsSupport.period(self.options.period,
                                                       self.options.today or dt.datetime.now(dt.timezone.utc).date())
        self.report = self.options.report or (ACTIVITY_REPORT if self.options.activity else DEFAULT_REPORT)
        self.out = None
        if self.options.job is None:
            self.out = readwrite.ensure_folder(self.options.out or self.settings.store(REPORTS_STORE))

    def check(self, db):
        if self.options.activity:
            if not db.table_exists(mysql_db_health.IMPORT_LOG_TABLE):
                raise ConfigurationError(f"--activity needs table {mysql_db_health.IMPORT_LOG_TABLE}")
            self.targets = [None]
            return
        for table in (mysql_db_reporting.PUBLISHERS_TABLE, mysql_db_reporting.STATS_TABLE):
            if not db.table_exists(table):
                raise ConfigurationError(f"table {table} does not exist (report-create-db-tables.py)")
        self.targets = only_known(mysql_db_reporting.publishers(db), self.options.publisher_ids or None, "-l",
                                  mysql_db_reporting.PUBLISHERS_TABLE)

    def steps(self, db):
        self.session = cxreportsSupport.open_session(self.http, self.base_url, self.workspace, self.token)
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cx") as pool:
            for future in [pool.submit(self._document, target) for target in self.targets]:
                future.result()

    def _document(self, target):
        db = self.connections.get()
        what = "import activity" if target is None else f"publisher {target[0]}"
        self.summary.add(documents=1)
        try:
            if target is None:
                data = cxreportsSupport.activity_data(db, self.start, self.end, leave_out_run=self.run_id)
                name = f"activity-{self.start}-{self.end - dt.timedelta(days=1)}.pdf"
            else:
                data = cxreportsSupport.statement_data(db, target[0], target[1], self.start, self.end)
                name = f"{target[0]}-{self.start}-{self.end - dt.timedelta(days=1)}.pdf"
                if not data["by_day"]:
                    # An all-zero statement is worse than none: the publisher's import may
                    # have failed, and a person should look before anything is sent.
                    self.summary.add(without_data=1)
                    self.summary.problem(f"{what}: no revenue rows in {mysql_db_reporting.STATS_TABLE} for "
                                         f"{self.start}..{self.end - dt.timedelta(days=1)}; no statement made "
                                         f"(check its import)")
                    return
            if self.options.job is None:
                path = cxreportsSupport.render_to_file(self.session, self.report, data, os.path.join(self.out, name),
                                                       self.max_wait)
                self.summary.add(saved=1)
                outcome = f"{what}: saved {path}"
            else:
                run_id, state, entries = cxreportsSupport.send_with_job(self.session, self.options.job, data,
                                                                        self.max_wait)
                self.summary.add(**{"delivered" if state == "delivered" else "waiting_for_review": 1})
                outcome = f"{what}: job {self.options.job} run {run_id} {state} ({entries} entries)"
                if state != "delivered":
                    self.summary.problem(f"{what}: job {self.options.job} run {run_id} waits for review in "
                                         f"CxReports ({entries} entries): a person must approve it there to send it")
        except AuthenticationError as err:
            with self.summary.lock:
                first = not self.summary.credentials_refused
                self.summary.credentials_refused += 1
                self.summary.failed += 1
            if first:          # refused for every document: said once
                self.summary.problem(f"{what}: {err} (CXREPORTSTOKEN refused: make a new token under Account -> "
                                     f"API tokens, then create-env-secrets-store.py CXREPORTSTOKEN)")
            return
        except (SuiteError, OSError, mysql_db.DatabaseError) as err:
            self.summary.add(failed=1)
            self.summary.problem(f"{what}: {err}")
            return
        with self.summary.lock:
            self.summary.outcomes.append(outcome)
        log.info("%s", outcome)
