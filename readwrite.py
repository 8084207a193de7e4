"""Reading and writing the suite's local files, whichever half of the suite they serve:
report templates in the templates store; downloaded files verified by md5 and read back
as CSV rows whatever their packing (plain, gzip, zip); the private scratch folder of a run.
"""

import codecs
import contextlib
import csv
import errno
import fcntl
import glob
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib

from errors import ConfigurationError, DownloadIntegrityError, ReportFileError, SuiteError
from utility import atomic_write

log = logging.getLogger("readwrite")


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


# --- downloaded files ----------------------------------------------------------------------

def fetch_verified(fetch, path, expected_md5, what, attempts=2):
    """Run fetch(fileobj) into `path` until the bytes match `expected_md5` (when given);
    a mismatch is fetched again, then DownloadIntegrityError. Returns the size."""
    for attempt in range(1, attempts + 1):
        try:
            with open(path, "wb") as target:
                size = fetch(target)
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise SuiteError(f"{what}: no space left in {os.path.dirname(os.path.abspath(path))} for its "
                                 f"download; free some (it is collected next run)") from None
            raise
        if not expected_md5:
            return size
        digest = _md5(path)
        if digest == expected_md5.lower():
            return size
        log.warning("%s: md5 %s, Index Exchange lists %s (attempt %d)", what, digest, expected_md5, attempt)
    raise DownloadIntegrityError(f"{what}: downloaded bytes do not match the listed md5 after {attempts} attempts")


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
    """Whether a file may go to the database's bulk load (LOAD DATA): a plain CSV that it
    reads exactly as the upsert path's reader does (see _BulkScan). Any other file takes
    the upsert path, which stores what it reads or refuses the file naming the line: both
    paths follow one rule, and a field is the text it holds."""
    if packing(path) != "csv":
        return False
    # Read in chunks, not mapped: a mapped file's pages count toward the process's memory.
    scan = _BulkScan()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            if not scan.feed(chunk):
                return False
    return scan.finish()


# A quote that neither opens nor closes a field, nor is one of a doubled pair (a letter on
# each side, say): LOAD DATA and the reader may split such a line differently. The quote
# comes first and the byte before it is looked at behind it: the regex engine then jumps
# from quote to quote (30 times faster than a lookbehind first, which it tries at every byte).
_STRAY_QUOTE = re.compile(rb'"(?<=[^,\n"]")(?=[^,\r\n"])')


class _BulkScan:
    """Whether the bytes of a CSV file, fed chunk by chunk, are read by LOAD DATA exactly
    as the upsert path's reader reads them. LOAD DATA reads an unquoted NULL as SQL NULL,
    takes the header's line ending for the whole file, keeps a CR the reader takes for a
    line end, stores an unclosed quote and drops an extra field of an unterminated last
    line; so a file goes to the bulk path only when:
    - it holds no text NULL (the upsert path stores the four letters);
    - every line ends as the header does (CRLF; or LF, and then no CR anywhere), the
      last line too;
    - its quotes are even in number, and each opens or closes a field or is doubled;
    - no line is longer than MAX_LINE_CHARS (the reader refuses those).
    `problem` says why not."""

    def __init__(self):
        self.problem = None
        self._ending = None            # b"\r\n" or b"\n", once the header's end was seen
        self._tail = b""               # the last bytes fed, for what spans two chunks
        self._cr = self._lf = self._crlf = self._quotes = 0
        self._line = 0                 # bytes of the current (unfinished) line

    def feed(self, chunk):
        """Take the next chunk; False as soon as the file cannot go to the bulk path."""
        if self.problem or not chunk:
            return self.problem is None
        window = self._tail + chunk
        if b"NULL" in window:
            return self._refuse("the text NULL")
        if self._ending is None:
            first_lf = window.find(b"\n")
            if first_lf >= 0:
                self._ending = b"\r\n" if window[first_lf - 1:first_lf] == b"\r" else b"\n"
        self._cr += chunk.count(b"\r")
        self._lf += chunk.count(b"\n")
        self._crlf += (self._tail[-1:] + chunk).count(b"\r\n")
        self._quotes += chunk.count(b'"')
        if self._ending == b"\n" and self._cr:
            return self._refuse("a CR in a file whose lines end in LF")
        if _STRAY_QUOTE.search(window):
            return self._refuse("a quote that neither opens nor closes a field")
        lines = chunk.split(b"\n")
        self._line += len(lines[0])
        if len(lines) > 1:
            longest = max(self._line, max(len(line) for line in lines[1:-1]) if len(lines) > 2 else 0)
            self._line = len(lines[-1])
        else:
            longest = self._line
        if max(longest, self._line) > MAX_LINE_CHARS:
            return self._refuse(f"a line longer than {MAX_LINE_CHARS} bytes")
        self._tail = window[-3:]
        return True

    def finish(self):
        """Whether the whole file may go to the bulk path, once every chunk was fed."""
        if self.problem:
            return False
        if self._ending is None or not self._tail.endswith(b"\n"):
            return self._refuse("no line end after the last line")
        if self._ending == b"\r\n" and not self._cr == self._lf == self._crlf:
            return self._refuse("lines ending in CRLF mixed with others, or a CR alone")
        if self._quotes % 2:
            return self._refuse("a quote left open")
        return True

    def _refuse(self, why):
        self.problem = why
        log.debug("not for the bulk path: %s", why)
        return False


