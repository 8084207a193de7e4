"""Reading and writing the suite's local files: report templates in the templates store,
and the private scratch folder of a run."""

import contextlib
import fcntl
import glob
import json
import os
import shutil
import tempfile
import time

from errors import ConfigurationError
from utility import atomic_write


def template_file_name(title):
    """A template's file name: the report's title, with '/' (not allowed in a name) as '_'."""
    name = title.replace("/", "_").replace("\0", "").strip()
    if name in ("", ".", ".."):
        raise ConfigurationError(f"cannot name a template file after the title {title!r}")
    return name


def template_path(settings, report_name):
    return settings.templates_store() / template_file_name(report_name)


def read_template(settings, report_name):
    """The report spec stored for `report_name`; ConfigurationError naming the file if
    it is missing, not JSON, or not a spec with fields."""
    path = template_path(settings, report_name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"no template {path} (get it with get-report-template.py REPORTID)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigurationError(f"cannot read template {path}: {err}") from None
    try:
        spec = json.loads(text)
    except ValueError as err:
        raise ConfigurationError(f"template {path} is not valid JSON: {err}") from None
    if isinstance(spec, dict) and isinstance(spec.get("reportDefinition"), dict):
        spec = spec["reportDefinition"]
    fields = spec.get("querySpec", {}).get("fields") if isinstance(spec, dict) else None
    if not (isinstance(fields, list) and fields and all(isinstance(f, str) for f in fields)):
        raise ConfigurationError(f"template {path} has no querySpec.fields list")
    return spec


def write_template(settings, spec, name):
    """Store a spec in the templates store under `name`; returns the path."""
    path = template_path(settings, name)
    atomic_write(path, (json.dumps(spec, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), mode=0o644)
    return path


def ensure_folder(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise ConfigurationError(f"cannot create folder {path}: {err.strerror}") from None
    return path


ALIVE_FILE = ".alive"
# A folder without its lock file is left alone this long: its run may be creating it.
UNLOCKED_GRACE_SECONDS = 3600


@contextlib.contextmanager
def run_folder(prefix):
    """A private scratch folder for one run (downloads), removed at the end. It holds a
    lock for the run's life, so a later run can tell a folder left by a killed run (lock
    free) from a live one, and removes those first: a kill -9 leaves nothing behind for
    longer than one run."""
    remove_dead_run_folders(prefix)
    path = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
    handle = open(os.path.join(path, ALIVE_FILE), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield path
    finally:
        handle.close()
        shutil.rmtree(path, ignore_errors=True)


def remove_dead_run_folders(prefix, folder=None):
    """Remove the scratch folders of runs that are no longer alive; returns their paths."""
    removed = []
    for path in glob.glob(os.path.join(folder or tempfile.gettempdir(), f"{prefix}*")):
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        lock_path = os.path.join(path, ALIVE_FILE)
        try:
            handle = open(lock_path, "r")
        except FileNotFoundError:
            # Not yet locked by a run starting now, or left by an older version of the suite.
            with contextlib.suppress(OSError):
                if time.time() - os.stat(path).st_mtime > UNLOCKED_GRACE_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
            continue
        except OSError:
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue        # its run is alive
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
