"""Report files as the suite fetches them: wait until ready (polling with backoff),
download and verify, and read back as rows whatever the packing."""

import contextlib
import csv
import gzip
import hashlib
import io
import logging
import mmap
import os
import time
import zipfile
import zlib

import reportdownloadAPI
from errors import SuiteError

log = logging.getLogger("reportdownload")

FIRST_POLL_WAIT = 0.5
POLL_GROWTH = 1.5
MAX_POLL_WAIT = 15.0


class DownloadIntegrityError(SuiteError):
    """A downloaded file does not match the hash Index Exchange lists for it."""


class ReportFileError(SuiteError):
    """A report file cannot be read as CSV."""


def wait_for_file(session, file_id, max_wait, sleep=time.sleep, clock=time.monotonic):
    """The file's list item once it is ready, or None after `max_wait` seconds.

    Asks at once, then after 0.5 s, and 1.5 times longer each time (at most 15 s).
    """
    started = clock()
    delay = FIRST_POLL_WAIT
    while True:
        items = reportdownloadAPI.list_files(session, file_ids=[file_id])
        for item in items:
            if item["fileID"] == file_id:
                return item
        remaining = max_wait - (clock() - started)
        if remaining <= 0:
            return None
        sleep(min(delay, remaining))
        delay = min(delay * POLL_GROWTH, MAX_POLL_WAIT)


def fetch_verified(fetch, path, expected_md5, what, attempts=2):
    """Run fetch(fileobj) into `path` until the bytes match `expected_md5` (when given);
    a mismatch is fetched again, then DownloadIntegrityError. Returns the size."""
    for attempt in range(1, attempts + 1):
        with open(path, "wb") as target:
            size = fetch(target)
        if not expected_md5:
            return size
        digest = _md5(path)
        if digest == expected_md5.lower():
            return size
        log.warning("%s: md5 %s, Index Exchange lists %s (attempt %d)", what, digest, expected_md5, attempt)
    raise DownloadIntegrityError(f"{what}: downloaded bytes do not match the listed md5 after {attempts} attempts")


def download_verified(session, item, path, attempts=2):
    """Download a listed report file to `path`, checked against the list's md5."""
    file_id = item["fileID"]
    return fetch_verified(lambda target: reportdownloadAPI.download_file(session, file_id, target), path,
                          item.get("hash"), f"file {file_id}", attempts)


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packing(path):
    """"gzip", "zip" or "csv": what a report file is, by its first bytes."""
    with open(path, "rb") as raw:
        magic = raw.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"PK\x03\x04":
        return "zip"
    return "csv"


def bulk_loadable(path):
    """Whether a file may go to the database's bulk load: a plain CSV without the text
    NULL anywhere. LOAD DATA reads an unquoted NULL field as SQL NULL, while the upsert
    path stores what the file says, the four letters; so such rare files take the upsert
    path and both paths follow one rule: a field is the text it holds."""
    if packing(path) != "csv":
        return False
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return view.find(b"NULL") < 0


@contextlib.contextmanager
def open_report_rows(path):
    """(header, rows) of a report file, plain CSV, gzip or zip; rows are read lazily."""
    with contextlib.ExitStack() as stack:
        try:
            binary = stack.enter_context(_open_binary(path))
        except (OSError, zipfile.BadZipFile) as err:
            raise ReportFileError(f"{path}: cannot open: {err}") from None
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            raise ReportFileError(f"{path}: empty file, not even a header") from None
        except UnicodeDecodeError:
            raise ReportFileError(_bad_text_where(path)) from None
        except (csv.Error, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise ReportFileError(f"{path}: cannot read the header: {err}") from None
        yield [h.strip() for h in header], _guarded(reader, path)


def _guarded(reader, path):
    """Rows, with decoding and CSV errors named by file and line."""
    try:
        yield from reader
    except UnicodeDecodeError:
        raise ReportFileError(_bad_text_where(path)) from None
    except (csv.Error, OSError, EOFError, zlib.error) as err:
        raise ReportFileError(f"{path}, line {reader.line_num}: {err or type(err).__name__}") from None


def _bad_text_where(path):
    """Which line holds bytes that are not UTF-8. Text is decoded in chunks, so the
    decoder's position says nothing a person can use: read the file again line by line
    (only on this error path) to find it."""
    with _open_binary(path) as binary:
        for number, line in enumerate(binary, start=1):
            try:
                line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                return (f"{path}, line {number}, byte {err.start + 1} of the line: {line[err.start:err.end]!r} "
                        f"is not UTF-8 text")
    return f"{path}: not UTF-8 text"


@contextlib.contextmanager
def _open_binary(path):
    """The unpacked bytes of a report file, plain, gzip or zip."""
    kind = packing(path)
    with contextlib.ExitStack() as stack:
        if kind == "gzip":
            yield stack.enter_context(gzip.open(path, "rb"))
        elif kind == "zip":
            archive = stack.enter_context(zipfile.ZipFile(path))
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ReportFileError(f"{path}: a zip report should hold one file, it holds {len(names)}")
            yield stack.enter_context(archive.open(names[0]))
        else:
            yield stack.enter_context(open(path, "rb"))


def count_data_rows(path):
    try:
        with open_report_rows(path) as (_, rows):
            return sum(1 for _ in rows)
    except SuiteError:
        return 0
