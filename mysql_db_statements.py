"""The figures CxReports documents are made from (cxreports-send.py): a publisher's
revenue statement for a period, and the import activity; SQL lives only in mysql_db*.py.
Periods are [start, end) in UTC dates."""


def statement_totals(db, publisher_id, start, end):
    """(impressions, revenue, ad_spend) of prog_ix_stats for a publisher and period."""
    return db.fetch_all("SELECT COALESCE(SUM(impressions), 0), COALESCE(SUM(publisher_payment), 0), "
                        "COALESCE(SUM(ad_spend), 0) FROM prog_ix_stats WHERE publisher_id = %s AND day >= %s "
                        "AND day < %s", (publisher_id, start, end))[0]


def statement_by_day(db, publisher_id, start, end):
    return db.fetch_all("SELECT DATE(day), SUM(impressions), SUM(publisher_payment) FROM prog_ix_stats "
                        "WHERE publisher_id = %s AND day >= %s AND day < %s GROUP BY DATE(day) ORDER BY DATE(day)",
                        (publisher_id, start, end))


def statement_by_site(db, publisher_id, start, end):
    return db.fetch_all("SELECT site_id, MAX(site_name), SUM(impressions), SUM(publisher_payment) FROM prog_ix_stats "
                        "WHERE publisher_id = %s AND day >= %s AND day < %s GROUP BY site_id "
                        "ORDER BY SUM(publisher_payment) DESC", (publisher_id, start, end))


def cal_impressions(db, publisher_id, start, end):
    """Impressions and net revenue of the CAL impression log, or None without that table."""
    if not db.table_exists("prog_ix_impression_log"):
        return None
    return db.fetch_all("SELECT COUNT(*), COALESCE(SUM(net_revenue), 0) FROM prog_ix_impression_log "
                        "WHERE publisher_id = %s AND timestamp >= %s AND timestamp < %s", (publisher_id, start, end))[0]


def import_activity(db, start, end, leave_out_run=None):
    """The runs of prog_ix_import_log that started in the period, oldest first (report files
    and CAL files both count as files loaded), but the run `leave_out_run` (the one asking:
    it has not finished yet)."""
    return db.fetch_all("SELECT program, host, started_at, finished_at, exit_code, "
                        "COALESCE(files_loaded, 0) + COALESCE(cal_files, 0), "
                        "COALESCE(rows_inserted, 0) + COALESCE(rows_updated, 0) + COALESCE(cal_rows, 0), problems "
                        "FROM prog_ix_import_log WHERE started_at >= %s AND started_at < %s AND run_id <> %s "
                        "ORDER BY started_at", (start, end, leave_out_run or ""))
