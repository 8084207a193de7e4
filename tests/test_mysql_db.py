"""mysql_db against a real MariaDB (importing user with SELECT, INSERT, UPDATE only) and
against SQLite: the same tests, both engines."""

import tracemalloc

import pytest

import mysql_db
import settings

STATS_DDL = """CREATE TABLE prog_ix_stats (
  day datetime NOT NULL,
  publisher_id int NOT NULL,
  site_id int NOT NULL,
  site_name varchar(40) NOT NULL DEFAULT '',
  impressions bigint NOT NULL DEFAULT 0,
  ad_spend decimal(14,6) NOT NULL DEFAULT 0,
  PRIMARY KEY (day, publisher_id, site_id))"""
HEADER = ["day", "site_id", "site_name", "impressions", "ad_spend"]


def make_rows(count, start=0, spend="1.5"):
    for i in range(start, start + count):
        yield [f"2026-06-{1 + i // 10000:02d} 00:00:00", str(i % 10000), f"Site, \"{i}\" Göteborg", str(i * 3), spend]


@pytest.fixture
def stats(database):
    database.create(STATS_DDL)
    return database


def count(database, table="prog_ix_stats"):
    return database.rows(f"SELECT COUNT(*) FROM {table}")[0][0]


def test_upsert_counts_inserts_and_updates(stats):
    first = stats.db.load_rows("prog_ix_stats", HEADER, make_rows(2500), constants={"publisher_id": 180280},
                               batch_size=1000)
    assert (first.rows, first.inserted, first.updated) == (2500, 2500, 0)
    again = stats.db.load_rows("prog_ix_stats", HEADER, make_rows(3000, spend="2.25"),
                               constants={"publisher_id": 180280}, batch_size=1000)
    assert (again.rows, again.inserted, again.updated) == (3000, 500, 2500)
    assert count(stats) == 3000
    assert {float(r[0]) for r in stats.rows("SELECT ad_spend FROM prog_ix_stats")} == {2.25}
    other = stats.db.load_rows("prog_ix_stats", HEADER, make_rows(10), constants={"publisher_id": 180287})
    assert other.inserted == 10 and count(stats) == 3010


def test_duplicate_keys_within_one_load_count_as_updates(stats):
    rows = [["2026-06-01 00:00:00", "1", "a", "1", "1"], ["2026-06-01 00:00:00", "1", "b", "2", "1"]]
    result = stats.db.load_rows("prog_ix_stats", HEADER, rows, constants={"publisher_id": 1})
    assert (result.inserted, result.updated) == (1, 1)
    assert stats.rows("SELECT site_name FROM prog_ix_stats") == [("b",)]


def test_text_round_trips_with_quotes_commas_and_non_ascii(stats):
    stats.db.load_rows("prog_ix_stats", HEADER, make_rows(1), constants={"publisher_id": 1})
    assert stats.rows("SELECT site_name FROM prog_ix_stats")[0][0] == 'Site, "0" Göteborg'


def test_unknown_header_column_is_refused_before_anything_is_sent(stats):
    header = HEADER + ["site_name`) VALUES (1); DROP TABLE prog_ix_stats; --"]
    with pytest.raises(mysql_db.InvalidColumnsError) as caught:
        stats.db.load_rows("prog_ix_stats", header, [["x"] * 6])
    assert "DROP TABLE" in str(caught.value) and "prog_ix_stats" in str(caught.value)
    assert count(stats) == 0


def test_header_names_match_columns_case_insensitively(stats):
    header = ["DAY", "Site_ID", "site_name", "impressions", "ad_spend"]
    assert stats.db.load_rows("prog_ix_stats", header, make_rows(3), constants={"publisher_id": 1}).rows == 3


def test_missing_table(stats):
    with pytest.raises(mysql_db.NoSuchTableError, match="prog_ix_nothing"):
        stats.db.load_rows("prog_ix_nothing", HEADER, [])
    assert not stats.db.table_exists("prog_ix_nothing") and stats.db.table_exists("prog_ix_stats")


