"""One policy for loading a downloaded file into its table, whatever its source (report
files, CAL files): each source says how its rows are shaped and how the file is booked;
what happens in between is written once, here.

    read the header; shape the rows (the source's own rules)
    refuse a file lacking a field it must have or a column of the table's key
    on Galera, refuse a file larger than one write set may hold, before sending anything
    peek at the first rows: if none of their keys is in the table, offer the whole file
    to the bulk path (kept only if every row went in cleanly)
    otherwise, or if the bulk path declined, upsert every row (naming a row and column
    that does not fit)
    book the file (the source's bookkeeping) in the same transaction

A transaction the server ends (lost connection, deadlock) is run again whole, from the
file, so a file is loaded whole or not at all, and booked exactly when its rows are in.
"""

import itertools

import readwrite
from errors import ReportFileError
from utility import listed

# Rows looked at to tell a new file (bulk path) from a rerun (upsert).
PEEK_ROWS = 1000


class FileShape:
    """What one source makes of its files. The policy calls, in order: `rows` (the rows
    as they go into the table), `bulk_load` (when the first rows are new), `book` (inside
    the loading transaction). Sources set `name` (the file as messages name it), `table`,
    `constants` (columns added to every row) and `expected_fields` (fields the file must
    have, besides the table's key)."""

    expected_fields = ()

    def __init__(self, name, table, constants):
        self.name, self.table, self.constants = name, table, dict(constants)

    def rows(self, db, header, rows):
        """(header, rows) as they are loaded; the file's own by default."""
        return list(header), rows

    def bulk_load(self, db, path, header, load_header):
        """A LoadResult when the whole file went in by the database's bulk path; None when
        it must be upserted (nothing of it loaded then)."""
        return None

    def clear_window(self, db):
        """Inside the loading transaction, before the rows go in: delete what the file
        replaces (a report whose files replace their window); returns the rows deleted."""
        return 0

    def window_rows(self, db):
        """How many rows clear_window would delete (for Galera's write-set check)."""
        return 0

    def book(self, db, result):
        """The source's bookkeeping, inside the loading transaction."""


def load_file(db, path, shape):
    """Load the file at `path` as `shape` says; returns the LoadResult."""
    return db.run_transaction(lambda: _load_once(db, path, shape),
                              what=f"loading {shape.name} into {shape.table}")


def _load_once(db, path, shape):
    with readwrite.open_report_rows(path, shape.name) as (header, rows):
        load_header, stream = shape.rows(db, header, rows)
        refuse_missing_columns(db, shape, load_header)
        peeked = list(itertools.islice(stream, PEEK_ROWS))
        if db.galera:      # the rows deleted, the file's rows and the row booking it: one write set
            db.refuse_beyond_write_set(shape.window_rows(db) + readwrite.count_data_rows(path) + 1,
                                       f"loading {shape.name} into {shape.table}")
        with db.transaction():
            # A window the file replaces is emptied first: its rows are then all new, and
            # go to the bulk path.
            removed = shape.clear_window(db)
            result = None
            if peeked and db.bulk_load_folder and \
                    not db.any_key_present(shape.table, load_header, peeked, shape.constants):
                result = shape.bulk_load(db, path, header, load_header)
            if result is None:
                result = db.load_rows(shape.table, load_header, itertools.chain(peeked, stream),
                                      constants=shape.constants)
            result.removed = removed
            shape.book(db, result)
    return result


def refuse_missing_columns(db, shape, load_header):
    """A file without a field it must have, or without a column of the table's key (its
    rows would collapse onto each other), is not loaded at all."""
    present = {h.lower() for h in load_header}
    missing_fields = [f for f in shape.expected_fields if f.lower() not in present]
    missing_keys = [k for k in db.missing_key_columns(shape.table, list(load_header) + list(shape.constants))
                    if k not in missing_fields]
    problems = []
    if missing_fields:
        problems.append(f"the template's field{'s' if len(missing_fields) > 1 else ''} {listed(missing_fields)}")
    if missing_keys:
        problems.append(f"{listed(missing_keys)} (part of the primary key of {shape.table})")
    if problems:
        raise ReportFileError(f"{shape.name} lacks {' and '.join(problems)}; nothing of it was loaded")
