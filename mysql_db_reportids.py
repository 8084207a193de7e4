"""The reportID database in MySQL (PROGSALESREPORTIDSTORE=mysql): prog_ix_report_ids, one
row per (publisher, report name) pair, holding the pair's spec and its lease; SQL lives
only in mysql_db*.py.

Written with the importing user's SELECT, INSERT and UPDATE only (a forgotten pair's
reportID is set to NULL, never deleted), and correct on clustered engines: a lease is
taken by a conditional UPDATE whose conflicts the engine settles at the latest at COMMIT
(a Galera node refuses the second committer with a deadlock error, which the caller's
transaction retry then re-runs and finds the lease taken). Times are the database
server's clock (seconds since 1970, UTC), so hosts with skewed clocks agree on leases.
"""

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

RECORD_COLUMNS = ("publisher_id", "report_name", "reportID", "fingerprint", "title", "saved_at")


def _now(db):
    if db.engine == "sqlite":
        return "((julianday('now') - 2440587.5) * 86400.0)"
    return "UNIX_TIMESTAMP(NOW(6))"


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
    keep = "ON CONFLICT DO NOTHING" if db.engine == "sqlite" else "ON DUPLICATE KEY UPDATE publisher_id = publisher_id"
    db.execute(f"INSERT INTO {REPORT_IDS_TABLE} (publisher_id, report_name) VALUES (%s, %s) {keep}",
               (int(publisher_id), report_name))


def take_lease(db, publisher_id, report_name, holder, seconds, not_worked_since=None):
    """Whether `holder` now holds the pair's lease for `seconds`: taken when nobody holds
    it, its holder's lease ran out, or `holder` has it already; and, with
    `not_worked_since`, only when nobody finished the pair since then."""
    worked = "" if not_worked_since is None else " AND (worked_at IS NULL OR worked_at < %s)"
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
