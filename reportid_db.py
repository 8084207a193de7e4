"""The reportID database: which Index Exchange report spec serves each (publisher,
report name) pair, and a fingerprint of what was last saved to it. Two stores, chosen
by PROGSALESREPORTIDSTORE, with one interface (`open_store`):

- shelve (the default, as the seed): dbm.dumb files in the settings store of one host,
  safe for several programs at once and for kills. The shelf lives in a generation
  folder made current by replacing one symlink (an atomic rename). A pair's record
  saved during a run is one small file in the generation's `records/` folder (written
  to a temporary name, then renamed), so a save costs the same at 10 pairs or 10,000;
  when the program closes the database (or the folder holds many), shelf and records
  are folded into a new generation. A kill leaves the old state or the new, never half;
  readers take a shared lock, writers an exclusive one (flock on a lock file).
- mysql: the table prog_ix_report_ids in the suite's database, shared by every host.

Both give a pair's work to one program at a time: `claim` (taken or refused at once,
for the main program's pairs) and `pair_lock` (waits), so two copies, on one host or
several, never create two specs for one pair nor work one pair at once. On shelve the
claim is a file lock that dies with its process; in MySQL it is a lease in the pair's
row, renewed while its holder lives and taken over once it has run out.
"""

import contextlib
import dataclasses
import dbm.dumb
import fcntl
import hashlib
import json
import logging
import os
import pickle
import shelve
import shutil
import socket
import threading
import time
import uuid

import mysql_db
import mysql_db_reporting
from errors import ConfigurationError, SuiteError
from utility import atomic_file

log = logging.getLogger("reportid-db")

FOLDER_NAME = "reportid-db"
SHELF_NAME = "reportids"
RECORDS_FOLDER = "records"
FOLD_AT = 256          # records saved since the last fold that make the next save fold them
RECORD_KEYS = {"publisher_id", "report_name", "reportID"}


# How far in the future a pair's "finished at" may lie and still count as finished during
# this run: a later one was written by a clock that was ahead (and has since been set
# back). Counting it would skip the pair, silently, until the clock caught up.
CLOCK_TOLERANCE = 60.0


def record_key(publisher_id, report_name):
    return f"{int(publisher_id)}\t{report_name}"


def _file_name(key, length=20):
    """A file name for a pair's key (report names hold any character)."""
    return hashlib.sha1(key.encode()).hexdigest()[:length]


class LeaseLostError(SuiteError):
    """This program's lease on a pair ran out and another host took the pair over."""


@dataclasses.dataclass
class Claim:
    """The answer to `claim`: `held` when this program now works the pair; otherwise
    `reason` says who does, or did during this run."""
    held: bool
    reason: str = ""