BAD_VALUES = [
    ("site_name", "x" * 41, "40"),
    ("site_id", "12abc", "integer"),
    ("site_id", "", "integer"),
    ("site_id", "99999999999", "range"),
    ("ad_spend", "123456789.5", "digits"),
    ("ad_spend", "omitted", "decimal"),
    ("day", "2026-13-01 00:00:00", "date"),
]


@pytest.mark.parametrize("column,value,reason", BAD_VALUES, ids=[f"{c}={v[:12]}" for c, v, _ in BAD_VALUES])
def test_value_that_does_not_fit_names_table_column_row_and_value(stats, column, value, reason):
    stats.db.load_rows("prog_ix_stats", HEADER, make_rows(5, start=90000), constants={"publisher_id": 1})

    def rows():
        for number, row in enumerate(make_rows(2600), start=1):
            if number == 2503:
                row[HEADER.index(column)] = value
            yield row

    with pytest.raises(mysql_db.ValueDoesNotFitError) as caught:
        stats.db.load_rows("prog_ix_stats", HEADER, rows(), constants={"publisher_id": 1}, batch_size=1000)
    err = caught.value
    assert (err.table, err.column, err.row_number, err.value) == ("prog_ix_stats", column, 2503, value)
    assert "prog_ix_stats" in str(err) and "row 2503" in str(err) and column in str(err)
    assert count(stats) == 5, "the whole load is one transaction: earlier batches are rolled back"


def test_row_with_wrong_field_count(stats):
    rows = [["2026-06-01 00:00:00", "1", "a", "1", "1"], ["2026-06-01 00:00:00", "2", "b", "1"]]
    with pytest.raises(mysql_db.MalformedRowError, match="row 2 has 4 fields, the header has 5"):
        stats.db.load_rows("prog_ix_stats", HEADER, rows, constants={"publisher_id": 1})
    assert count(stats) == 0


def test_bad_constant_is_refused(stats):
    with pytest.raises(mysql_db.ValueDoesNotFitError, match="publisher_id"):
        stats.db.load_rows("prog_ix_stats", HEADER, make_rows(1), constants={"publisher_id": "abc"})


def test_outer_transaction_rolls_back_everything(stats):
    with pytest.raises(RuntimeError):
        with stats.db.transaction():
            stats.db.load_rows("prog_ix_stats", HEADER, make_rows(10), constants={"publisher_id": 1})
            raise RuntimeError("crash between load and bookkeeping")
    assert count(stats) == 0
    with stats.db.transaction():
        stats.db.load_rows("prog_ix_stats", HEADER, make_rows(10), constants={"publisher_id": 1})
        stats.db.execute("UPDATE prog_ix_stats SET impressions = 7 WHERE site_id = %s", ("3",))
    assert stats.rows("SELECT impressions FROM prog_ix_stats WHERE site_id = 3")[0][0] == 7


def test_table_without_primary_key_appends(database):
    database.create("CREATE TABLE log_lines (line varchar(20) NOT NULL)")
    result = database.db.load_rows("log_lines", ["line"], [["a"], ["a"]])
    assert (result.inserted, result.updated) == (2, 0)
    assert count(database, "log_lines") == 2


def peak_memory_of_load(database, rows, publisher_id):
    tracemalloc.start()
    try:
        database.db.load_rows("prog_ix_stats", HEADER, make_rows(rows), constants={"publisher_id": publisher_id},
                              batch_size=1000)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_rows(stats):
    small = peak_memory_of_load(stats, 5000, 1)
    large = peak_memory_of_load(stats, 100000, 2)
    assert count(stats) == 105000
    # Twenty times the rows; a loader that held them would need about twenty times the
    # memory. On MySQL up to four statements exist at once (two made ahead, one being
    # made, one at the server), and how many the small load reached depends on thread
    # timing: hence 6x, well below 20x.
    assert large < small * 6, f"5k rows peak {small / 1e6:.1f} MB, 100k rows peak {large / 1e6:.1f} MB"


