"""Report files into tables (reportdownloadWrapper.load_report_file): the bulk path on
MariaDB and its fallbacks, the upsert path on both engines, gzip and zip files."""

import gzip
import zipfile

import pytest

import mysql_db
from reportdownloadWrapper import PublisherColumnInFileError, load_report_file
from test_load_guarantees import importer

DDL = """CREATE TABLE prog_ix_stats (
  day datetime NOT NULL, publisher_id int NOT NULL, site_id int NOT NULL,
  site_name varchar(40) NOT NULL DEFAULT '', ad_spend decimal(14,6) NOT NULL DEFAULT 0,
  PRIMARY KEY (day, publisher_id, site_id))"""
HEADER = "day,site_id,site_name,ad_spend\n"
AWKWARD = ['"Café, ""Le Monde"""', 'back\\slash', '"two\nlines"', "Smaka på 🎉", "plain"]


def report(tmp_path, lines, name="report.csv", newline="\n"):
    path = tmp_path / name
    path.write_bytes((HEADER + "".join(line + "\n" for line in lines)).replace("\n", newline).encode("utf-8"))
    return path


def rows_for(count, start=0, spend="1.123456789012345678901"):
    return [f"2026-06-01 00:00:00,{i},{AWKWARD[i % len(AWKWARD)]},{spend}" for i in range(start, start + count)]


@pytest.fixture
def loader(database, tmp_path):
    """(db able to bulk-load files of tmp_path, the admin handle)."""
    database.create(DDL)
    db = importer(database, tmp_path)
    yield db, database
    db.close()


def stored(database):
    return {r[0]: r[1:] for r in database.rows("SELECT site_id, site_name, ad_spend FROM prog_ix_stats")}


def test_new_file_bulk_on_mysql_upsert_on_sqlite_same_rows(loader, tmp_path):
    db, database = loader
    result = load_report_file(db, report(tmp_path, rows_for(3000)), "prog_ix_stats", 180280)
    assert (result.rows, result.inserted, result.updated) == (3000, 3000, 0)
    assert result.method == ("bulk" if database.engine == "mariadb" else "upsert")
    values = stored(database)
    assert values[0][0] == 'Café, "Le Monde"' and values[1][0] == "back\\slash"
    assert values[2][0] == "two\nlines" and values[3][0] == "Smaka på 🎉"
    assert float(values[0][1]) == pytest.approx(1.123457)
    assert database.rows("SELECT DISTINCT publisher_id FROM prog_ix_stats") == [(180280,)]


def test_rerun_upserts_with_counts(loader, tmp_path):
    db, database = loader
    load_report_file(db, report(tmp_path, rows_for(100)), "prog_ix_stats", 1)
    again = load_report_file(db, report(tmp_path, rows_for(150, spend="2.5"), "second.csv"), "prog_ix_stats", 1)
    assert (again.method, again.inserted, again.updated) == ("upsert", 50, 100)
    assert len(stored(database)) == 150 and {float(v[1]) for v in stored(database).values()} == {2.5}


def test_bad_value_in_a_new_file_names_the_row_and_leaves_nothing(loader, tmp_path):
    db, database = loader
    lines = rows_for(2000)
    lines[1499] = "2026-06-01 00:00:00,1499," + "x" * 41 + ",1"
    with pytest.raises(mysql_db.ValueDoesNotFitError) as caught:
        load_report_file(db, report(tmp_path, lines), "prog_ix_stats", 1)
    assert (caught.value.column, caught.value.row_number) == ("site_name", 1500)
    assert stored(database) == {}


def test_short_row_in_a_new_file(loader, tmp_path):
    db, database = loader
    lines = rows_for(10)
    lines[6] = "2026-06-01 00:00:00,6,short"
    with pytest.raises(mysql_db.MalformedRowError, match="row 7 has 3 fields"):
        load_report_file(db, report(tmp_path, lines), "prog_ix_stats", 1)
    assert stored(database) == {}


def test_duplicate_key_within_a_new_file_keeps_the_last_row(loader, tmp_path):
    db, database = loader
    lines = rows_for(5) + ["2026-06-01 00:00:00,2,later value,9"]
    result = load_report_file(db, report(tmp_path, lines), "prog_ix_stats", 1)
    assert (result.method, result.inserted, result.updated) == ("upsert", 5, 1)
    assert stored(database)[2][0] == "later value"


def test_crlf_file(loader, tmp_path):
    db, database = loader
    load_report_file(db, report(tmp_path, ["2026-06-01 00:00:00,1,plain,1"], newline="\r\n"), "prog_ix_stats", 1)
    assert stored(database)[1][0] == "plain"


def test_file_outside_the_allowed_folder_is_upserted(loader, tmp_path_factory):
    db, database = loader
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = load_report_file(db, report(elsewhere, rows_for(10)), "prog_ix_stats", 1)
    assert result.method == "upsert" and len(stored(database)) == 10


@pytest.mark.parametrize("packing", ["gzip", "zip"])
def test_packed_files(loader, tmp_path, packing):
    db, database = loader
    plain = report(tmp_path, rows_for(20))
    path = tmp_path / f"report.{packing}"
    if packing == "gzip":
        path.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("report.csv", plain.read_bytes())
    assert load_report_file(db, path, "prog_ix_stats", 1).rows == 20
    assert stored(database)[0][0] == 'Café, "Le Monde"'


def test_file_with_its_own_publisher_id_is_refused(loader, tmp_path):
    db, database = loader
    path = tmp_path / "x.csv"
    path.write_text("day,publisher_id,site_id\n2026-06-01 00:00:00,1,1\n")
    with pytest.raises(PublisherColumnInFileError):
        load_report_file(db, path, "prog_ix_stats", 1)


def test_a_header_of_100000_unknown_columns_is_named_in_a_short_line(loader, tmp_path):
    """A huge input gives a short message, not a 1.2 MB line (issue 22, item 19)."""
    db, database = loader
    path = tmp_path / "wide.csv"
    extra = [f"c{n}" for n in range(100_000)]
    path.write_text(",".join(HEADER.strip().split(",") + extra) + "\n" +
                    ",".join(["2026-06-01", "1", "a", "1"] + ["x"] * len(extra)) + "\n")
    with pytest.raises(mysql_db.InvalidColumnsError) as caught:
        load_report_file(db, path, "prog_ix_stats", 180280, name="file 5000001")
    message = str(caught.value)
    assert len(message) < 1000 and "'c0'" in message and "(and 99,990 more)" in message
    assert database.rows("SELECT COUNT(*) FROM prog_ix_stats") == [(0,)]
