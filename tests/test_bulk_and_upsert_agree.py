"""The bulk path (LOAD DATA) and the upsert path read a file the same way (issue 22, item 2):
for each malformed file, both store the same rows or both refuse it, on the report path
and the CAL path. A long line is refused before it is held whole (item 7)."""

import gzip
import tracemalloc

import pytest

import calSupport
import mysql_db
import mysql_db_cal
import readwrite
from errors import ReportFileError
from reportdownloadWrapper import load_report_file

from test_load_guarantees import importer

DDL = """CREATE TABLE prog_ix_stats (
  day datetime NOT NULL, publisher_id int NOT NULL, site_id int NOT NULL,
  ad_spend decimal(14,6) NOT NULL DEFAULT 0, site_name varchar(40) NOT NULL DEFAULT '',
  PRIMARY KEY (day, publisher_id, site_id))"""
HEADER = b"day,site_id,ad_spend,site_name"
ROWS = [b"2026-06-01,1,1.5,alpha", b"2026-06-01,2,2.5,beta", b"2026-06-01,3,3.5,gamma"]

MALFORMED = {
    "crlf header over lf rows": HEADER + b"\r\n" + b"\n".join(ROWS) + b"\n",
    "lf header over crlf rows": HEADER + b"\n" + b"\r\n".join(ROWS) + b"\r\n",
    "extra field on an unterminated last row": HEADER + b"\n" + b"\n".join(ROWS) + b"\n2026-06-01,4,4.5,delta,EXTRA",
    "unclosed quote at the end": HEADER + b"\n" + b"\n".join(ROWS) + b'\n2026-06-01,4,4.5,"delta',
    "trailing cr on the last row": HEADER + b"\n" + b"\n".join(ROWS) + b"\r",
    "bare cr inside a field": HEADER + b"\n" + b"\n".join(ROWS) + b"\n2026-06-01,4,4.5,del\rta\n",
    "text after a closing quote": HEADER + b"\n" + b"\n".join(ROWS) + b'\n2026-06-01,4,4.5,"del"ta\n',
    "no line end at all after the last row": HEADER + b"\n" + b"\n".join(ROWS),
    "blank line at the end": HEADER + b"\n" + b"\n".join(ROWS) + b"\n\n",
}


def outcome(load, rows):
    """('stored', rows) or ('refused', error kind) of one load."""
    try:
        load()
    except (ReportFileError, mysql_db.DatabaseError) as err:
        return "refused", type(err).__name__
    return "stored", rows()


@pytest.fixture
def report_dbs(mariadb_database, tmp_path):
    mariadb_database.create(DDL)
    bulk, plain = importer(mariadb_database, str(tmp_path)), importer(mariadb_database)
    yield mariadb_database, bulk, plain
    bulk.close()
    plain.close()


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_report_file_is_read_alike_on_both_paths(report_dbs, tmp_path, case):
    database, bulk, plain = report_dbs
    path = tmp_path / "r.csv"
    path.write_bytes(MALFORMED[case])

    def rows():
        return database.rows("SELECT site_id, ad_spend, site_name FROM prog_ix_stats ORDER BY site_id")

    upserted = outcome(lambda: load_report_file(plain, path, "prog_ix_stats", 180280, name="file 7"), rows)
    database.admin.execute("DELETE FROM prog_ix_stats")
    bulked = outcome(lambda: load_report_file(bulk, path, "prog_ix_stats", 180280, name="file 7"), rows)
    assert bulked == upserted
    if case != "blank line at the end":      # LOAD DATA warns of that one itself, and the upsert path refuses it
        assert not readwrite.bulk_loadable(path), "a malformed file never takes the bulk path"


def test_a_well_formed_file_still_takes_the_bulk_path(report_dbs, tmp_path):
    database, bulk, _ = report_dbs
    for name, content in (("lf.csv", HEADER + b"\n" + b"\n".join(ROWS) + b"\n"),
                          ("crlf.csv", HEADER + b"\r\n" + b"\r\n".join(ROWS) + b"\r\n"),
                          ("quoted.csv", HEADER + b'\n2026-06-01,1,1.5,"a ""quoted"", name"\n2026-06-01,2,2,"x\ny"\n')):
        (tmp_path / name).write_bytes(content)
        assert readwrite.bulk_loadable(tmp_path / name), name
        database.admin.execute("DELETE FROM prog_ix_stats")
        assert load_report_file(bulk, tmp_path / name, "prog_ix_stats", 1).method == "bulk"
    assert dict(database.rows("SELECT site_id, site_name FROM prog_ix_stats")) == {1: 'a "quoted", name', 2: "x\ny"}


