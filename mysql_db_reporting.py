"""The reporting half's tables and the queries on them; SQL lives only in mysql_db*.py.

prog_ix_publishers (as the seed defines it), the starter prog_ix_stats, and the
bookkeeping of files asked for (prog_ix_report_runs) and of pairs to run again
(prog_ix_report_queue); and the CREATE TABLE that check-report-schema.py proposes.
"""

import datetime as dt

from mysql_db import now_text as _now_text
from mysql_db_reportids import REPORT_ID_TABLES

PUBLISHERS_TABLE = "prog_ix_publishers"
REPORT_RUNS_TABLE = "prog_ix_report_runs"
PAIR_QUEUE_TABLE = "prog_ix_report_queue"
STATS_TABLE = "prog_ix_stats"

# Plain SQL that MySQL, MariaDB and SQLite all accept.
REPORTING_TABLES = {
    # As the seed defines it; filled by hand (INSERT) with the publishers to import.
    PUBLISHERS_TABLE: """CREATE TABLE prog_ix_publishers (
  publisher_id int NOT NULL,
  publisher varchar(64) DEFAULT NULL,
  country varchar(2) DEFAULT '',
  PRIMARY KEY (publisher_id))""",
    # A starter table for the Generic Revenue Report templates: keyed by day, publisher
    # and site, so a rerun of "today only" overwrites the day's rows.
    STATS_TABLE: """CREATE TABLE prog_ix_stats (
  day datetime NOT NULL,
  publisher_id int NOT NULL,
  site_id int NOT NULL,
  site_name varchar(255) NOT NULL DEFAULT '',
  domain varchar(255) NOT NULL DEFAULT '',
  impressions bigint NOT NULL DEFAULT 0,
  ad_spend decimal(24,8) NOT NULL DEFAULT 0,
  publisher_payment decimal(24,8) NOT NULL DEFAULT 0,
  ecpm decimal(24,8) NOT NULL DEFAULT 0,
  PRIMARY KEY (day, publisher_id, site_id))""",
    # The seed's "report runs download queue": every file asked for, from the moment its
    # run is requested until its rows are in (status pending -> loaded, or expired).
    REPORT_RUNS_TABLE: """CREATE TABLE prog_ix_report_runs (
  file_id bigint NOT NULL,
  report_id bigint NOT NULL,
  publisher_id int NOT NULL,
  report_name varchar(255) NOT NULL,
  db_table varchar(64) NOT NULL,
  status varchar(16) NOT NULL,
  requested_at datetime(6) NOT NULL,
  loaded_at datetime DEFAULT NULL,
  attempts int NOT NULL DEFAULT 0,
  rows_loaded bigint DEFAULT NULL,
  rows_inserted bigint DEFAULT NULL,
  rows_updated bigint DEFAULT NULL,
  range_from date DEFAULT NULL,
  range_to date DEFAULT NULL,
  last_error varchar(1000) DEFAULT NULL,
  PRIMARY KEY (file_id))""",
    # The seed's "reports to be run queue": pairs whose spec could not be saved or run.
    PAIR_QUEUE_TABLE: """CREATE TABLE prog_ix_report_queue (
  publisher_id int NOT NULL,
  report_name varchar(255) NOT NULL,
  status varchar(16) NOT NULL,
  queued_at datetime NOT NULL,
  last_error varchar(1000) DEFAULT NULL,
  PRIMARY KEY (publisher_id, report_name))""",
    # The reportID database, when PROGSALESREPORTIDSTORE=mysql (see mysql_db_reportids.py).
    **REPORT_ID_TABLES,
}


def publishers(db):
    """[(publisher_id, name)] of prog_ix_publishers, by id."""
    return [(int(pid), name) for pid, name in
            db.fetch_all(f"SELECT publisher_id, publisher FROM {PUBLISHERS_TABLE} ORDER BY publisher_id")]


def record_report_run(db, file_id, report_id, publisher_id, report_name, table):
    """Note a requested run's file as pending, before anything else can go wrong."""
    row = [str(file_id), str(report_id), str(publisher_id), report_name, table, "pending",
           _now_text(precise=True), "0"]
    db.run_transaction(lambda: db.load_rows(REPORT_RUNS_TABLE, [
        "file_id", "report_id", "publisher_id", "report_name", "db_table", "status", "requested_at", "attempts"],
        [row]), what=f"recording file {file_id}")


