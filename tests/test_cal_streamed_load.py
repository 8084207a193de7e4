"""CAL files streamed into LOAD DATA LOCAL: the same rows as the upsert path, byte for
byte; a file whose keys exist, or that the server warns about, upserted; a source that
fails mid-stream leaves nothing loaded and nothing logged."""

import gzip

import pytest

import calSupport
import mysql_db
import mysql_db_cal
from errors import ReportFileError

from test_load_guarantees import importer

TABLE = "prog_ix_impression_log"
HEADER = ["auction_id", "timestamp", "country", "dma", "partner_id", "site_id", "slot_id", "dsp_id",
          "trading_desk_id", "campaign_id", "campaign_name", "brand_id", "creative_id", "deal_id",
          "internal_deal_id", "billing_term_id", "gross_revenue", "surprise_column"]


def row(n):
    name = ['plain', 'NULL', 'with "quotes", and comma', 'two\nlines', 'Łódź 🎉', ''][n % 6]
    return [f"a-{n:06d}", "2026-06-05 07:00:00", "SE", str(n % 7) if n % 5 else "n/a", "6", "5", "9", "31",
            "3101", str(n), name, "4", str(7000 + n), f"d{n % 2}", "12", "" if n % 3 else "7",
            f"{n % 97}.12345", f"x{n}"]


def write_gz(path, rows, header=HEADER):
    import csv
    import io
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(gzip.compress(text.getvalue().encode()))
    return path


@pytest.fixture
def cal_tables(mariadb_database, tmp_path):
    tables = {n: d for n, (_, d) in mysql_db_cal.CAL_TABLES.items()}
    mysql_db.create_tables(mariadb_database.admin, tables)
    folder = tmp_path / "scratch"
    folder.mkdir()
    streamed = importer(mariadb_database, str(folder))
    plain = importer(mariadb_database)
    yield mariadb_database, streamed, plain, folder
    streamed.close()
    plain.close()


def cal_file(file_id, status="new"):
    return calSupport.CalFile(file_id, 180280, "impressions_log", "2026-06-05 07:00:00", f"http://x/{file_id}", "",
                              status)


def table_rows(database):
    return database.rows(f"SELECT * FROM {TABLE} ORDER BY auction_id")


def test_a_new_file_streams_and_stores_what_the_upsert_path_stores(cal_tables, tmp_path):
    database, streamed, plain, folder = cal_tables
    path = write_gz(folder / "f.csv.gz", [row(n) for n in range(2500)])
    result, shaped = calSupport.load_file(plain, path, TABLE, cal_file(1))
    assert result.method == "upsert" and result.inserted == 2500
    upserted = table_rows(database)
    database.admin.execute(f"DELETE FROM {TABLE}")
    result, streamed_shape = calSupport.load_file(streamed, path, TABLE, cal_file(2))
    assert (result.method, result.rows, result.inserted, result.updated) == ("bulk", 2500, 2500, 0)
    not_integers = sum(1 for n in range(2500) if n % 5 == 0) + sum(1 for n in range(2500) if n % 3)  # 'n/a', ''
    assert streamed_shape.sentinels == shaped.sentinels == not_integers
    assert table_rows(database) == upserted, "the same bytes as the upsert path"
    names = {r[0] for r in database.rows(f"SELECT campaign_name FROM {TABLE}")}
    assert {"NULL", 'with "quotes", and comma', "two\nlines", "Łódź 🎉", ""} <= names
    assert database.rows("SELECT fileid, publisher_id FROM prog_ix_cal_download_log ORDER BY fileid") == \
        [(1, 180280), (2, 180280)]
    assert [p for p in folder.iterdir() if p.name.startswith(".rows-")] == [], "no pipe left behind"


def test_a_file_without_extra_columns_leaves_other_null(cal_tables):
    database, streamed, _, folder = cal_tables
    header = HEADER[:-1]
    path = write_gz(folder / "f.csv.gz", [row(n)[:-1] for n in range(50)], header=header)
    result, _ = calSupport.load_file(streamed, path, TABLE, cal_file(3))
    assert result.method == "bulk"
    assert database.rows(f"SELECT COUNT(*) FROM {TABLE} WHERE other IS NULL")[0][0] == 50


