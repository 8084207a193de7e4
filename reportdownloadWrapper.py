"""Report files into tables: stream a downloaded file into the mapped table with the
publisher_id added, the caller's bookkeeping in the same transaction (the loading policy
is loadingSupport's)."""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import loadingSupport
import mysql_db_reporting
import readwrite
from errors import PublisherColumnInFileError, SuiteError


class SupersededError(SuiteError):
    """A newer file of the same publisher and table, loaded already, covers some of this
    file's days: this one must not replace them."""

    def __init__(self, name, newer):
        super().__init__(f"{name}: file {newer}, asked for later and loaded already, covers some of its days; "
                         f"an older file never replaces a newer one's")
        self.newer = newer


@dataclasses.dataclass
class WindowReplacement:
    """A file that replaces its window: every row of its publisher in `table` whose
    `column` (a day or an hour) lies in [from, to) of `time_range` (Index Exchange's
    reportTimeRange of the file, `to` excluded) is deleted before its rows go in."""
    column: str
    time_range: tuple
    file_id: int


class ReportFileShape(loadingSupport.FileShape):
    """A report file as the suite loads it: its rows as they are, publisher_id added; the
    template's fields required; a plain CSV may go to the bulk path; with `replace`, its
    window emptied first; `within(result)` books it."""

    def __init__(self, path, table, publisher_id, name, expected_fields, within, replace=None):
        super().__init__(name, table, {"publisher_id": publisher_id})
        self.path, self.expected_fields, self.within = path, tuple(expected_fields or ()), within
        self.publisher_id, self.replace = publisher_id, replace
        self.loadable = None               # the bulk path's verdict on the file, when known already

    def clear_window(self, db):
        if self.replace is None:
            return 0
        newer = mysql_db_reporting.newer_file_overlapping(db, self.replace.file_id, self.publisher_id, self.table,
                                                          self.replace.time_range)
        if newer:
            raise SupersededError(self.name, newer)
        # The file is checked for the bulk path here while the server deletes the window:
        # the check's work in this process and the server's delete overlap.
        # (A failed delete leaves the pool's exit to wait for the check, whose verdict is dropped.)
        with ThreadPoolExecutor(max_workers=1) as pool:
            verdict = pool.submit(readwrite.bulk_loadable, self.path)
            removed = mysql_db_reporting.delete_window(db, self.table, self.replace.column, self.publisher_id,
                                                       self.replace.time_range)
            self.loadable = verdict.result()
        return removed

    def window_rows(self, db):
        if self.replace is None:
            return 0
        return mysql_db_reporting.window_rows(db, self.table, self.replace.column, self.publisher_id,
                                              self.replace.time_range)

    def rows(self, db, header, rows):
        if any(h.lower() == "publisher_id" for h in header):
            raise PublisherColumnInFileError(f"{self.name}: the file has a publisher_id column of its own; "
                                             f"the suite adds publisher_id itself")
        return list(header), rows

    def bulk_load(self, db, path, header, load_header):
        loadable, self.loadable = self.loadable, None
        if not (readwrite.bulk_loadable(path) if loadable is None else loadable):
            return None
        return db.bulk_load_csv(self.table, path, header, self.constants)

    def book(self, db, result):
        if self.within is not None:
            self.within(result)


def load_report_file(db, path, table, publisher_id, name=None, expected_fields=None, within=None, replace=None):
    """Upsert a report file's rows into `table`; returns mysql_db.LoadResult.

    The file is refused whole (ReportFileError) when it lacks a field of
    `expected_fields` (the template's) or a column of the table's primary key. A plain
    CSV whose first rows are all new is first offered to the database's bulk load,
    which keeps it only if every row went in cleanly; otherwise the rows are upserted.
    `within(result)` runs inside the same transaction (the caller records the file
    loaded there, so a file is loaded once however often it is collected). A transaction
    the server ends (lost connection, deadlock) is run again from the file. `name` names
    the file in errors (default: its path). With `replace` (a WindowReplacement), the
    publisher's rows in the file's window are deleted first, in the same transaction, so
    the table then holds exactly the file's rows for those days (result.removed counts
    the rows deleted); SupersededError when a newer file of an overlapping window is loaded.
    """
    shape = ReportFileShape(path, table, publisher_id, name or str(path), expected_fields, within, replace)
    return loadingSupport.load_file(db, path, shape)
