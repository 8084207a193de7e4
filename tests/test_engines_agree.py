"""The embedded engine stores what MySQL stores, or refuses what MySQL refuses (issue 22,
item 11): every value below is loaded into the same table on MariaDB and on SQLite, and
the two must hold the same value or both refuse it, the same way (ValueDoesNotFitError)."""

import datetime as dt
import decimal

import pytest

import mysql_db

DDL = """CREATE TABLE forms (
  k int NOT NULL,
  i int DEFAULT NULL,
  ti tinyint unsigned DEFAULT NULL,
  d decimal(24,8) DEFAULT NULL,
  d2 decimal(10,2) DEFAULT NULL,
  dt datetime DEFAULT NULL,
  dt6 datetime(6) DEFAULT NULL,
  dd date DEFAULT NULL,
  f double DEFAULT NULL,
  PRIMARY KEY (k))"""

VALUES = {
    "i": [" 5", "5 ", "\t5", "+5", "1e3", "1E3", "1.5", "2.5", "-1.5", "-2.5", "1.4999", "1e-1", "0.5", "-0.5", ".5",
          "5.", "007", "-0", "12\n", "1e", "e3", "+", "-", "+-1", "1 2", "1_000", "2147483647", "2147483648",
          "-2147483648", "-2147483649", "1e10", "0x10", "0b1", "٣", "１", "Infinity", " ", "", "1,5"],
    "ti": ["255", "256", "-1", "-0", "-0.4", "255.4", "255.5"],
    "d": ["1234567890123456.12345678", "1.123456785", "1.5", " 1.5", "1.5 ", "1e3", ".5", "5.", "-.5", "+1", "",
          "1,5", "0x10", "1.5e-2", "-0", "00001.5", "12345678901234567", "1e16", "1e15"],
    "d2": ["1.005", "1.015", "-1.005", "12345678.994", "12345678.995", "99999999.99", "99999999.995", "-0.001", "."],
    "dt": ["2026-06-01", "2026-06-01 00:00:00", "2026/06/01", "2026.06.01", "2026-06-01T10:11:12", "2026-06-01 10:11",
           "2026-06-01 10", "2026-06-01 1:2:3", "20260601", "20260601101112", "260601", "2026-6-1 1:2:3",
           "2026-06-01 10:11:12.999999", "2026-06-01 10:11:12.5", " 2026-06-01", "2026-06-01 10:11:12 ", "2026-06-31",
           "2026-02-29", "2024-02-29", "0000-00-00", "2026-06-01 24:00:00", "2026-06-01 23:60:00", "2026-06-01Z",
           "2026-06-01 10:11:12+02:00", "2026@06@01", "2026-06-01 10.11.12", "2026-13-01", "yesterday"],
    "dt6": ["2026-06-01 10:11:12.1234567", "2026-06-01 10:11:12.5", "2026-06-01"],
    "dd": ["2026-06-01", "2026-06-01 00:00:00", "2026-06-01 10:00:00", "2026-06-01T10:00", "20260601",
           "2026-06-01 25:00:00", "2026/06/01"],
    "f": ["1e3", " 1", "1e400", "-0", "1.5e-2", ".5", "1,5", "0x1p3", "inf", "nan"],
}
CASES = [(column, value) for column, values in VALUES.items() for value in values]


def as_text(column, value):
    """A fetched value as text, whichever engine gave it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f" if column == "dt6" else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


@pytest.fixture(scope="module")
def engines(mariadb, tmp_path_factory):
    """The table on MariaDB (as the importing user loads it) and in SQLite, each made as
    the suite makes tables."""
    from conftest import _empty_database
    _empty_database(mariadb)
    admin = mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, mariadb.admin_user, mariadb.admin_password,
                                   mariadb.database)
    mysql_db.create_tables(admin, {"forms": DDL})
    importer = mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, mariadb.import_user, mariadb.import_password,
                                      mariadb.database)
    sqlite = mysql_db.SQLiteDatabase(tmp_path_factory.mktemp("engines") / "forms.sqlite3")
    mysql_db.create_tables(sqlite, {"forms": DDL})
    yield {"mariadb": (importer, admin), "sqlite": (sqlite, sqlite)}
    importer.close()
    admin.close()
    sqlite.close()


def outcome(db, reader, key, column, value):
    try:
        db.load_rows("forms", ["k", column], [[str(key), value]])
    except mysql_db.ValueDoesNotFitError as err:
        return "refused", err.column, err.row_number
    (stored,) = reader.fetch_all(f"SELECT {column} FROM forms WHERE k = %s", (key,))[0]
    return "stored", as_text(column, stored)


@pytest.mark.parametrize("column,value", CASES, ids=[f"{c}={v!r}" for c, v in CASES])
def test_both_engines_store_the_same_or_both_refuse(engines, column, value):
    key = CASES.index((column, value))
    results = {name: outcome(db, reader, key, column, value) for name, (db, reader) in engines.items()}
    assert results["sqlite"] == results["mariadb"]


def test_a_date_and_the_same_date_at_midnight_are_one_key_on_both_engines(engines):
    for name, (db, reader) in engines.items():
        db.execute_script(["CREATE TABLE days (day datetime NOT NULL, n int NOT NULL, PRIMARY KEY (day))"]) \
            if name == "sqlite" else reader.execute_script(
                ["CREATE TABLE days (day datetime NOT NULL, n int NOT NULL, PRIMARY KEY (day))"])
        first = db.load_rows("days", ["day", "n"], [["2026-06-01", "1"]])
        second = db.load_rows("days", ["day", "n"], [["2026-06-01 00:00:00", "2"]])
        assert (first.inserted, second.updated) == (1, 1), name
        assert reader.fetch_all("SELECT COUNT(*), MAX(n) FROM days")[0] == (1, 2), name


def test_sqlite_keeps_every_decimal_digit(engines):
    db, _ = engines["sqlite"]
    db.load_rows("forms", ["k", "d"], [["99999", "1234567890123456.12345678"]])
    assert db.fetch_all("SELECT d FROM forms WHERE k = 99999") == [("1234567890123456.12345678",)]
