"""Report files into tables: stream a downloaded file into the mapped table with the
publisher_id added, the caller's bookkeeping in the same transaction (the loading policy
is loadingSupport's)."""

import loadingSupport
import readwrite
from errors import PublisherColumnInFileError


class ReportFileShape(loadingSupport.FileShape):
    """A report file as the suite loads it: its rows as they are, publisher_id added; the
    template's fields required; a plain CSV may go to the bulk path; `within(result)`
    books it."""

    def __init__(self, path, table, publisher_id, name, expected_fields, within):
        super().__init__(name, table, {"publisher_id": publisher_id})
        self.path, self.expected_fields, self.within = path, tuple(expected_fields or ()), within

    def rows(self, db, header, rows):
        if any(h.lower() == "publisher_id" for h in header):
            raise PublisherColumnInFileError(f"{self.name}: the file has a publisher_id column of its own; "
                                             f"the suite adds publisher_id itself")
        return list(header), rows

    def bulk_load(self, db, path, header, load_header):
        if not readwrite.bulk_loadable(path):
            return None
        return db.bulk_load_csv(self.table, path, header, self.constants)

    def book(self, db, result):
        if self.within is not None:
            self.within(result)


def load_report_file(db, path, table, publisher_id, name=None, expected_fields=None, within=None):
    """Upsert a report file's rows into `table`; returns mysql_db.LoadResult.

    The file is refused whole (ReportFileError) when it lacks a field of
    `expected_fields` (the template's) or a column of the table's primary key. A plain
    CSV whose first rows are all new is first offered to the database's bulk load,
    which keeps it only if every row went in cleanly; otherwise the rows are upserted.
    `within(result)` runs inside the same transaction (the caller records the file
    loaded there, so a file is loaded once however often it is collected). A transaction
    the server ends (lost connection, deadlock) is run again from the file. `name` names
    the file in errors (default: its path).
    """
    shape = ReportFileShape(path, table, publisher_id, name or str(path), expected_fields, within)
    return loadingSupport.load_file(db, path, shape)