class ReportIdDB:
    """The reportID database of one host: {(publisher_id, report name): record}, where a
    record holds the spec's reportID, the fingerprint of what was saved, its title and
    when. Safe for several programs at once (flock) and for kills (generations switched
    by an atomic symlink rename); `pair_lock` keeps two programs from saving one pair."""

    def __init__(self, settings_store):
        self.folder = os.path.join(os.fspath(settings_store), FOLDER_NAME)
        os.makedirs(os.path.join(self.folder, "locks"), exist_ok=True)
        os.makedirs(os.path.join(self.folder, "claims"), exist_ok=True)
        self._claims = {}
        self._claims_lock = threading.Lock()
        self._future_said = False
        self._shelf_cache = None          # (generation folder, its shelf's records)
        self._current = os.path.join(self.folder, "current")
        self._lock_path = os.path.join(self.folder, ".lock")

    @contextlib.contextmanager
    def _locked(self, exclusive):
        with open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def pair_lock(self, publisher_id, report_name):
        with open(os.path.join(self.folder, "locks", _file_name(record_key(publisher_id, report_name))),
                  "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def now(self):
        return time.time()

    def claim(self, publisher_id, report_name, not_worked_since=None):
        """The pair for this program, or at once a Claim saying who has it: a lock on the
        pair's claim file, which dies with its holder. With `not_worked_since`, a pair
        another program finished since then is not taken again."""
        path = self._claim_path(publisher_id, report_name)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return Claim(False, "another program on this host is working it")
        handle.seek(0)
        try:
            worked = json.loads(handle.read() or "{}")
        except ValueError:   # a claim file half-written by a kill: as if never worked
            worked = {}
        worked_at = worked.get("worked_at", 0)
        if not_worked_since is not None and worked_at >= not_worked_since:
            if worked_at <= time.time() + CLOCK_TOLERANCE:
                handle.close()
                return Claim(False, f"finished by {worked.get('by', 'another program')} during this run")
            self._warn_future_claim(publisher_id, report_name, worked_at, worked.get("by"))
        with self._claims_lock:
            self._claims[(int(publisher_id), report_name)] = handle
        return Claim(True)

    def _warn_future_claim(self, publisher_id, report_name, worked_at, by):
        """Said once per program: pairs marked finished in the future are worked anyway."""
        with self._claims_lock:
            first, self._future_said = not self._future_said, True
        if first:
            log.warning("publisher %s, report %r: marked finished by %s at %s, in the future (a clock was "
                        "ahead?); worked now, as is every pair marked so", publisher_id, report_name,
                        by or "another program", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(worked_at)))

    def release(self, publisher_id, report_name, worked=True):
        with self._claims_lock:
            handle = self._claims.pop((int(publisher_id), report_name), None)
        if handle is None:
            return
        if worked:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"worked_at": time.time(), "by": f"{socket.gethostname()} pid {os.getpid()}"}))
            handle.flush()
        handle.close()

    def _claim_path(self, publisher_id, report_name):
        return os.path.join(self.folder, "claims", _file_name(record_key(publisher_id, report_name)))

    def close(self):
        """Give back the claims, and fold the records saved meanwhile into the shelf (so
        the database at rest is one shelf, as the seed's)."""
        with self._claims_lock:
            handles, self._claims = list(self._claims.values()), {}
        for handle in handles:
            handle.close()
        with self._locked(exclusive=True):
            if self._saved_records():
                self._write(self._read_current())

    def _read_current(self):
        if not os.path.islink(self._current):
            return {}
        records = dict(self._shelf_records())
        for path in self._saved_records():
            key, record = self._read_record(path)
            if record is None:
                records.pop(key, None)
            else:
                records[key] = record
        return {key: dict(record) for key, record in records.items()}

    def _read_record(self, path):
        """(key, record or None for deleted) of a saved record file."""
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception as err:  # a damaged database must say so, not pass for empty
            raise ConfigurationError(f"reportID database record {path} cannot be read ({_short(err)}); "
                                     f"{self._restore_hint()}") from None

    def _record_path(self, key):
        return os.path.join(self._records_folder(), _file_name(key, 24))

    def _restore_hint(self):
        return (f"nothing was sent to Index Exchange. Restore it from a dump with json-to-ix-reportid-db.py FILE, "
                f"or move {self.folder} away to start afresh (every pair then saves a new spec; tidy-reports.py "
                f"deactivates the old ones)")

    def check(self):
        """ConfigurationError when the database cannot be read whole (a shelf deleted or
        damaged, a record file corrupted): found before any call, not pair by pair."""
        with self._locked(exclusive=False):
            self._read_current()

    def _shelf_records(self):
        """{key: record} of the current generation's shelf. A generation's shelf never
        changes once written, so it is read once per generation."""
        generation = os.path.realpath(self._current)
        cached = self._shelf_cache
        if cached and cached[0] == generation:
            return cached[1]
        shelf_path = os.path.join(generation, SHELF_NAME)
        try:
            with shelve.Shelf(dbm.dumb.open(shelf_path, "r")) as shelf:
                records = {key: dict(shelf[key]) for key in shelf.keys()}
        except Exception as err:  # a damaged database must say so, not pass for empty
            raise ConfigurationError(f"reportID database {shelf_path} cannot be read ({_short(err)}); "
                                     f"{self._restore_hint()}") from None
        self._shelf_cache = (generation, records)
        return records

    def _records_folder(self):
        return os.path.join(os.path.realpath(self._current), RECORDS_FOLDER)

    def _saved_records(self):
        """Paths of the records saved into the current generation since its shelf was
        written (a name starting with "." is one a kill left half-written)."""
        if not os.path.islink(self._current):
            return []
        folder = self._records_folder()
        try:
            names = os.listdir(folder)
        except FileNotFoundError:        # a generation written before records were
            return []
        return [os.path.join(folder, n) for n in sorted(names) if not n.startswith(".")]

    def _save_record(self, key, record):
        """One pair's record (None: deleted) into the current generation, atomically."""
        if not os.path.islink(self._current):
            self._write({})
        target = self._record_path(key)
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        with atomic_file(target) as f:
            pickle.dump((key, None if record is None else dict(record)), f, protocol=4)
        _fsync_folder(folder)

    def all(self):
        """{key: record} of every pair."""
        with self._locked(exclusive=False):
            return self._read_current()

    def get(self, publisher_id, report_name):
        key = record_key(publisher_id, report_name)
        with self._locked(exclusive=False):
            if not os.path.islink(self._current):
                return None
            saved = self._record_path(key)
            _, record = self._read_record(saved) if os.path.exists(saved) else (key, self._shelf_records().get(key))
            return dict(record) if record is not None else None

    def put(self, record):
        self.change({record_key(record["publisher_id"], record["report_name"]): record})

    def remove_report_ids(self, report_ids):
        """Drop every record pointing at one of `report_ids`; returns how many."""
        wanted = {int(r) for r in report_ids}
        with self._locked(exclusive=True):
            records = self._read_current()
            doomed = [k for k, r in records.items() if int(r["reportID"]) in wanted]
            if doomed:
                self._write({k: v for k, v in records.items() if k not in doomed})
        return len(doomed)

    def change(self, updates):
        """Apply {key: record, or None to delete} atomically."""
        with self._locked(exclusive=True):
            if len(updates) == 1 and len(self._saved_records()) < FOLD_AT:
                [(key, record)] = updates.items()
                self._save_record(key, record)
                return
            records = self._read_current()
            for key, record in updates.items():
                if record is None:
                    records.pop(key, None)
                else:
                    records[key] = dict(record)
            self._write(records)

    def replace_all(self, records):
        """Make the database exactly `records` (a list of records)."""
        with self._locked(exclusive=True):
            self._write({record_key(r["publisher_id"], r["report_name"]): dict(r) for r in records})

    def _write(self, records):
        """A new generation holding `records`, then an atomic switch to it."""
        generation = 1 + max([int(n[4:]) for n in os.listdir(self.folder) if n.startswith("gen-")] or [0])
        folder = os.path.join(self.folder, f"gen-{generation:06d}")
        os.makedirs(folder)
        with shelve.Shelf(dbm.dumb.open(os.path.join(folder, SHELF_NAME), "n")) as shelf:
            for key, record in records.items():
                shelf[key] = record
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_folder(folder)
        link = os.path.join(self.folder, f".current-{generation}")
        os.symlink(os.path.basename(folder), link)
        os.replace(link, self._current)
        _fsync_folder(self.folder)
        # Older generations, and any left half-written by a kill, are no longer needed.
        for name in os.listdir(self.folder):
            path = os.path.join(self.folder, name)
            if name.startswith("gen-") and path != folder:
                shutil.rmtree(path, ignore_errors=True)
            elif name.startswith(".current-"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


class MySQLReportIdDB:
    """The reportID database as the table prog_ix_report_ids, shared by every host that
    imports into the database (PROGSALESREPORTIDSTORE=mysql).

    A pair is worked under a lease in its row: taken by a conditional UPDATE (so on a
    cluster the engine's commit-time check refuses a second taker), renewed every third
    of PROGSALESREPORTIDLEASE by a thread while this program lives, given back when the
    pair is done, and free for another host once it has run out (its holder died). A
    spec is recorded only while its lease is held, so a host whose lease ran out cannot
    overwrite the pair's spec that another host has saved since."""

    def __init__(self, connections, lease_seconds, host=None):
        self.connections = connections
        self.lease_seconds = float(lease_seconds)
        self.host = (host or socket.gethostname())[:255]
        self.holder = f"{self.host[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._held = {}                  # (publisher, report) -> how many holds this program has
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer = None

    # --- records ---
    def now(self):
        return mysql_db_reporting.server_time(self.connections.get())

    def all(self):
        return {record_key(r["publisher_id"], r["report_name"]): r
                for r in mysql_db_reporting.all_records(self.connections.get())}

    def get(self, publisher_id, report_name):
        return mysql_db_reporting.one_record(self.connections.get(), publisher_id, report_name)

    def put(self, record):
        with self.pair_lock(record["publisher_id"], record["report_name"]):
            if not mysql_db_reporting.save_spec(self.connections.get(), record, self.host, self.holder):
                raise LeaseLostError(
                    f"publisher {record['publisher_id']}, report {record['report_name']!r}: this program's lease ran "
                    f"out and another host took the pair; spec {record['reportID']} was not recorded (tidy-reports.py "
                    f"deactivates it if it is left unused)")

    def remove_report_ids(self, report_ids):
        return mysql_db_reporting.forget_report_ids(self.connections.get(), report_ids)

    def replace_all(self, records):
        mysql_db_reporting.replace_all(self.connections.get(), records, self.host)

    # --- leases ---
    def claim(self, publisher_id, report_name, not_worked_since=None):
        """The pair's lease for this program, or at once a Claim saying who has it (or
        finished the pair since `not_worked_since`, a time of `now()`)."""
        key = (int(publisher_id), report_name)
        with self._held_lock:
            if key in self._held:
                self._held[key] += 1
                return Claim(True)
        db = self.connections.get()
        mysql_db_reporting.ensure_pair_row(db, publisher_id, report_name)
        if mysql_db_reporting.take_lease(db, publisher_id, report_name, self.holder, self.lease_seconds,
                                         not_worked_since):
            self._hold(key)
            return Claim(True)
        state = mysql_db_reporting.lease_state(db, publisher_id, report_name) or {}
        if state.get("lease_holder") and state["lease_holder"] != self.holder and \
                (state.get("lease_until") or 0) >= state["now"]:
            host = state["lease_holder"].split(":")[0]
            return Claim(False, f"held by {host} for {state['lease_until'] - state['now']:.0f} s more")
        if not_worked_since is not None and (state.get("worked_at") or 0) >= not_worked_since:
            return Claim(False, f"finished by {state.get('worked_by_host')} during this run")
        return Claim(False, "taken by another host just now")

    def release(self, publisher_id, report_name, worked=True):
        key = (int(publisher_id), report_name)
        with self._held_lock:
            count = self._held.get(key, 0)
            if count > 1:
                self._held[key] = count - 1
                return
            self._held.pop(key, None)
        if count:
            mysql_db_reporting.release_lease(self.connections.get(), publisher_id, report_name, self.holder,
                                             self.host, worked)

    @contextlib.contextmanager
    def pair_lock(self, publisher_id, report_name, wait=0.2):
        """The pair's lease for the length of the block, waiting while another program has it."""
        deadline = time.monotonic() + self.lease_seconds + 60
        while not self.claim(publisher_id, report_name).held:
            if time.monotonic() > deadline:
                raise LeaseLostError(f"publisher {publisher_id}, report {report_name!r}: another host has held the "
                                     f"pair for over {self.lease_seconds + 60:.0f} s")
            time.sleep(wait)
        try:
            yield
        finally:
            self.release(publisher_id, report_name, worked=False)

    def _hold(self, key):
        with self._held_lock:
            self._held[key] = self._held.get(key, 0) + 1
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew, name="lease-renewer", daemon=True)
                self._renewer.start()

    def _renew(self):
        # A third of the lease: two renewals may fail (a database restarting) before it runs out.
        while not self._stop.wait(self.lease_seconds / 3):
            with self._held_lock:
                if not self._held:
                    continue
            try:
                mysql_db_reporting.renew_leases(self.connections.get(), self.holder, self.lease_seconds)
            except mysql_db.DatabaseError as err:
                log.warning("cannot renew this program's pair leases: %s", err)

    def close(self):
        """Stop renewing and give back every lease still held (not as worked)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        with self._held_lock:
            held, self._held = list(self._held), {}
        for publisher_id, report_name in held:
            try:
                mysql_db_reporting.release_lease(self.connections.get(), publisher_id, report_name, self.holder,
                                                 self.host, worked=False)
            except mysql_db.DatabaseConnectionError:
                return      # the database is gone: every lease runs out by itself, no use waiting to reconnect
            except mysql_db.DatabaseError:
                continue


STORES = ("shelve", "mysql")


@contextlib.contextmanager
def open_store(settings, connections=None, store=None, check=True):
    """The reportID database PROGSALESREPORTIDSTORE (or `store`) names, closed after the
    block. The mysql store uses `connections` (a ConnectionPerThread), or its own. With
    `check`, a shelve that cannot be read whole is a ConfigurationError at once (not
    given when restoring one)."""
    store = store or settings.get("PROGSALESREPORTIDSTORE")
    if store == "shelve":
        database = ReportIdDB(settings.settings_store())
        try:
            if check:
                database.check()
            yield database
        finally:
            database.close()
        return
    own = connections is None
    if own:
        connections = mysql_db.ConnectionPerThread(settings)
    database = MySQLReportIdDB(connections, settings.integer("PROGSALESREPORTIDLEASE", minimum=2))
    try:
        db = connections.get()
        if not db.table_exists(mysql_db_reporting.REPORT_IDS_TABLE):
            raise ConfigurationError(f"PROGSALESREPORTIDSTORE=mysql: table {mysql_db_reporting.REPORT_IDS_TABLE} does "
                                     f"not exist (create it with report-create-db-tables.py)")
        yield database
    finally:
        database.close()
        if own:
            connections.close()


def _short(err):
    """An error's own words, short (a damaged file can make them long)."""
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= 200 else text[:197] + "..."


