"""One run of cal-downloads.py (CalRun, on the shared cron skeleton): for each publisher's
API key, mappings and event-log files into their tables. Publishers are handled in
parallel by a bounded pool; one publisher's bad key or failing file is reported and the
others go on."""

import dataclasses
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import calSupport
import mysql_db
import mysql_db_cal
from authenticationSupport import AuthorizedSession, CalTokens
from cronrun import CronRun, RunSummary, in_shard
from errors import (ApiError, ApiUnavailableError, AuthenticationError, ConfigurationError, NotFoundError, PermissionDeniedError,
                    SuiteError)
from utility import mask_secret, only_known

log = logging.getLogger("cal-downloads")

PER_PUBLISHER_MAPPINGS = ("campaigns", "deals", "sites")
SHARED_MAPPINGS = ("buyers", "dsps", "partners")
EXCHANGE_RATES = "exchange_rates"
DEFAULT_WORKERS = 4
MAX_WORKERS = 32
DOWNLOAD_FOLDER_PREFIX = "ix-cal-"


@dataclasses.dataclass
class CalOptions:
    mappings: bool = True
    impressions: bool = False
    bids: bool = False
    workers: int = DEFAULT_WORKERS
    publisher_ids: list = None
    shard: tuple = None               # (K, N): only the publishers of shard K of N

    def validated(self):
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigurationError(f"-P must be 1..{MAX_WORKERS}, got {self.workers}")
        return dataclasses.replace(self)


@dataclasses.dataclass
class CalSummary(RunSummary):
    """What one run of cal-downloads.py did."""
    publishers: int = 0
    publishers_failed: int = 0
    mapping_rows: int = 0
    files_loaded: int = 0
    files_skipped: int = 0        # loaded before and unchanged
    files_failed: int = 0
    files_deferred: int = 0       # not tried: Index Exchange stalled on an earlier file of the publisher
    mappings_failed: int = 0
    rows_loaded: int = 0
    sentinels: int = 0            # non-integers stored as -9999
    extra_columns: set = dataclasses.field(default_factory=set)
    notices: list = dataclasses.field(default_factory=list)   # worth knowing, not failures

    logger = log
    title = "CAL summary"

    @property
    def complete(self):
        return not (self.publishers_failed or self.files_failed or self.files_deferred or self.mappings_failed
                    or self.interrupted)

    def lines(self):
        return [
            f"  publishers: {self.publishers} ({self.publishers_failed} failed)",
            f"  mapping rows loaded: {self.mapping_rows}",
            f"  log files: {self.files_loaded} loaded, {self.files_skipped} already loaded, {self.files_failed} failed"
            + (f", {self.files_deferred} left for the next run" if self.files_deferred else ""),
            f"  log rows: {self.rows_loaded} loaded; {self.sentinels} non-integer values stored as -9999",
            f"  columns kept in `other`: {', '.join(sorted(self.extra_columns)) or 'none'}",
            *[f"  notice: {notice}" for notice in self.notices],
        ]

    def health_counts(self):
        return {"files_failed": self.files_failed, "files_pending": self.files_deferred, "cal_files": self.files_loaded,
                "cal_rows": self.rows_loaded}


