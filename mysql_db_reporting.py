"""The reporting half's tables and the queries on them; SQL lives only in mysql_db*.py.

prog_ix_publishers (as the seed defines it), the starter prog_ix_stats, and the
bookkeeping of files asked for (prog_ix_report_runs), of pairs to run again
(prog_ix_report_queue), of the day's spec saves (prog_ix_spec_saves) and of backfills'
chunks (prog_ix_backfill_chunks); and the CREATE TABLE that check-report-schema.py proposes.
"""

import datetime as dt
import re

from mysql_db import now_text as _now_text

PUBLISHERS_TABLE = "prog_ix_publishers"
REPORT_RUNS_TABLE = "prog_ix_report_runs"
PAIR_QUEUE_TABLE = "prog_ix_report_queue"
SPEC_SAVES_TABLE = "prog_ix_spec_saves"
BACKFILL_CHUNKS_TABLE = "prog_ix_backfill_chunks"
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
    # run is requested until its rows are in (status pending -> loaded; or expired,
    # superseded, gone when Index Exchange no longer knows it, abandoned by a person).
    # unknown_count/since: runs that found it not listed, since when.
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
  unknown_count int NOT NULL DEFAULT 0,
  unknown_since datetime DEFAULT NULL,
  PRIMARY KEY (file_id))""",
    # The seed's "reports to be run queue": pairs whose spec could not be saved or run.
    PAIR_QUEUE_TABLE: """CREATE TABLE prog_ix_report_queue (
  publisher_id int NOT NULL,
  report_name varchar(255) NOT NULL,
  status varchar(16) NOT NULL,
  queued_at datetime NOT NULL,
  last_error varchar(1000) DEFAULT NULL,
  PRIMARY KEY (publisher_id, report_name))""",
    # Spec saves made per UTC day by every host (Index Exchange allows 2,000 a day):
    # taken one by one by a conditional UPDATE, so hosts share the day's budget.
    SPEC_SAVES_TABLE: """CREATE TABLE prog_ix_spec_saves (
  day date NOT NULL,
  saves int NOT NULL DEFAULT 0,
  refused_at datetime DEFAULT NULL,
  PRIMARY KEY (day))""",
    # Backfills (index-exchange-to-db.py --from/--to): one row per chunk of days of one
    # pair, written when the backfill begins. file_id is the run last asked for the chunk;
    # the chunk is done when that file is loaded (prog_ix_report_runs says), asked again
    # when it expired, was superseded or is gone. status: open, or abandoned by a person.
    BACKFILL_CHUNKS_TABLE: """CREATE TABLE prog_ix_backfill_chunks (
  backfill varchar(32) NOT NULL,
  publisher_id int NOT NULL,
  report_name varchar(255) NOT NULL,
  chunk_from date NOT NULL,
  chunk_to date NOT NULL,
  chunk_days int NOT NULL,
  status varchar(16) NOT NULL,
  file_id bigint DEFAULT NULL,
  asks int NOT NULL DEFAULT 0,
  begun_at datetime NOT NULL,
  asked_at datetime DEFAULT NULL,
  PRIMARY KEY (backfill, publisher_id, report_name, chunk_from))""",
}


def columns_of(table):
    """The column names the suite's CREATE TABLE gives `table` (to find an older one)."""
    ddl = REPORTING_TABLES[table]
    return [m.group(1) for m in re.finditer(r"^  ([a-z_A-Z0-9]+) ", ddl, re.M) if m.group(1) != "PRIMARY"]


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


def newer_file_overlapping(db, file_id, publisher_id, table, time_range):
    """The file_id of a file loaded into `table` for the publisher, asked for after
    `file_id`, whose dates overlap [from, to) of `time_range`; None when there is none.
    Such a file is newer than this one for those days: this one must not replace them."""
    start, end = time_range
    rows = db.fetch_all(
        f"SELECT r.file_id FROM {REPORT_RUNS_TABLE} r JOIN {REPORT_RUNS_TABLE} me ON me.file_id = %s "
        f"WHERE r.publisher_id = %s AND r.db_table = %s AND r.status = 'loaded' AND r.file_id <> me.file_id "
        f"AND r.requested_at > me.requested_at AND r.range_from < %s AND r.range_to > %s "
        f"ORDER BY r.requested_at DESC LIMIT 1", (file_id, publisher_id, table, end, start))
    return int(rows[0][0]) if rows else None


