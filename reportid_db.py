"""The reportID database: which Index Exchange report spec serves each (publisher,
report name) pair, and a fingerprint of what was last saved to it.

Kept with shelve (dbm.dumb, readable on any Python) in the settings store, as the seed
says, and made safe for several programs at once and for kills:
- every change is written to a new generation folder, then made current by replacing
  one symlink (an atomic rename): a kill leaves the old database or the new, never half;
- readers take a shared lock, writers an exclusive one (flock on a lock file);
- `pair_lock` serialises the saving of one pair's spec across programs and threads, so
  two copies running at once never create two specs for one pair.
"""

import contextlib
import dbm.dumb
import fcntl
import hashlib
import json
import os
import shelve
import shutil

from errors import ConfigurationError

FOLDER_NAME = "reportid-db"
SHELF_NAME = "reportids"
RECORD_KEYS = {"publisher_id", "report_name", "reportID"}


def record_key(publisher_id, report_name):
    return f"{int(publisher_id)}\t{report_name}"


class ReportIdDB:
    """The reportID database of one host: {(publisher_id, report name): record}, where a
    record holds the spec's reportID, the fingerprint of what was saved, its title and
    when. Safe for several programs at once (flock) and for kills (generations switched
    by an atomic symlink rename); `pair_lock` keeps two programs from saving one pair."""

    def __init__(self, settings_store):
        self.folder = os.path.join(os.fspath(settings_store), FOLDER_NAME)
        os.makedirs(os.path.join(self.folder, "locks"), exist_ok=True)
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
        digest = hashlib.sha1(record_key(publisher_id, report_name).encode()).hexdigest()[:20]
        with open(os.path.join(self.folder, "locks", digest), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_current(self):
        if not os.path.islink(self._current):
            return {}
        shelf_path = os.path.join(os.path.realpath(self._current), SHELF_NAME)
        try:
            with shelve.Shelf(dbm.dumb.open(shelf_path, "r")) as shelf:
                return {key: dict(shelf[key]) for key in shelf.keys()}
        except Exception as err:  # a damaged database must say so, not pass for empty
            raise ConfigurationError(f"reportID database {shelf_path} cannot be read ({err}); "
                                     f"restore it with json-to-ix-reportid-db.py or run tidy-reports.py") from None

    def all(self):
        """{key: record} of every pair."""
        with self._locked(exclusive=False):
            return self._read_current()

    def get(self, publisher_id, report_name):
        return self.all().get(record_key(publisher_id, report_name))

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
