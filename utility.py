"""Small helpers every part of the suite uses: the suite's name and version, masking of
secrets, atomic file writes, tables of text, counters shared by worker threads."""

import dataclasses
import logging
import os
import tempfile
import threading

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


def atomic_write(path, data, mode=0o600):
    """Write bytes to `path` so that readers see the old file or the new one, never half.

    The file is created with `mode` from the start (a secret is never readable by
    others, not even for a moment), fsynced, then renamed over the old one.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


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