def window_rows(db, table, column, publisher_id, time_range):
    """How many rows of the publisher lie in [from, to) of `time_range` in `table`."""
    start, end = time_range
    return int(db.fetch_all(f"SELECT COUNT(*) FROM {db.quote(table)} WHERE publisher_id = %s "
                            f"AND {db.quote(column)} >= %s AND {db.quote(column)} < %s",
                            (publisher_id, start, end))[0][0])


def delete_window(db, table, column, publisher_id, time_range):
    """Delete the publisher's rows whose `column` (a day or an hour) lies in [from, to) of
    `time_range`; returns how many. `table` and `column` are the mapping's, checked
    against the database before any run."""
    start, end = time_range
    return db.execute(f"DELETE FROM {db.quote(table)} WHERE publisher_id = %s "
                      f"AND {db.quote(column)} >= %s AND {db.quote(column)} < %s", (publisher_id, start, end))


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


def mark_report_run_unlisted(db, file_id, gone_after_runs, gone_after_hours):
    """Note that Index Exchange did not list a pending file: (times so, since when, whether
    it is now `gone`: not listed on `gone_after_runs` runs over at least `gone_after_hours`).
    Returns (count, since, gone)."""
    def work():
        now = _now_text()
        db.execute(f"UPDATE {REPORT_RUNS_TABLE} SET unknown_count = unknown_count + 1, attempts = attempts + 1, "
                   f"unknown_since = COALESCE(unknown_since, %s) WHERE file_id = %s AND status = 'pending'",
                   (now, file_id))
        rows = db.fetch_all(f"SELECT unknown_count, unknown_since FROM {REPORT_RUNS_TABLE} WHERE file_id = %s",
                            (file_id,))
        count, since = rows[0]
        if isinstance(since, str):
            since = dt.datetime.fromisoformat(since)
        hours = (dt.datetime.fromisoformat(now) - since).total_seconds() / 3600
        gone = count >= gone_after_runs and hours >= gone_after_hours
        reason = (f"Index Exchange no longer knows it: not listed on {count} runs since {since:%Y-%m-%d %H:%M} UTC"
                  if gone else f"not listed by Index Exchange ({count} runs since {since:%Y-%m-%d %H:%M} UTC): "
                               f"not ready yet, or unknown to it")
        db.execute(f"UPDATE {REPORT_RUNS_TABLE} SET status = %s, last_error = %s WHERE file_id = %s "
                   f"AND status = 'pending'", ("gone" if gone else "pending", reason, file_id))
        return count, since, gone
    return db.run_transaction(work, what=f"noting file {file_id} not listed")


# What a person may do to a file that is not loaded, with pending-files.py.
SETTLED_STATUSES = ("gone", "expired", "abandoned", "superseded")


def abandon_report_runs(db, file_ids, reason):
    """pending, gone or expired files -> abandoned (with the person's reason); returns the
    ids changed."""
    return _change_status(db, file_ids, ("pending", "gone", "expired"), "abandoned", f"abandoned: {reason}")


def retry_report_runs(db, file_ids):
    """abandoned, gone or expired files -> pending again; returns the ids changed."""
    return _change_status(db, file_ids, ("abandoned", "gone", "expired"), "pending",
                          "put back to pending by a person", reset_unknown=True)


def _change_status(db, file_ids, from_statuses, to_status, reason, reset_unknown=False):
    changed = []
    marks = ", ".join(["%s"] * len(from_statuses))
    reset = ", unknown_count = 0, unknown_since = NULL" if reset_unknown else ""

    def work():
        changed.clear()
        for file_id in file_ids:
            if db.execute(f"UPDATE {REPORT_RUNS_TABLE} SET status = %s, last_error = %s{reset} WHERE file_id = %s "
                          f"AND status IN ({marks})", (to_status, reason[:1000], int(file_id), *from_statuses)):
                changed.append(int(file_id))
        return changed
    return db.run_transaction(work, what=f"marking files {to_status}")