def test_columns_are_read_from_the_server(stats):
    columns = {c.name: c for c in stats.db.table_columns("prog_ix_stats")}
    assert columns["site_name"].data_type == "varchar" and columns["site_name"].max_length == 40
    assert columns["ad_spend"].data_type == "decimal" and (columns["ad_spend"].precision, columns["ad_spend"].scale) == (14, 6)
    assert [c for c in columns if columns[c].primary_key] == ["day", "publisher_id", "site_id"]


def test_connect_from_settings(stats, tmp_path):
    env = dict(stats.settings_env, HOME=str(tmp_path))
    with mysql_db.connect(settings.load_settings(environ=env)) as db:
        assert db.engine == ("sqlite" if stats.engine == "sqlite" else "mysql")
        assert db.load_rows("prog_ix_stats", HEADER, make_rows(2), constants={"publisher_id": 5}).inserted == 2
    assert db.closed, "closed when the block ended"


def test_engine_hooks_agree(stats):
    """What callers use instead of testing the engine: the server's clock, a row made only
    when missing (a row already there kept as it is), whether grants apply."""
    import time
    assert abs(float(stats.db.fetch_all(f"SELECT {stats.db.now_seconds_sql}")[0][0]) - time.time()) < 60
    stats.db.load_rows("prog_ix_stats", HEADER, [["2026-06-01 00:00:00", "1", "kept", "1", "1"]],
                       constants={"publisher_id": 7})
    keys = ["day", "publisher_id", "site_id", "site_name"]
    assert stats.db.insert_if_missing("prog_ix_stats", keys, ("2026-06-01 00:00:00", 7, 1, "other")) in (0, 2)
    assert stats.db.insert_if_missing("prog_ix_stats", keys, ("2026-06-01 00:00:00", 7, 2, "new")) == 1
    assert stats.rows("SELECT site_id, site_name FROM prog_ix_stats ORDER BY site_id") == [(1, "kept"), (2, "new")]
    assert stats.db.grants_apply == (stats.engine != "sqlite")


# --- MySQL only ---------------------------------------------------------------------------

@pytest.fixture
def mysql_stats(mariadb_database):
    mariadb_database.create(STATS_DDL)
    return mariadb_database


def test_importing_user_cannot_delete_and_does_not_need_to(mysql_stats):
    mysql_stats.db.load_rows("prog_ix_stats", HEADER, make_rows(3), constants={"publisher_id": 1})
    with pytest.raises(mysql_db.DatabaseError, match="DELETE command denied"):
        mysql_stats.db.execute("DELETE FROM prog_ix_stats")


def test_session_is_utc_strict_and_uses_the_c_extension(mysql_stats):
    assert mysql_stats.db.fetch_all("SELECT @@session.time_zone")[0][0] == "+00:00"
    assert "STRICT_ALL_TABLES" in mysql_stats.db.fetch_all("SELECT @@session.sql_mode")[0][0]
    assert type(mysql_stats.db._conn).__name__ == "CMySQLConnection"


def test_wrong_password_is_a_clear_error_without_the_password(mariadb):
    with pytest.raises(mysql_db.DatabaseConnectionError) as caught:
        mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, mariadb.import_user, "not-the-Secret-pw", mariadb.database)
    message = str(caught.value)
    assert mariadb.import_user in message and str(mariadb.port) in message
    assert "not-the-Secret-pw" not in message


def test_unknown_engine_is_a_configuration_error(tmp_path):
    from errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="PROGSALESDBENGINE"):
        mysql_db.connect(settings.load_settings(environ={"PROGSALESDBENGINE": "oracle", "HOME": str(tmp_path)}))