def _fsync_folder(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Every field a record may hold, with the types it may have (bool is not a number here).
RECORD_FIELDS = {"publisher_id": (int,), "report_name": (str,), "reportID": (int,),
                 "fingerprint": (str,), "title": (str,), "saved_at": (int, float)}


def read_records_file(path):
    """Records from a JSON dump file (as ix-reportid-db-to-json.py writes it), or one
    ConfigurationError saying what is wrong where."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path}: is a folder, not a JSON file") from None
    except OSError as err:
        raise ConfigurationError(f"{path}: cannot read it: {err.strerror}") from None
    except RecursionError:
        raise ConfigurationError(f"{path}: not a reportID database dump (JSON nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigurationError(f"{path}: not valid JSON: {err}") from None
    return validate_records(data, path)


def validate_records(data, source):
    """Records from a JSON dump, or ConfigurationError saying what is wrong where."""
    if not isinstance(data, dict) or not isinstance(data.get("reports"), list):
        raise ConfigurationError(f"{source}: expected an object with a \"reports\" list")
    records, seen = [], set()
    for index, item in enumerate(data["reports"]):
        where = f"{source}: reports[{index}]"
        if not isinstance(item, dict) or not RECORD_KEYS <= set(item):
            raise ConfigurationError(f"{where}: needs the keys {', '.join(sorted(RECORD_KEYS))}")
        unknown = sorted(set(item) - set(RECORD_FIELDS))
        if unknown:
            raise ConfigurationError(f"{where}: unknown key {', '.join(unknown)} "
                                     f"(a record holds {', '.join(RECORD_FIELDS)})")
        for field, value in item.items():
            types = RECORD_FIELDS[field]
            if isinstance(value, bool) or not isinstance(value, types) or \
                    (field in RECORD_KEYS and isinstance(value, float)):
                wanted = " or ".join({int: "an integer", float: "a number", str: "a string"}[t] for t in types)
                raise ConfigurationError(f"{where}: {field} must be {wanted}, got {json.dumps(value)[:60]}")
        if not item["report_name"]:
            raise ConfigurationError(f"{where}: report_name must be a non-empty string")
        key = record_key(item["publisher_id"], item["report_name"])
        if key in seen:
            raise ConfigurationError(f"{where}: publisher {item['publisher_id']} and report "
                                     f"{item['report_name']!r} appear twice")
        seen.add(key)
        records.append(dict(item))
    return records
