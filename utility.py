"""Small helpers every part of the suite uses: the suite's name and version, masking of
secrets, atomic file writes, tables of text, counters shared by worker threads, the check
that ids a person gave are known."""

import contextlib
import dataclasses
import logging
import os
import tempfile
import threading

from errors import ConfigurationError

SUITE_NAME = "ix-import-suite"
SUITE_VERSION = "3.0.0"


def mask_secret(value, keep=0):
    """A secret as it may be shown: '********', or its first `keep` characters and '…'.

    Short secrets are fully masked whatever `keep` says, so that a mask never gives
    away most of a value.
    """
    if not value:
        return "(empty)"
    if keep and len(value) >= 4 * keep:
        return value[:keep] + "…" + f"({len(value)} characters)"
    return "********"


@contextlib.contextmanager
def atomic_file(path, mode=0o600):
    """A binary file to write into, which appears at `path` whole when the block ends
    (readers see the old file or the new one, never half), and not at all when it fails.

    It is created with `mode` from the start (a secret is never readable by others, not
    even for a moment), written, fsynced, then renamed over the old one; written as a
    stream, so a large file (a download kept, a PDF) needs no memory of its size."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write(path, data, mode=0o600):
    """Bytes written to `path` by atomic_file."""
    with atomic_file(path, mode) as f:
        f.write(data)


def format_table(headers, rows):
    """Rows as aligned text columns under a header line."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


@dataclasses.dataclass
class Tally:
    """Counters and problems that worker threads add to; subclasses declare the counters."""
    problems: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()

    def add(self, **counts):
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    logger = logging.getLogger("suite")   # subclasses name their program's logger

    def problem(self, text):
        """Note a problem: logged once, now (a summary counts them, not repeats them)."""
        with self.lock:
            self.problems.append(text)
        self.logger.warning("%s", text)

    def problems_line(self):
        """The summary's line about problems ([] when there were none)."""
        count = len(self.problems)
        return [f"  problems: {count}, each logged above"] if count else []


def only_known(rows, given, option, where):
    """The `rows` ((id, ...) tuples) whose id is among `given` (every row when `given` is
    None); a ConfigurationError naming the option, each unknown id and where they were
    looked for, when an id given is not there: a person's typo is never silently ignored."""
    if given is None:
        return list(rows)
    known = {row[0] for row in rows}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigurationError(f"{option}: publisher {', '.join(map(str, unknown))} not in {where}")
    wanted = set(given)
    return [row for row in rows if row[0] in wanted]


def cut_to_bytes(text, max_bytes, marker="…"):
    """`text` whose UTF-8 form is at most `max_bytes` bytes, cut at a character and ended
    with `marker` when cut: a database column holds bytes, and text cut by characters
    can be several times longer than it."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max_bytes - len(marker.encode("utf-8"))
    return data[:max(room, 0)].decode("utf-8", errors="ignore") + marker


def listed(items, limit=10, width=60):
    """Items for a one-line message: at most `limit` of them, each cut to `width`
    characters, and how many more there are (a file may bring 100,000 columns)."""
    items = list(items)
    shown = [text if len(text) <= width else text[:width - 1] + "…" for text in map(str, items[:limit])]
    more = f" (and {len(items) - limit:,} more)" if len(items) > limit else ""
    return ", ".join(shown) + more
