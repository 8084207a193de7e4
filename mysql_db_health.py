"""The import-health record: one row per run of every cron program, in prog_ix_import_log;
SQL lives only in mysql_db*.py.

A row is inserted when a run starts (so a run killed mid-way stays visible, unfinished)
and completed when it ends, with the importing user's INSERT and UPDATE only. A row left
open by a process that died is completed by a later run on the same host, with exit code
DIED (-1) and a problem saying so.
"""

from mysql_db import now_text

IMPORT_LOG_TABLE = "prog_ix_import_log"

# The problems column is TEXT: 65,535 bytes (not characters: a multi-byte text cut to
# 60,000 characters does not fit, and the run's row would stay "not finished").
PROBLEMS_BYTES = 60000

# The exit code recorded for a run whose process died without completing its row.
DIED = -1

# The counters a run may report; each program fills those that mean something for it.
COUNT_COLUMNS = ("pairs", "files_loaded", "files_pending", "files_failed", "files_expired", "rows_inserted",
                 "rows_updated", "rows_rejected", "rows_removed", "cal_files", "cal_rows")

HEALTH_TABLES = {
    IMPORT_LOG_TABLE: """CREATE TABLE prog_ix_import_log (
  run_id varchar(40) NOT NULL,
  program varchar(64) NOT NULL,
  host varchar(255) NOT NULL,
  pid int DEFAULT NULL,
  arguments varchar(2000) NOT NULL DEFAULT '',
  started_at datetime(6) NOT NULL,
  finished_at datetime(6) DEFAULT NULL,
  exit_code int DEFAULT NULL,
  pairs int DEFAULT NULL,
  files_loaded int DEFAULT NULL,
  files_pending int DEFAULT NULL,
  files_failed int DEFAULT NULL,
  files_expired int DEFAULT NULL,
  rows_inserted bigint DEFAULT NULL,
  rows_updated bigint DEFAULT NULL,
  rows_rejected bigint DEFAULT NULL,
  rows_removed bigint DEFAULT NULL,
  cal_files int DEFAULT NULL,
  cal_rows bigint DEFAULT NULL,
  problems text,
  PRIMARY KEY (run_id))""",
}


def open_run(db, run_id, program, host, pid, arguments):
    """The row of a run that has started (finished_at and exit_code still NULL)."""
    row = [run_id, program, host[:255], str(int(pid)), arguments[:2000], now_text(precise=True)]
    db.run_transaction(lambda: db.load_rows(IMPORT_LOG_TABLE, ["run_id", "program", "host", "pid", "arguments",
                                                               "started_at"], [row]),
                       what=f"recording the start of {program}")


def close_run(db, run_id, exit_code, counts, problems, finished_at=None):
    """Complete a run's row (still open): when it finished, its exit code, counts and
    problems. Returns whether a row was completed."""
    columns = [c for c in COUNT_COLUMNS if counts.get(c) is not None]
    assignments = ", ".join(f"{c} = %s" for c in columns)
    return db.execute(f"UPDATE {IMPORT_LOG_TABLE} SET finished_at = %s, exit_code = %s, problems = %s"
                      + (f", {assignments}" if assignments else "") + " WHERE run_id = %s AND finished_at IS NULL",
                      (finished_at or now_text(precise=True), int(exit_code), problems or None,
                       *[int(counts[c]) for c in columns], run_id)) == 1


def open_runs_of_host(db, host):
    """[(run_id, program, pid, started_at)] of this host's rows still open."""
    return db.fetch_all(f"SELECT run_id, program, pid, started_at FROM {IMPORT_LOG_TABLE} "
                        f"WHERE finished_at IS NULL AND host = %s ORDER BY started_at", (host[:255],))


def runs(db, program=None):
    """[dict] of the recorded runs (of one program), oldest first."""
    keys = ["run_id", "program", "host", "pid", "arguments", "started_at", "finished_at", "exit_code",
            *COUNT_COLUMNS, "problems"]
    where = " WHERE program = %s" if program else ""
    rows = db.fetch_all(f"SELECT {', '.join(keys)} FROM {IMPORT_LOG_TABLE}{where} ORDER BY started_at",
                        (program,) if program else ())
    return [dict(zip(keys, row)) for row in rows]


def runs_since(db, since, program=None):
    """[dict] of the runs that started at or after `since` (text, UTC), of one program or
    all, oldest first."""
    keys = ["run_id", "program", "host", "pid", "arguments", "started_at", "finished_at", "exit_code",
            *COUNT_COLUMNS, "problems"]
    where, params = "WHERE started_at >= %s", [since]
    if program:
        where += " AND program = %s"
        params.append(program)
    rows = db.fetch_all(f"SELECT {', '.join(keys)} FROM {IMPORT_LOG_TABLE} {where} ORDER BY started_at", params)
    return [dict(zip(keys, row)) for row in rows]


def open_runs_before(db, since):
    """[dict] of runs still open that started before `since` (they show in no window)."""
    keys = ["run_id", "program", "host", "pid", "arguments", "started_at", "finished_at", "exit_code",
            *COUNT_COLUMNS, "problems"]
    rows = db.fetch_all(f"SELECT {', '.join(keys)} FROM {IMPORT_LOG_TABLE} WHERE finished_at IS NULL "
                        f"AND started_at < %s ORDER BY started_at", (since,))
    return [dict(zip(keys, row)) for row in rows]


def last_runs(db):
    """{program: (started_at of its last run, started_at of its last successful run or None)}
    of every program ever recorded."""
    rows = db.fetch_all(f"SELECT program, MAX(started_at), MAX(CASE WHEN exit_code = 0 THEN started_at END) "
                        f"FROM {IMPORT_LOG_TABLE} GROUP BY program")
    return {program: (last, success) for program, last, success in rows}
