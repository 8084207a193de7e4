"""What a load guarantees when its input or the database misbehaves: a file lacking key
columns or template fields is refused whole; a lost connection or a lock conflict runs
the file's transaction again; counts stay exact while another program loads the same
keys; the text NULL is stored the same way on every path."""

import gzip
import threading
import time

import pytest

import calSupport
import mysql_db
import mysql_db_cal
from errors import ReportFileError
from reportdownloadWrapper import load_report_file

DDL = """CREATE TABLE prog_ix_stats (
  day datetime NOT NULL, publisher_id int NOT NULL, site_id int NOT NULL,
  site_name varchar(40) DEFAULT NULL, ad_spend decimal(14,6) NOT NULL DEFAULT 0,
  PRIMARY KEY (day, publisher_id, site_id))"""
FIELDS = ["day", "site_id", "site_name", "ad_spend"]


def write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows_for(count, start=0, spend="1.5"):
    return [["2026-06-01 00:00:00", str(i), f"site {i}", spend] for i in range(start, start + count)]


def importer(database, folder=None):
    """A second connection as the importing user (bulk loads allowed from `folder`)."""
    if database.engine == "sqlite":
        return mysql_db.SQLiteDatabase(database.settings_env["PROGSALESSQLITEPATH"])
    env = database.settings_env
    return mysql_db.MySQLDatabase("127.0.0.1", env["PROGSALESMYSQLPORT"], env["PROGSALESMYSQLUSERNAME"],
                                  env["PROGSALESMYSQLPASSWORD"], env["PROGSALESMYSQLDATABASE"],
                                  local_infile_dir=folder)


@pytest.fixture
def stats(database, tmp_path):
    database.create(DDL)
    db = importer(database, tmp_path)
    yield db, database
    db.close()


def count(database):
    return database.rows("SELECT COUNT(*) FROM prog_ix_stats")[0][0]


def kill_connection_of(db, admin):
    kill_connection(admin, connection_id_of(db))


def connection_id_of(db):
    return db.fetch_all("SELECT CONNECTION_ID()")[0][0]


def kill_connection(admin, connection_id):
    """Through the admin's connection only: a connection is never used by two threads."""
    admin.execute(f"KILL CONNECTION {int(connection_id)}")


# --- files lacking columns -------------------------------------------------------------

def test_file_lacking_a_template_field_is_refused_whole(stats, tmp_path):
    db, database = stats
    path = write_csv(tmp_path / "r.csv", ["day", "site_id", "ad_spend"], [r[:2] + r[3:] for r in rows_for(50)])
    with pytest.raises(ReportFileError, match=r"file 7 lacks the template's field site_name; nothing"):
        load_report_file(db, path, "prog_ix_stats", 1, name="file 7", expected_fields=FIELDS)
    assert count(database) == 0


def test_file_lacking_a_key_column_is_refused_whole_not_collapsed(stats, tmp_path):
    db, database = stats
    path = write_csv(tmp_path / "r.csv", ["day", "site_name", "ad_spend"], [[r[0], r[2], r[3]] for r in rows_for(50)])
    with pytest.raises(ReportFileError) as caught:
        load_report_file(db, path, "prog_ix_stats", 1)
    assert "site_id (part of the primary key of prog_ix_stats)" in str(caught.value)
    assert str(path) in str(caught.value)
    assert count(database) == 0, "not one row of 50 collapsed onto the default key"


def test_load_rows_refuses_rows_without_the_whole_key(stats):
    db, database = stats
    with pytest.raises(mysql_db.MissingColumnsError, match="site_id"):
        db.load_rows("prog_ix_stats", ["day", "site_name"], [["2026-06-01", "a"]], constants={"publisher_id": 1})
    assert count(database) == 0


def test_cal_bid_file_without_auction_id_is_refused_and_not_logged(database, tmp_path):
    mysql_db.create_tables(database.admin, {n: d for n, (_, d) in mysql_db_cal.CAL_TABLES.items()})
    header = ["timestamp", "dsp_id", "trading_desk_id", "creative_id", "deal_id", "site_id", "partner_id"]
    lines = [",".join(header)] + [f"2026-06-05 07:00:00,{i % 3},1,{i},d{i % 2},5,6" for i in range(81)]
    path = tmp_path / "bids.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    cal_file = calSupport.CalFile(4242, 180280, "bid_log", "2026-06-05 07:00:00", "http://x/4242", "", "new")
    with pytest.raises(ReportFileError, match=r"CAL file 4242 lacks auction_id \(part of the primary key"):
        calSupport.load_file(database.db, path, "prog_ix_bid_log", cal_file)
    assert database.rows("SELECT COUNT(*) FROM prog_ix_bid_log")[0][0] == 0
    assert database.rows("SELECT COUNT(*) FROM prog_ix_cal_download_log")[0][0] == 0