CAL_HEADER = b"auction_id,timestamp,country,site_id,campaign_name"
CAL_ROWS = [b"a-1,2026-06-05 07:00:00,SE,5,alpha", b"a-2,2026-06-05 07:00:00,SE,5,beta"]
CAL_MALFORMED = {
    "crlf header over lf rows": CAL_HEADER + b"\r\n" + b"\n".join(CAL_ROWS) + b"\n",
    "extra field on an unterminated last row": CAL_HEADER + b"\n" + b"\n".join(CAL_ROWS) + b"\na-3,x,SE,5,c,EXTRA",
    "unclosed quote at the end": CAL_HEADER + b"\n" + b"\n".join(CAL_ROWS) + b'\na-3,2026-06-05 07:00:00,SE,5,"c',
    "bare cr inside a field": CAL_HEADER + b"\n" + b"\n".join(CAL_ROWS) + b"\na-3,2026-06-05 07:00:00,SE,5,c\rd\n",
}


@pytest.fixture
def cal_dbs(mariadb_database, tmp_path):
    mysql_db.create_tables(mariadb_database.admin, {n: d for n, (_, d) in mysql_db_cal.CAL_TABLES.items()})
    folder = tmp_path / "scratch"
    folder.mkdir()
    bulk, plain = importer(mariadb_database, str(folder)), importer(mariadb_database)
    yield mariadb_database, bulk, plain, folder
    bulk.close()
    plain.close()


@pytest.mark.parametrize("case", sorted(CAL_MALFORMED))
def test_a_malformed_cal_file_is_read_alike_on_both_paths(cal_dbs, case):
    database, bulk, plain, folder = cal_dbs
    path = folder / "f.csv.gz"
    path.write_bytes(gzip.compress(CAL_MALFORMED[case]))

    def cal_file(file_id):
        return calSupport.CalFile(file_id, 180280, "impressions_log", "2026-06-05 07:00:00", "http://x/1", "", "new")

    def rows():
        return database.rows("SELECT auction_id, site_id, campaign_name FROM prog_ix_impression_log "
                             "ORDER BY auction_id")

    upserted = outcome(lambda: calSupport.load_file(plain, path, "prog_ix_impression_log", cal_file(1)), rows)
    database.admin.execute("DELETE FROM prog_ix_impression_log")
    bulked = outcome(lambda: calSupport.load_file(bulk, path, "prog_ix_impression_log", cal_file(2)), rows)
    assert bulked == upserted
    logged = {r[0] for r in database.rows("SELECT fileid FROM prog_ix_cal_download_log")}
    assert logged == ({1, 2} if upserted[0] == "stored" else set()), "booked exactly when loaded"


def test_a_line_longer_than_the_bound_is_refused_before_it_is_held_whole(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    line = b"x" * (1 << 20)
    with gzip.open(path, "wb") as f:         # 64 MB of one line, a few hundred KB packed
        f.write(b"day,site_id\n2026-06-01,")
        for _ in range(64):
            f.write(line)
        f.write(b"\n")
    tracemalloc.start()
    try:
        with pytest.raises(ReportFileError, match=r"file 9, line 2: longer than 1,048,576 characters"):
            with readwrite.open_report_rows(path, "file 9") as (_, rows):
                list(rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"peak {peak >> 20} MB: the line was held whole"


def test_the_stray_quote_rule_is_the_one_its_comment_states():
    """A stray quote: one with a byte before it that is not `,` `\\n` `"`, and a byte after
    it that is not `,` `\\r` `\\n` `"`. The pattern is written quote first for speed; it
    finds exactly the quotes of that rule, at the same places."""
    import random
    rng = random.Random(7)

    def first_stray(text):
        for i in range(1, len(text) - 1):
            if text[i:i + 1] == b'"' and text[i - 1:i] not in (b",", b"\n", b'"') \
                    and text[i + 1:i + 2] not in (b",", b"\r", b"\n", b'"'):
                return i
        return None
    for _ in range(50000):
        text = bytes(rng.choice(b'ab,"\r\n') for _ in range(rng.randint(0, 14)))
        found = readwrite._STRAY_QUOTE.search(text)
        assert (found.start() if found else None) == first_stray(text), text
