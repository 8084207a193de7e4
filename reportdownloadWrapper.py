"""Report files into tables: stream a downloaded file into the mapped table with the
publisher_id added, the caller's bookkeeping in the same transaction."""

import itertools

import readwrite
from errors import PublisherColumnInFileError, ReportFileError


# Rows looked at to guess whether a file is new data (bulk load) or a rerun (upsert).
SAMPLE_ROWS = 1000


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
    name = name or str(path)
    return db.run_transaction(
        lambda: _load_once(db, path, name, table, publisher_id, expected_fields, within),
        what=f"loading {name} into {table}")


def _load_once(db, path, name, table, publisher_id, expected_fields, within):
    constants = {"publisher_id": publisher_id}
    with readwrite.open_report_rows(path) as (header, rows):
        if any(h.lower() == "publisher_id" for h in header):
            raise PublisherColumnInFileError(f"{path}: the file has a publisher_id column of its own; "
                                             f"the suite adds publisher_id itself")
        _refuse_missing_columns(db, name, table, header, expected_fields)
        if db.galera:      # the file's rows and the row recording it, in one write set
            db.refuse_beyond_write_set(readwrite.count_data_rows(path) + 1, f"loading {name} into {table}")
        sample = list(itertools.islice(rows, SAMPLE_ROWS))
        with db.transaction():
            result = None
            if sample and not db.any_key_present(table, header, sample, constants) and readwrite.bulk_loadable(path):
                result = db.bulk_load_csv(table, path, header, constants)
            if result is None:
                result = db.load_rows(table, header, itertools.chain(sample, rows), constants=constants)
            if within is not None:
                within(result)
    return result


def _refuse_missing_columns(db, name, table, header, expected_fields):
    """A file without a field its template asks for, or without a column of the table's
    key (its rows would collapse onto each other), is not loaded at all."""
    present = {h.lower() for h in header}
    missing_fields = [f for f in expected_fields or () if f.lower() not in present]
    missing_keys = [k for k in db.missing_key_columns(table, list(header) + ["publisher_id"])
                    if k not in missing_fields]
    problems = []
    if missing_fields:
        problems.append(f"the template's field{'s' if len(missing_fields) > 1 else ''} {', '.join(missing_fields)}")
    if missing_keys:
        problems.append(f"{', '.join(missing_keys)} (part of the primary key of {table})")
    if problems:
        raise ReportFileError(f"{name} lacks {' and '.join(problems)}; "
                                  f"nothing of it was loaded")