def files_not_loaded(db, statuses=("pending", "gone", "expired", "abandoned")):
    """[dict] of files in those statuses, oldest first."""
    keys = ["file_id", "report_id", "publisher_id", "report_name", "db_table", "status", "requested_at", "attempts",
            "last_error"]
    marks = ", ".join(["%s"] * len(statuses))
    rows = db.fetch_all(f"SELECT {', '.join(keys)} FROM {REPORT_RUNS_TABLE} WHERE status IN ({marks}) "
                        f"ORDER BY requested_at, file_id", tuple(statuses))
    return [dict(zip(keys, row)) for row in rows]


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


def take_spec_save(db, day, budget):
    """Take one of the day's spec saves for this program; False when `budget` are taken
    (by any host) or Index Exchange refused saves that day."""
    def work():
        db.insert_if_missing(SPEC_SAVES_TABLE, ["day", "saves"], (day, 0))
        return db.execute(f"UPDATE {SPEC_SAVES_TABLE} SET saves = saves + 1 WHERE day = %s AND saves < %s "
                          f"AND refused_at IS NULL", (day, int(budget))) == 1
    return db.run_transaction(work, what="taking a spec save")


def refuse_spec_saves(db, day):
    """Index Exchange refused a save for the day (its own count is spent): no more today."""
    def work():
        db.insert_if_missing(SPEC_SAVES_TABLE, ["day", "saves"], (day, 0))
        db.execute(f"UPDATE {SPEC_SAVES_TABLE} SET refused_at = %s WHERE day = %s AND refused_at IS NULL",
                   (_now_text(), day))
    db.run_transaction(work, what="noting the day's saves used")


def spec_saves(db, day):
    """(saves taken, refused by Index Exchange) of a day."""
    rows = db.fetch_all(f"SELECT saves, refused_at FROM {SPEC_SAVES_TABLE} WHERE day = %s", (day,))
    return (int(rows[0][0]), rows[0][1] is not None) if rows else (0, False)


def stats_by_publisher(db):
    """[(publisher_id, rows, impressions)] of the starter prog_ix_stats."""
    return db.fetch_all(f"SELECT publisher_id, COUNT(*), SUM(impressions) FROM {STATS_TABLE} "
                        f"GROUP BY publisher_id ORDER BY publisher_id")


def create_table_sql(table, columns, key):
    """CREATE TABLE text for `columns` ([(name, declared type)]) keyed by `key` (names)."""
    lines = [f"  `{name}` {declared}" for name, declared in columns]
    lines.append(f"  PRIMARY KEY ({', '.join(f'`{k}`' for k in key)})")
    return f"CREATE TABLE `{table}` (\n" + ",\n".join(lines) + "\n)"


# --- the reportID database in MySQL (PROGSALESREPORTIDSTORE=mysql) -------------------------
# prog_ix_report_ids: one row per (publisher, report name) pair, holding the pair's spec
# and its lease.
#
# Written with the importing user's SELECT, INSERT and UPDATE only (a forgotten pair's
# reportID is set to NULL, never deleted), and correct on clustered engines: a lease is
# taken by a conditional UPDATE whose conflicts the engine settles at the latest at COMMIT
# (a Galera node refuses the second committer with a deadlock error, which the caller's
# transaction retry then re-runs and finds the lease taken). Times are the database
# server's clock (seconds since 1970, UTC), so hosts with skewed clocks agree on leases.

REPORT_IDS_TABLE = "prog_ix_report_ids"

REPORT_ID_TABLES = {
    REPORT_IDS_TABLE: """CREATE TABLE prog_ix_report_ids (
  publisher_id int NOT NULL,
  report_name varchar(255) NOT NULL,
  reportID bigint DEFAULT NULL,
  fingerprint varchar(64) DEFAULT NULL,
  title varchar(255) DEFAULT NULL,
  saved_at double DEFAULT NULL,
  saved_by_host varchar(255) DEFAULT NULL,
  lease_holder varchar(128) DEFAULT NULL,
  lease_until double DEFAULT NULL,
  worked_at double DEFAULT NULL,
  worked_by_host varchar(255) DEFAULT NULL,
  PRIMARY KEY (publisher_id, report_name))""",
}
REPORTING_TABLES.update(REPORT_ID_TABLES)

CLOCK_TOLERANCE = 60.0      # seconds a "finished at" may lie ahead of the server's clock
RECORD_COLUMNS = ("publisher_id", "report_name", "reportID", "fingerprint", "title", "saved_at")