def pending_report_runs(db):
    """Files asked for but not loaded: [dict], oldest first."""
    rows = db.fetch_all(f"SELECT file_id, report_id, publisher_id, report_name, db_table, requested_at, attempts "
                        f"FROM {REPORT_RUNS_TABLE} WHERE status = 'pending' ORDER BY requested_at, file_id")
    keys = ["file_id", "report_id", "publisher_id", "report_name", "db_table", "requested_at", "attempts"]
    return [dict(zip(keys, row)) for row in rows]


def mark_report_run_loaded(db, file_id, result, time_range=None):
    """Inside the load's transaction: pending -> loaded, with the dates the file covered.
    False when another program loaded it first (the caller then rolls back, so the file
    counts once)."""
    start, end = time_range or (None, None)
    changed = db.execute(
        f"UPDATE {REPORT_RUNS_TABLE} SET status = 'loaded', loaded_at = %s, attempts = attempts + 1, "
        f"rows_loaded = %s, rows_inserted = %s, rows_updated = %s, range_from = %s, range_to = %s, "
        f"last_error = NULL WHERE file_id = %s AND status = 'pending'",
        (_now_text(), result.rows, result.inserted, result.updated, start, end, file_id))
    return changed == 1


def newer_file_covering(db, file_id, publisher_id, report_name, requested_at, time_range):
    """The file_id of a file of the same pair, asked for later and loaded already, whose
    dates cover all of `time_range`; None when there is none."""
    start, end = time_range
    if isinstance(requested_at, dt.datetime):
        requested_at = requested_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = db.fetch_all(
        f"SELECT file_id FROM {REPORT_RUNS_TABLE} WHERE publisher_id = %s AND report_name = %s "
        f"AND status = 'loaded' AND file_id <> %s AND requested_at > %s AND range_from <= %s AND range_to >= %s "
        f"ORDER BY requested_at DESC LIMIT 1",
        (publisher_id, report_name, file_id, requested_at, start, end))
    return int(rows[0][0]) if rows else None


def mark_report_run_problem(db, file_id, error, status="pending"):
    """Note why a file is still pending (or that it expired)."""
    db.execute(f"UPDATE {REPORT_RUNS_TABLE} SET status = %s, attempts = attempts + 1, last_error = %s "
               f"WHERE file_id = %s AND status = 'pending'", (status, str(error)[:1000], file_id))


def queue_pair(db, publisher_id, report_name, error):
    row = [str(publisher_id), report_name, "queued", _now_text(), str(error)[:1000]]
    db.run_transaction(lambda: db.load_rows(
        PAIR_QUEUE_TABLE, ["publisher_id", "report_name", "status", "queued_at", "last_error"], [row]),
        what=f"queueing publisher {publisher_id}, report {report_name!r}")


def queued_pairs(db):
    return [(int(p), name) for p, name in db.fetch_all(
        f"SELECT publisher_id, report_name FROM {PAIR_QUEUE_TABLE} WHERE status = 'queued' "
        f"ORDER BY queued_at, publisher_id")]


def mark_pair_done(db, publisher_id, report_name, status="done"):
    db.execute(f"UPDATE {PAIR_QUEUE_TABLE} SET status = %s WHERE publisher_id = %s AND report_name = %s "
               f"AND status = 'queued'", (status, publisher_id, report_name))


def stats_by_publisher(db):
    """[(publisher_id, rows, impressions)] of the starter prog_ix_stats."""
    return db.fetch_all(f"SELECT publisher_id, COUNT(*), SUM(impressions) FROM {STATS_TABLE} "
                        f"GROUP BY publisher_id ORDER BY publisher_id")


def create_table_sql(table, columns, key):
    """CREATE TABLE text for `columns` ([(name, declared type)]) keyed by `key` (names)."""
    lines = [f"  `{name}` {declared}" for name, declared in columns]
    lines.append(f"  PRIMARY KEY ({', '.join(f'`{k}`' for k in key)})")
    return f"CREATE TABLE `{table}` (\n" + ",\n".join(lines) + "\n)"