# --- one rule for the text NULL ---------------------------------------------------------

def test_text_null_is_the_same_text_on_every_path(stats, tmp_path):
    db, database = stats
    path = tmp_path / "r.csv"
    path.write_text("day,site_id,site_name,ad_spend\n2026-06-01,1,NULL,1\n2026-06-01,2,\"NULL\",1\n"
                    "2026-06-01,3,NULL Island,1\n", encoding="utf-8")
    load_report_file(db, path, "prog_ix_stats", 1)
    names = dict(database.rows("SELECT site_id, site_name FROM prog_ix_stats"))
    assert names == {1: "NULL", 2: "NULL", 3: "NULL Island"}, "a field is the text it holds"


# --- a lost connection, a lock conflict ---------------------------------------------------

def test_lost_connection_before_a_load_reconnects_and_loads(mariadb_database, tmp_path):
    mariadb_database.create(DDL)
    db = importer(mariadb_database, tmp_path)
    try:
        path = write_csv(tmp_path / "r.csv", FIELDS, rows_for(300))
        kill_connection_of(db, mariadb_database.admin)
        result = load_report_file(db, path, "prog_ix_stats", 1)
        assert (result.rows, result.inserted) == (300, 300)
        assert count(mariadb_database) == 300
        assert db.transactions_retried == 1
    finally:
        db.close()


def test_connection_lost_mid_load_runs_the_whole_transaction_again(mariadb_database):
    mariadb_database.create(DDL)
    db = importer(mariadb_database)
    admin = mariadb_database.admin
    attempts = []
    # Asked now, on this thread: the rows below are made on the statement-builder thread
    # while this one sends on db's connection, and a connection is never shared by threads.
    first_connection = connection_id_of(db)

    def rows_that_lose_the_connection_once():
        attempts.append(1)
        for number, row in enumerate(rows_for(2500), start=1):
            if number == 1200 and len(attempts) == 1:
                kill_connection(admin, first_connection)   # after the first batch was sent
            yield row

    try:
        result = db.run_transaction(lambda: db.load_rows("prog_ix_stats", FIELDS, rows_that_lose_the_connection_once(),
                                                         constants={"publisher_id": 1}, batch_size=1000))
    finally:
        db.close()
    assert len(attempts) == 2
    assert (result.rows, result.inserted, result.updated) == (2500, 2500, 0)
    assert count(mariadb_database) == 2500


def test_a_statement_after_a_lost_connection_is_a_typed_error_not_a_driver_error(mariadb_database):
    mariadb_database.create(DDL)
    db = importer(mariadb_database)
    try:
        with pytest.raises(mysql_db.DatabaseConnectionLostError):
            with db.transaction():
                kill_connection_of(db, mariadb_database.admin)
                db.load_rows("prog_ix_stats", FIELDS, rows_for(5), constants={"publisher_id": 1})
    finally:
        db.close()


def test_bulk_load_meeting_a_lock_runs_again_instead_of_losing_its_savepoint(mariadb_database, tmp_path):
    mariadb_database.create(DDL)
    admin = mariadb_database.admin
    admin.execute("SET GLOBAL innodb_lock_wait_timeout = 1")
    holder = importer(mariadb_database)
    db = importer(mariadb_database, tmp_path)   # takes the 1 s timeout at connect
    try:
        path = write_csv(tmp_path / "r.csv", FIELDS, rows_for(200))
        holder._begin()
        holder._transaction_depth = 1
        holder.load_rows("prog_ix_stats", FIELDS, rows_for(1, start=150), constants={"publisher_id": 1})

        def other_transaction_ends(_seconds):
            holder._rollback()

        result = db.run_transaction(lambda: db.bulk_load_csv("prog_ix_stats", path, FIELDS, {"publisher_id": 1}),
                                    sleep=other_transaction_ends)
        assert result.method == "bulk" and result.rows == 200
        assert db.transactions_retried == 1
        assert count(mariadb_database) == 200
    finally:
        admin.execute("SET GLOBAL innodb_lock_wait_timeout = 50")
        holder.close()
        db.close()