def _now(db):
    return db.now_seconds_sql


def server_time(db):
    """The database server's clock, in seconds since 1970."""
    return float(db.fetch_all(f"SELECT {_now(db)}")[0][0])


def _record(row):
    record = dict(zip(RECORD_COLUMNS, row))
    record["publisher_id"], record["reportID"] = int(record["publisher_id"]), int(record["reportID"])
    if record["saved_at"] is not None:
        record["saved_at"] = float(record["saved_at"])
    return {k: v for k, v in record.items() if v is not None}


def all_records(db):
    """Every pair that has a spec: [record]."""
    return [_record(row) for row in db.fetch_all(
        f"SELECT {', '.join(RECORD_COLUMNS)} FROM {REPORT_IDS_TABLE} WHERE reportID IS NOT NULL "
        f"ORDER BY publisher_id, report_name")]


def one_record(db, publisher_id, report_name):
    rows = db.fetch_all(f"SELECT {', '.join(RECORD_COLUMNS)} FROM {REPORT_IDS_TABLE} "
                        f"WHERE publisher_id = %s AND report_name = %s AND reportID IS NOT NULL",
                        (int(publisher_id), report_name))
    return _record(rows[0]) if rows else None


def ensure_pair_row(db, publisher_id, report_name):
    """The pair's row, made when missing; a row another host made meanwhile is kept as it
    is. (Not INSERT IGNORE: it would also turn a name too long for the column into a
    warning and a truncated key.)"""
    db.insert_if_missing(REPORT_IDS_TABLE, ["publisher_id", "report_name"], (int(publisher_id), report_name))


def take_lease(db, publisher_id, report_name, holder, seconds, not_worked_since=None):
    """Whether `holder` now holds the pair's lease for `seconds`: taken when nobody holds
    it, its holder's lease ran out, or `holder` has it already; and, with
    `not_worked_since`, only when nobody finished the pair since then."""
    # A "finished at" in the future was written by a server clock that was ahead and has
    # been set back: it does not mean finished during this run.
    worked = "" if not_worked_since is None else \
        f" AND (worked_at IS NULL OR worked_at < %s OR worked_at > {_now(db)} + {CLOCK_TOLERANCE})"
    params = [holder, float(seconds), int(publisher_id), report_name, holder]
    if not_worked_since is not None:
        params.append(float(not_worked_since))
    changed = db.execute(
        f"UPDATE {REPORT_IDS_TABLE} SET lease_holder = %s, lease_until = {_now(db)} + %s "
        f"WHERE publisher_id = %s AND report_name = %s "
        f"AND (lease_holder IS NULL OR lease_until < {_now(db)} OR lease_holder = %s){worked}", params)
    return changed == 1


def lease_state(db, publisher_id, report_name):
    """{lease_holder, lease_until, worked_at, worked_by_host, now} of a pair, or None."""
    rows = db.fetch_all(f"SELECT lease_holder, lease_until, worked_at, worked_by_host, {_now(db)} "
                        f"FROM {REPORT_IDS_TABLE} WHERE publisher_id = %s AND report_name = %s",
                        (int(publisher_id), report_name))
    if not rows:
        return None
    holder, until, worked_at, worked_by, now = rows[0]
    return {"lease_holder": holder, "lease_until": None if until is None else float(until),
            "worked_at": None if worked_at is None else float(worked_at), "worked_by_host": worked_by,
            "now": float(now)}


def renew_leases(db, holder, seconds):
    """Push every lease `holder` holds `seconds` into the future; returns how many."""
    return db.execute(f"UPDATE {REPORT_IDS_TABLE} SET lease_until = {_now(db)} + %s WHERE lease_holder = %s",
                      (float(seconds), holder))


def release_lease(db, publisher_id, report_name, holder, host, worked):
    """Give the lease back (noting, when `worked`, that this host finished the pair now)."""
    done = f", worked_at = {_now(db)}, worked_by_host = %s" if worked else ""
    params = [host] if worked else []
    return db.execute(f"UPDATE {REPORT_IDS_TABLE} SET lease_holder = NULL, lease_until = NULL{done} "
                      f"WHERE publisher_id = %s AND report_name = %s AND lease_holder = %s",
                      (*params, int(publisher_id), report_name, holder))