def unpack_to(path, target):
    """Write the unpacked bytes of a report file (plain, gzip or zip) to `target`; returns
    whether the result may go to the bulk load (see bulk_loadable)."""
    scan = _BulkScan()
    try:
        with _open_binary(path) as source, open(target, "wb") as out:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                scan.feed(chunk)
                out.write(chunk)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ReportFileError(f"{path}: cannot unpack: {err or type(err).__name__}") from None
    return scan.finish()


# The longest line a report or CAL file may have, in characters. Real lines are under a few
# KB; a longer one is refused before it is held whole (a 1 MB gzip can unpack to a 1 GiB
# line). The bulk path's scan applies the same bound, in bytes.
MAX_LINE_CHARS = 1 << 20


@contextlib.contextmanager
def open_report_rows(path, name=None):
    """(header, rows) of a report file, plain CSV, gzip or zip; rows are read lazily.
    Quoting is read strictly (a quote left open, or text after a closing quote, is an
    error naming the line), and no line may be longer than MAX_LINE_CHARS. Errors name the
    file as `name` (say "file 5000001"; default: its path)."""
    name = name or str(path)
    with contextlib.ExitStack() as stack:
        try:
            binary = stack.enter_context(_open_binary(path))
        except (OSError, zipfile.BadZipFile) as err:
            raise ReportFileError(f"{name}: cannot open: {err.strerror if isinstance(err, OSError) else err}") \
                from None
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.reader(_BoundedLines(text, name), strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise ReportFileError(f"{name}: empty file, not even a header") from None
        except UnicodeDecodeError:
            raise ReportFileError(_bad_text_where(path, name)) from None
        except (csv.Error, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise ReportFileError(f"{name}: cannot read the header: {err}") from None
        yield [h.strip() for h in header], _guarded(reader, path, name)


class _BoundedLines:
    """A text's lines for the csv reader, none longer than MAX_LINE_CHARS."""

    def __init__(self, text, name):
        self.text, self.name, self.number = text, name, 0

    def __iter__(self):
        return self

    def __next__(self):
        line = self.text.readline(MAX_LINE_CHARS + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > MAX_LINE_CHARS:
            raise ReportFileError(f"{self.name}, line {self.number}: longer than {MAX_LINE_CHARS:,} characters, "
                                  f"which no report line is; nothing of it was loaded")
        return line


def _guarded(reader, path, name):
    """Rows, with decoding and CSV errors named by file and line."""
    try:
        yield from reader
    except UnicodeDecodeError:
        raise ReportFileError(_bad_text_where(path, name)) from None
    except (csv.Error, OSError, EOFError, zlib.error) as err:
        raise ReportFileError(f"{name}, line {reader.line_num}: {err or type(err).__name__}") from None


def _bad_text_where(path, name):
    """Which line holds bytes that are not UTF-8. Text is decoded in chunks, so the
    decoder's position says nothing a person can use: read the file again line by line
    (only on this error path) to find it, in pieces, so a huge line is never held whole."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    number, offset = 1, 0
    with _open_binary(path) as binary:
        for piece in iter(lambda: binary.readline(1 << 16), b""):
            try:
                decoder.decode(piece, final=False)
            except UnicodeDecodeError as err:
                return (f"{name}, line {number}, byte {offset + err.start + 1} of the line: "
                        f"{piece[err.start:err.end]!r} is not UTF-8 text")
            if piece.endswith(b"\n"):
                number, offset = number + 1, 0
                decoder = codecs.getincrementaldecoder("utf-8")()
            else:
                offset += len(piece)
    return f"{name}: not UTF-8 text"


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


def copy_with_publisher_id(source, target, publisher_id):
    """Copy a report file (any packing) as plain CSV with publisher_id as its last column;
    returns the number of data rows."""
    with open_report_rows(source) as (header, rows):
        with open(target, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header + ["publisher_id"])
            count = 0
            for row in rows:
                writer.writerow(row + [str(publisher_id)])
                count += 1
    return count