def test_an_updated_file_loaded_again_is_upserted_with_exact_counts(cal_tables):
    database, streamed, _, folder = cal_tables
    path = write_gz(folder / "f.csv.gz", [row(n) for n in range(300)])
    calSupport.load_file(streamed, path, TABLE, cal_file(4))
    changed = [row(n)[:16] + ["1.5"] + row(n)[17:] for n in range(300)] + [row(n) for n in range(300, 320)]
    path = write_gz(folder / "g.csv.gz", changed)
    result, _ = calSupport.load_file(streamed, path, TABLE, cal_file(5, "updated"))
    assert (result.method, result.inserted, result.updated) == ("upsert", 20, 300)
    assert database.rows(f"SELECT COUNT(*), SUM(gross_revenue = 1.5) FROM {TABLE}")[0] == (320, 300)


def test_a_value_that_does_not_fit_is_named_by_row_and_column(cal_tables):
    database, streamed, _, folder = cal_tables
    rows = [row(n) for n in range(40)]
    rows[17][2] = "SWE"                                 # country is varchar(2)
    path = write_gz(folder / "f.csv.gz", rows)
    with pytest.raises(mysql_db.ValueDoesNotFitError, match=r"row 18.*country"):
        calSupport.load_file(streamed, path, TABLE, cal_file(6))
    assert database.rows(f"SELECT COUNT(*) FROM {TABLE}")[0][0] == 0
    assert database.rows("SELECT COUNT(*) FROM prog_ix_cal_download_log")[0][0] == 0


@pytest.mark.parametrize("damage", ["truncated", "short row"])
def test_a_source_failing_mid_stream_loads_nothing(cal_tables, damage):
    database, streamed, _, folder = cal_tables
    rows = [row(n) for n in range(5000)]
    if damage == "short row":
        rows[4321] = rows[4321][:5]
    path = write_gz(folder / "f.csv.gz", rows)
    if damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) * 2 // 3])
    # Named as the file it is, not by a scratch path that is gone once the run ends.
    expected = r"row 4322: 5 fields" if damage == "short row" else r"CAL file 7, line \d+: Compressed file ended"
    with pytest.raises(ReportFileError, match=expected):
        calSupport.load_file(streamed, path, TABLE, cal_file(7))
    assert database.rows(f"SELECT COUNT(*) FROM {TABLE}")[0][0] == 0, "nothing of a file that failed"
    assert database.rows("SELECT COUNT(*) FROM prog_ix_cal_download_log")[0][0] == 0
    assert [p for p in folder.iterdir() if p.name.startswith(".rows-")] == []


@pytest.mark.parametrize("names", ["plain", "with the text NULL"])
def test_a_file_of_the_tables_own_columns_is_shaped_by_the_statement_as_python_would(cal_tables, names,
                                                                                     monkeypatch):
    database, streamed, plain, folder = cal_tables
    header = HEADER[:-1] + ["publisher_id"]
    odd_integers = ["7", "+5", "-3", " 7", "7 ", "n/a", "", "1e3", "٣", "0x1F", "12\n"]
    rows = []
    for n in range(600):
        values = row(n)[:-1] + ["999"]                    # a publisher_id column of its own: not loaded
        values[3] = odd_integers[n % len(odd_integers)]
        values[10] = "NULL" if names != "plain" and n == 5 else f"campaign {n}"
        rows.append(values)
    path = write_gz(folder / "f.csv.gz", rows, header=header)
    expected_result, expected_shape = calSupport.load_file(plain, path, TABLE, cal_file(8))
    expected = table_rows(database)
    database.admin.execute(f"DELETE FROM {TABLE}")
    if names == "plain":     # loaded as it is; only the text NULL sends it through Python's shaping
        monkeypatch.setattr(calSupport, "_bulk_load_streamed", lambda *a: pytest.fail("shaped in Python"))
    result, shaped = calSupport.load_file(streamed, path, TABLE, cal_file(9))
    assert result.method == "bulk" and result.rows == expected_result.rows == 600
    assert shaped.sentinels == expected_shape.sentinels > 0
    assert table_rows(database) == expected, "the same rows as the upsert path"
    assert {r[0] for r in database.rows(f"SELECT DISTINCT publisher_id FROM {TABLE}")} == {180280}
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == [], "nothing unpacked left behind"