def save_spec(db, record, host, holder):
    """Record the pair's spec while `holder` holds its lease; False when the lease was lost
    (another host took the pair after this one's lease ran out)."""
    return db.execute(
        f"UPDATE {REPORT_IDS_TABLE} SET reportID = %s, fingerprint = %s, title = %s, saved_at = {_now(db)}, "
        f"saved_by_host = %s WHERE publisher_id = %s AND report_name = %s AND lease_holder = %s",
        (int(record["reportID"]), record.get("fingerprint"), record.get("title"), host,
         int(record["publisher_id"]), record["report_name"], holder)) == 1


def forget_report_ids(db, report_ids):
    """Clear the pairs whose spec is one of `report_ids`; returns how many."""
    report_ids = [int(r) for r in report_ids]
    if not report_ids:
        return 0
    marks = ", ".join(["%s"] * len(report_ids))
    return db.execute(f"UPDATE {REPORT_IDS_TABLE} SET reportID = NULL, fingerprint = NULL, title = NULL "
                      f"WHERE reportID IN ({marks})", report_ids)


def replace_all(db, records, host):
    """Make the database exactly `records` in one transaction: those given are written
    (leases untouched), every other pair's spec is cleared."""
    def work():
        db.execute(f"UPDATE {REPORT_IDS_TABLE} SET reportID = NULL, fingerprint = NULL, title = NULL "
                   f"WHERE reportID IS NOT NULL")
        if records:
            rows = [[str(int(r["publisher_id"])), r["report_name"], str(int(r["reportID"])), r.get("fingerprint"),
                     r.get("title"), None if r.get("saved_at") is None else repr(float(r["saved_at"])), host]
                    for r in records]
            db.load_rows(REPORT_IDS_TABLE, ["publisher_id", "report_name", "reportID", "fingerprint", "title",
                                            "saved_at", "saved_by_host"], rows)
    db.run_transaction(work, what=f"replacing {REPORT_IDS_TABLE}")


def queued_pair_rows(db):
    """[dict] of the pairs waiting in the queue, oldest first."""
    keys = ["publisher_id", "report_name", "queued_at", "last_error"]
    rows = db.fetch_all(f"SELECT {', '.join(keys)} FROM {PAIR_QUEUE_TABLE} WHERE status = 'queued' "
                        f"ORDER BY queued_at, publisher_id")
    return [dict(zip(keys, row)) for row in rows]


def leases_held(db):
    """[dict] of the pairs whose lease a host holds now (the MySQL reportID store)."""
    rows = db.fetch_all(f"SELECT publisher_id, report_name, lease_holder, lease_until - {_now(db)} "
                        f"FROM {REPORT_IDS_TABLE} WHERE lease_holder IS NOT NULL AND lease_until >= {_now(db)} "
                        f"ORDER BY publisher_id, report_name")
    return [{"publisher_id": int(p), "report_name": name, "host": holder.split(":")[0],
             "seconds_left": round(float(left))} for p, name, holder, left in rows]


# --- backfills: the chunks of index-exchange-to-db.py --from/--to, and their state as the
# files asked for them (prog_ix_report_runs) say it -----------------------------------------

CHUNK_KEYS = ["backfill", "publisher_id", "report_name", "chunk_from", "chunk_to", "chunk_days", "status", "file_id",
              "asks", "begun_at", "asked_at", "file_status", "requested_at", "db_table", "report_id", "attempts",
              "loaded_at", "state"]
# A chunk is loaded when its file is, pending while its file is, to be asked (again) when
# it has no file or its file expired, was superseded, is gone or was set aside.
CHUNK_STATE_SQL = ("CASE WHEN c.status = 'abandoned' THEN 'abandoned' WHEN r.status = 'loaded' THEN 'loaded' "
                   "WHEN r.status = 'pending' THEN 'pending' ELSE 'to ask' END")


def _as_date(value):
    """A date column's value as a date (MySQL gives dates, SQLite text)."""
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else \
        dt.date.fromisoformat(str(value)[:10])


def recorded_chunk_days(db, backfill, report_names):
    """{report_name: chunk days} of the backfill as it was begun (reports not begun absent)."""
    marks = ", ".join(["%s"] * len(report_names))
    rows = db.fetch_all(f"SELECT report_name, MIN(chunk_days), MAX(chunk_days) FROM {BACKFILL_CHUNKS_TABLE} "
                        f"WHERE backfill = %s AND report_name IN ({marks}) GROUP BY report_name",
                        (backfill, *report_names))
    return {name: int(low) for name, low, _high in rows}