class CalRun(CronRun):
    """One run of cal-downloads.py: for each publisher's API key, the mappings and the
    event-log files into their tables, publishers in a bounded pool; one publisher's bad
    key or failing file is reported and the others go on."""

    program = "cal-downloads.py"
    folder_prefix = DOWNLOAD_FOLDER_PREFIX
    summary_class = CalSummary
    bulk_load_from_folder = True      # hourly files stream into LOAD DATA LOCAL (calSupport.load_file)

    def before_connecting(self):
        self.base_url = self.settings.url("INDEXEXCHANGEBASEURL")
        self.identity_url = self.settings.url("INDEXEXCHANGEIDENTITYURL")

    def check(self, db):
        self.tables = self._check_tables(db)
        keys = mysql_db_cal.api_keys(db)
        keys = only_known(keys, self.options.publisher_ids or None, "-p",
                          f"{mysql_db_cal.APIKEYS_TABLE} (no API key; add it with add-api-key.py)")
        keys = [(p, k) for p, k in keys if in_shard(p, self.options.shard)]
        if not keys:
            raise ConfigurationError(f"no API keys in {mysql_db_cal.APIKEYS_TABLE} (add them with add-api-key.py)"
                                     + (" for this shard" if self.options.shard else ""))
        self.keys = keys
        self.summary.publishers = len(keys)

    def steps(self, db):
        sessions = [(p, AuthorizedSession(self.http, self.base_url, CalTokens(
            self.http, self.identity_url, key, label=f"publisher {p} (key {mask_secret(key, keep=4)})")))
            for p, key in self.keys]
        if self.options.mappings:
            self._shared_mappings(sessions)
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="cal") as pool:
            for future in [pool.submit(self._guarded_publisher, p, s) for p, s in sessions]:
                future.result()

    def _check_tables(self, db):
        needed = [mysql_db_cal.APIKEYS_TABLE]
        if self.options.impressions or self.options.bids:
            needed += [mysql_db_cal.API_TABLE_MAPPING_TABLE, mysql_db_cal.CAL_DOWNLOAD_LOG_TABLE]
        missing = [t for t in needed if not db.table_exists(t)]
        tables = mysql_db_cal.api_tables(db) if db.table_exists(mysql_db_cal.API_TABLE_MAPPING_TABLE) else {}
        tables = {**{api: table for api, (table, _) in mysql_db_cal.CAL_API_TABLES.items()}, **tables}
        wanted = []
        if self.options.mappings:
            wanted += list(PER_PUBLISHER_MAPPINGS + SHARED_MAPPINGS) + ["creatives", "exchange_rates"]
        if self.options.impressions:
            wanted.append("impressions_log")
        if self.options.bids:
            wanted.append("bid_log")
        missing += [tables[api] for api in wanted if not db.table_exists(tables[api])]
        if missing:
            raise ConfigurationError(f"missing table {', '.join(dict.fromkeys(missing))} "
                                     f"(create them with cal-create-db-tables.py)")
        merging = [mysql_db.merging_keys_problem(db, tables[api]) for api in wanted]
        if any(merging):
            raise ConfigurationError("nothing was loaded:\n  " + "\n  ".join(p for p in merging if p))
        return tables

    def _load_mapping(self, db, name, items, publisher_id=None):
        rows, creatives = calSupport.mapping_rows(name, items)
        constants = {"publisher_id": publisher_id} if publisher_id is not None else None

        def load():
            loaded = db.load_rows(self.tables[name], calSupport.MAPPING_COLUMNS[name], rows, constants=constants)
            if creatives:
                db.load_rows(self.tables["creatives"], ["creative_id", "creative_name"], creatives)
            return loaded

        result = db.run_transaction(load, what=f"loading mapping {name}")
        self.summary.add(mapping_rows=result.rows)

    def _shared_mappings(self, sessions):
        """Buyers, dsps, partners and exchange rates: the same for everyone, each fetched
        once with the first key that can, and each reported on its own. Exchange rates are
        an optional API: when no key may use it (403, 404), that is a notice, not a failure."""
        db = self.connections.get()
        for name in SHARED_MAPPINGS + (EXCHANGE_RATES,):
            refusals = []
            for publisher_id, session in sessions:
                try:
                    items = calSupport.fetch_mapping(session, name)
                except ApiError as err:
                    log.info("shared mapping %s with publisher %s's key: %s", name, publisher_id, err)
                    refusals.append(err)
                    continue
                try:
                    self._load_mapping(db, name, items)
                except SuiteError as err:
                    self.summary.add(mappings_failed=1)
                    self.summary.problem(f"shared mapping {name}: {err}")
                break
            else:
                if name == EXCHANGE_RATES and refusals and \
                        all(isinstance(e, (PermissionDeniedError, NotFoundError)) for e in refusals):
                    self.summary.notices.append("exchange rates: not enabled for these keys; skipped")
                    log.info("exchange rates not enabled for these API keys (%s); skipped", refusals[-1])
                    continue
                self.summary.add(mappings_failed=1)
                last = f": {refusals[-1]}" if refusals else ""
                self.summary.problem(f"shared mapping {name}: no key could fetch it{last}")

    def _guarded_publisher(self, publisher_id, session):
        """One publisher's unexpected failure is reported; the others go on."""
        try:
            self._publisher(publisher_id, session)
        except Exception as err:  # one publisher must not sink the others or the summary
            log.debug("publisher %s failed", publisher_id, exc_info=True)
            self.summary.add(publishers_failed=1)
            self.summary.problem(f"publisher {publisher_id}: unexpected {type(err).__name__}: {err}")

    def _publisher(self, publisher_id, session):
        db = self.connections.get()
        try:
            if self.options.mappings:
                for name in PER_PUBLISHER_MAPPINGS:
                    try:
                        self._load_mapping(db, name, calSupport.fetch_mapping(session, name), publisher_id)
                    except AuthenticationError:
                        raise
                    except SuiteError as err:
                        # One mapping failing must not keep the logs from loading.
                        self.summary.add(mappings_failed=1)
                        self.summary.problem(f"publisher {publisher_id}, mapping {name}: {err}")
            files = calSupport.list_files(session, publisher_id, self.options.impressions, self.options.bids)
        except AuthenticationError as err:
            self.summary.add(publishers_failed=1, credentials_refused=1)
            self.summary.problem(f"publisher {publisher_id}: its API key was refused ({err.server_message}); "
                                 f"replace it with add-api-key.py {publisher_id}")
            return
        except SuiteError as err:
            self.summary.add(publishers_failed=1)
            self.summary.problem(f"publisher {publisher_id}: {err}")
            return
        try:
            loaded = mysql_db_cal.cal_loaded_files(db, publisher_id) if files else {}
        except SuiteError as err:
            self.summary.add(publishers_failed=1)
            self.summary.problem(f"publisher {publisher_id}: cannot read the download log: {err}")
            return
        wanted = [f for f in files if calSupport.needs_loading(f, loaded)]
        self.summary.add(files_skipped=len(files) - len(wanted))
        for number, cal_file in enumerate(wanted):
            if not self._file(db, session, cal_file):
                # Index Exchange stalled or went away (after the client's retries and the
                # download's deadline): the rest would wait as long, one after another.
                left = len(wanted) - number - 1
                if left:
                    self.summary.add(files_deferred=left)
                    self.summary.problem(f"publisher {publisher_id}: {left} more CAL files left for the next run, "
                                         f"since Index Exchange is not answering as it should")
                return

    def _file(self, db, session, cal_file):
        """Fetch and load one CAL file; False when Index Exchange did not serve it (the
        publisher's other files are then left for the next run)."""
        where = f"publisher {cal_file.publisher_id}, {cal_file.origin} file {cal_file.file_id} ({cal_file.hour})"
        path = os.path.join(self.folder, f"{cal_file.publisher_id}-{cal_file.file_id}.csv.gz")
        try:
            calSupport.fetch(session, cal_file, path)
            table = self.tables["impressions_log" if cal_file.origin == "impressions_log" else "bid_log"]
            result, shaped = calSupport.load_file(db, path, table, cal_file)
        except ApiUnavailableError as err:
            self.summary.add(files_failed=1)
            self.summary.problem(f"{where}: {err}")
            return False
        except SuiteError as err:
            self.summary.add(files_failed=1)
            self.summary.problem(f"{where}: {err}")
            return True
        finally:
            if os.path.exists(path):
                os.unlink(path)
        with self.summary.lock:
            self.summary.extra_columns.update(shaped.extra_columns)
        self.summary.add(files_loaded=1, rows_loaded=result.rows, sentinels=shaped.sentinels)
        log.info("%s: %d rows (%d new, %d updated), %d values as -9999", where, result.rows, result.inserted,
                 result.updated, shaped.sentinels)
        return True