def test_counts_exact_while_another_program_loads_the_same_keys(mariadb_database):
    mariadb_database.create(DDL)
    first, second = importer(mariadb_database), importer(mariadb_database)
    results = {}
    try:
        first._begin()
        first._transaction_depth = 1
        first.load_rows("prog_ix_stats", FIELDS, rows_for(3000), constants={"publisher_id": 1})
        thread = threading.Thread(target=lambda: results.update(second=second.load_rows(
            "prog_ix_stats", FIELDS, rows_for(3000, spend="2"), constants={"publisher_id": 1})))
        thread.start()
        # The second load waits for the first's row locks: commit only once it does.
        while not mariadb_database.rows("SELECT COUNT(*) FROM information_schema.INNODB_TRX "
                                        "WHERE trx_state = 'LOCK WAIT'")[0][0]:
            assert thread.is_alive(), "the second load did not wait for the first"
            # INNODB_TRX is a cache refreshed only when not read for 0.1 s: poll slower.
            time.sleep(0.2)
        first._transaction_depth = 0
        first._commit()
        thread.join()
    finally:
        first.close()
        second.close()
    assert (results["second"].inserted, results["second"].updated) == (0, 3000)
    assert count(mariadb_database) == 3000


# --- bytes that are not text ------------------------------------------------------------

@pytest.mark.parametrize("packed", ["csv", "gzip"])
def test_a_bad_byte_is_named_by_its_line(stats, tmp_path, packed):
    db, database = stats
    lines = [b"day,site_id,site_name,ad_spend"] + [f"2026-06-01,{i},site {i},1".encode() for i in range(40)]
    lines[23] = b"2026-06-01,22,Caf\xe9 Paris,1"      # latin-1, not UTF-8: line 24 of the file
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "r.csv"
    path.write_bytes(gzip.compress(data) if packed == "gzip" else data)
    with pytest.raises(ReportFileError) as caught:
        load_report_file(db, path, "prog_ix_stats", 1)
    assert "line 24, byte 18 of the line: b'\\xe9' is not UTF-8" in str(caught.value)
    assert "position" not in str(caught.value)
    assert count(database) == 0


def test_cal_listing_status_in_either_spelling():
    entries = [{"hour": "2026-06-05T07:00:00Z", "downloadURL": "http://x/api/cal/v1/downloads/11", "md5sum": "a",
                "downloadStats": "updated"},
               {"hour": "2026-06-05T08:00:00Z", "downloadURL": "http://x/api/cal/v1/downloads/12", "md5sum": "b",
                "downloadStatus": "downloaded"}]
    assert [f.status for f in calSupport.files_of(entries, "impressions_log", 1)] == ["updated", "downloaded"]


def lines_to(size):
    """`size` bytes of short lines (the scan refuses a line longer than a report line may be)."""
    text = (b"y" * 99 + b"\n") * (size // 100)
    return text + b"x" * (size - len(text))


def test_the_null_scan_sees_across_chunk_boundaries(tmp_path):
    import readwrite
    path = tmp_path / "r.csv"
    for content, loadable in ((b"a,b\n1,2\n", True), (b"a,b\n1,NULL\n", False),
                              (lines_to(((1 << 20) - 2)) + b"NULL\n", False),
                                  (lines_to((1 << 20) - 1) + b"NUL\nL\n", True)):
        path.write_bytes(content)
        assert readwrite.bulk_loadable(path) is loadable, content[-8:]


# --- the upsert path's statements made ahead of the server ---------------------------------

def test_a_failure_while_making_later_statements_loads_nothing(stats):
    db, database = stats
    header = ["day", "site_id", "site_name", "ad_spend"]

    def rows_then_failure():
        yield from rows_for(3500)
        raise ReportFileError("r.csv, line 3502: the source broke")

    with pytest.raises(ReportFileError, match="line 3502"):
        db.load_rows("prog_ix_stats", header, rows_then_failure(), constants={"publisher_id": 1})
    short = rows_for(4200)
    short[4100] = short[4100][:2]
    with pytest.raises(mysql_db.MalformedRowError, match="row 4101 has 2 fields"):
        db.load_rows("prog_ix_stats", header, short, constants={"publisher_id": 1})
    assert count(database) == 0, "nothing of a load that failed"
    result = db.load_rows("prog_ix_stats", header, rows_for(4200), constants={"publisher_id": 1})
    assert (result.rows, result.inserted, result.updated, count(database)) == (4200, 4200, 0, 4200)