AWKWARD = ["back\\slash", "it's", 'say "hi"', "nul\x00byte", "ctrl\x1az", "unit\x1fsep", "100% %s %(x)s",
           "line\nbreak\r\n", "emoji 🎉 och åäö", "'; DROP TABLE prog_ix_stats; --", "\\'", ""]


def test_awkward_text_round_trips_exactly(database):
    database.create("CREATE TABLE texts (k int NOT NULL, v varchar(100) NOT NULL, PRIMARY KEY (k))")
    rows = [[str(i), value] for i, value in enumerate(AWKWARD)]
    database.db.load_rows("texts", ["k", "v"], rows)
    stored = dict(database.rows("SELECT k, v FROM texts"))
    assert [stored[i] for i in range(len(AWKWARD))] == AWKWARD
    again = database.db.load_rows("texts", ["k", "v"], rows)
    assert (again.inserted, again.updated) == (0, len(AWKWARD))


def test_the_integer_rule_is_the_same_in_python_and_in_the_servers_regexp(mysql_stats):
    """The CAL bulk path applies the integer rule on the server; the upsert path in Python."""
    from dbengine.columns import INTEGER_SQL_REGEXP
    from dbengine.mysql_literals import literal
    odd = ["7", "+5", "-3", " 7", "7 ", "n/a", "", "1e3", "٣", "0x1F", "12\n", "+", "--1", "007"]
    on_server = [bool(mysql_stats.db.fetch_all(f"SELECT {literal(v)} REGEXP {literal(INTEGER_SQL_REGEXP)}")[0][0])
                 for v in odd]
    assert on_server == [mysql_db.is_integer_text(v) for v in odd]


def test_long_text_values_go_in_statements_the_server_takes(mariadb_database):
    """Batches are counted in rows; a batch of long texts longer than max_allowed_packet is
    sent as several statements, and a row longer than it is named (issue 22, item 8)."""
    admin = mariadb_database.admin
    mariadb_database.create("CREATE TABLE long_texts (k int NOT NULL, v mediumtext, PRIMARY KEY (k))")
    before = int(admin.fetch_all("SELECT @@GLOBAL.max_allowed_packet")[0][0])
    admin.execute_script(["SET GLOBAL max_allowed_packet = 1048576"])
    env = mariadb_database.settings_env
    try:
        db = mysql_db.MySQLDatabase("127.0.0.1", env["PROGSALESMYSQLPORT"], env["PROGSALESMYSQLUSERNAME"],
                                    env["PROGSALESMYSQLPASSWORD"], env["PROGSALESMYSQLDATABASE"])
        try:
            rows = [[str(k), f"{k} " + "é" * 3000] for k in range(1000)]      # 6 MB a batch of 1,000 rows
            assert db.load_rows("long_texts", ["k", "v"], rows).inserted == 1000
            again = db.load_rows("long_texts", ["k", "v"], rows)
            assert (again.inserted, again.updated) == (0, 1000), "an update, too, loads"
            assert admin.fetch_all("SELECT COUNT(*), SUM(LENGTH(v)) FROM long_texts")[0] == \
                (1000, sum(len(v.encode()) for _, v in rows))
            with pytest.raises(mysql_db.DatabaseError, match=r"row 2 is [0-9,]+ bytes as SQL, more than the server "
                                                             r"takes in one statement \(max_allowed_packet = "
                                                             r"1,048,576\)") as caught:
                db.load_rows("long_texts", ["k", "v"], [["5000", "x"], ["5001", "x" * (2 << 20)]])
            assert not isinstance(caught.value, mysql_db.TransientDatabaseError)
        finally:
            db.close()
    finally:
        admin.execute_script([f"SET GLOBAL max_allowed_packet = {before}"])
    assert admin.fetch_all("SELECT COUNT(*) FROM long_texts WHERE k >= 5000")[0][0] == 0