def begin_chunks(db, backfill, chunk_days, pairs, chunks):
    """Write the chunk rows of every (publisher, report) pair that has none yet; rows
    already there (an earlier run of the same backfill) are kept as they are."""
    def work():
        have = {(int(p), name, _as_date(first)) for p, name, first in db.fetch_all(
            f"SELECT publisher_id, report_name, chunk_from FROM {BACKFILL_CHUNKS_TABLE} WHERE backfill = %s",
            (backfill,))}
        now = _now_text()
        rows = [[backfill, str(pid), name, first.isoformat(), last.isoformat(), str(chunk_days), "open", "0", now]
                for pid, name in pairs for first, last in chunks if (int(pid), name, first) not in have]
        if rows:
            db.load_rows(BACKFILL_CHUNKS_TABLE, ["backfill", "publisher_id", "report_name", "chunk_from", "chunk_to",
                                                 "chunk_days", "status", "asks", "begun_at"], rows)
        return len(rows)
    return db.run_transaction(work, what=f"beginning backfill {backfill}")


def chunk_states(db, backfill=None, chunk=None):
    """[dict] of the chunks (of one backfill, or all; or the one `chunk`, a
    (publisher_id, report_name, first day) of the backfill), each with its file's status
    and its state (loaded, pending, to ask, abandoned), by backfill, report, publisher and
    first day."""
    where, params = ("WHERE c.backfill = %s", (backfill,)) if backfill else ("", ())
    if chunk is not None:
        where += " AND c.publisher_id = %s AND c.report_name = %s AND c.chunk_from = %s"
        params += (chunk[0], chunk[1], chunk[2].isoformat())
    rows = db.fetch_all(
        f"SELECT c.backfill, c.publisher_id, c.report_name, c.chunk_from, c.chunk_to, c.chunk_days, c.status, "
        f"c.file_id, c.asks, c.begun_at, c.asked_at, r.status, r.requested_at, r.db_table, r.report_id, r.attempts, "
        f"r.loaded_at, {CHUNK_STATE_SQL} FROM {BACKFILL_CHUNKS_TABLE} c "
        f"LEFT JOIN {REPORT_RUNS_TABLE} r ON r.file_id = c.file_id {where} "
        f"ORDER BY c.backfill, c.report_name, c.publisher_id, c.chunk_from", params)
    states = []
    for row in rows:
        state = dict(zip(CHUNK_KEYS, row))
        state["publisher_id"] = int(state["publisher_id"])
        state["chunk_from"], state["chunk_to"] = _as_date(state["chunk_from"]), _as_date(state["chunk_to"])
        states.append(state)
    return states


def record_chunk_file(db, backfill, publisher_id, report_name, chunk_from, file_id, report_id, table):
    """The run asked for a chunk: its file pending in prog_ix_report_runs (under the
    report's own name, so every program collects it like any other) and the chunk
    pointing at it, in one transaction: a kill leaves both or neither."""
    def work():
        record_report_run(db, file_id, report_id, publisher_id, report_name, table)
        db.execute(f"UPDATE {BACKFILL_CHUNKS_TABLE} SET file_id = %s, asks = asks + 1, asked_at = %s "
                   f"WHERE backfill = %s AND publisher_id = %s AND report_name = %s AND chunk_from = %s",
                   (file_id, _now_text(), backfill, publisher_id, report_name, chunk_from.isoformat()))
    db.run_transaction(work, what=f"recording file {file_id} of backfill {backfill}")


def abandon_chunks(db, backfill, keys):
    """Mark chunks (publisher_id, report_name, chunk_from) of a backfill abandoned; returns how many."""
    def work():
        return sum(db.execute(f"UPDATE {BACKFILL_CHUNKS_TABLE} SET status = 'abandoned' WHERE backfill = %s "
                              f"AND publisher_id = %s AND report_name = %s AND chunk_from = %s AND status = 'open'",
                              (backfill, pid, name, first.isoformat())) for pid, name, first in keys)
    return db.run_transaction(work, what=f"abandoning backfill {backfill}")
