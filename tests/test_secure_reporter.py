"""secure-reporter-to-db.py end to end: the Secure Reporter stand-in over HTTP, MariaDB and
SQLite."""

import datetime as dt
import os
import re
import subprocess
import sys

import pytest

import mysql_db
import mysql_db_health
import mysql_db_securereporter
import secureReporterSupport
from conftest import ROOT
from errors import ApiError, ConfigurationError
from secureReporterWrapper import SecureReporterOptions, SecureReporterRun
from standins.securereporter import SecureReporterStandIn

TODAY = dt.date(2026, 6, 5)
DAYS, PER_DAY = 7, 4


@pytest.fixture
def sr():
    with SecureReporterStandIn(seed=1) as standin:
        yield standin


class Env:
    def __init__(self, sr, database, home, http):
        self.sr, self.database, self.home, self.http = sr, database, home, http
        self.mapping = home / "sr_mapping.py"
        self.write_mapping({"Direct revenue": {"report": "daily-direct-revenue", "db_table": "prog_sr_direct_revenue",
                                               "params": {"_from": "today-7d", "_to": "today"}},
                            "By id": {"report": 101, "db_table": "prog_sr_direct_revenue",
                                      "params": {"_from": "2026-05-01", "_to": "2026-05-03"}}})
        self.env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "SECUREREPORTERBASEURL": sr.base_url,
                    "SECUREREPORTERTOKEN": sr.token, "SECUREREPORTERMAPPINGFILE": str(self.mapping),
                    "INDEXEXCHANGEMAXRETRYWAIT": "5", **database.settings_env}
        mysql_db.create_tables(database.admin, mysql_db_securereporter.SECURE_REPORTER_TABLES)
        mysql_db.create_tables(database.admin, mysql_db_health.HEALTH_TABLES)

    def write_mapping(self, entries):
        self.mapping.parent.mkdir(parents=True, exist_ok=True)
        self.mapping.write_text(f"SECURE_REPORTER_TO_DB_TABLE = {entries!r}\n")

    def settings(self, **overrides):
        import settings as settings_module
        return settings_module.load_settings(environ={**self.env, **overrides})

    def run(self, reports=("Direct revenue",), params=None, **settings_overrides):
        options = SecureReporterOptions(report_names=list(reports), params=params or {}, today=TODAY)
        return SecureReporterRun(self.settings(**settings_overrides), options, http=self.http).run()

    def rows(self):
        return self.database.rows("SELECT day, advertiser_id, advertiser, bookings, revenue, updated_at "
                                  "FROM prog_sr_direct_revenue ORDER BY day, advertiser_id")

    def script(self, *args, **env):
        return subprocess.run([sys.executable, os.path.join(ROOT, "secure-reporter-to-db.py"), *args],
                              env={**self.env, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(sr, database, tmp_path, http):
    return Env(sr, database, tmp_path / "home", http)


def test_load_then_rerun_overwrites_without_duplicates(env, sr):
    summary = env.run()
    assert summary.complete, summary.problems
    assert (summary.records, summary.rows_inserted, summary.rows_updated) == (DAYS * PER_DAY, DAYS * PER_DAY, 0)
    rows = env.rows()
    assert len(rows) == DAYS * PER_DAY
    assert str(rows[0][0])[:10] == "2026-05-29" and str(rows[-1][0])[:10] == "2026-06-04", "today-7d .. today"
    expected = sr.records(sr.report("101"), {"_from": "2026-05-29", "_to": "2026-06-05"})
    assert [float(r[4]) for r in rows] == pytest.approx([float(e["revenue"]) for e in expected])
    assert {r[2] for r in rows} >= {"Café Öresund", "Svea \"Bank\""}
    again = env.run()
    assert (again.rows_inserted, again.rows_updated) == (0, DAYS * PER_DAY)
    assert len(env.rows()) == DAYS * PER_DAY


def test_report_by_id_and_a_param_override(env, sr):
    summary = env.run(reports=["By id"], params={"_to": "2026-05-02"})
    assert summary.complete and summary.records == PER_DAY
    assert sr.stats()["call"] == 1


def test_a_parameter_the_report_does_not_take_is_refused_before_any_report_runs(env, sr):
    """Secure Reporter ignores a parameter it does not know, and the report would run with
    its defaults: a --param typo, or a mapping's, is named from the report's definition
    (issue 22, item 21)."""
    with pytest.raises(ConfigurationError, match=r"--param _fro: no report named takes it"):
        env.run(params={"_fro": "2026-05-01"})
    env.write_mapping({"Direct revenue": {"report": "daily-direct-revenue", "db_table": "prog_sr_direct_revenue",
                                          "params": {"_from": "today-7d", "_until": "today"}}})
    with pytest.raises(ConfigurationError, match=r"report 'Direct revenue' takes no parameter _until \(the "
                                                 r"mapping gives it; it takes _from, _to\)"):
        env.run()
    assert sr.stats().get("call", 0) == 0 and env.rows() == []


def test_relative_dates_resolve_in_utc():
    today = dt.date(2026, 3, 15)
    resolve = secureReporterSupport.resolve_value
    assert [resolve(v, today) for v in ("today", "yesterday", "today-7d", "today+1d", "month-start",
                                        "last-month-start", "literal", 5)] == \
        ["2026-03-15", "2026-03-14", "2026-03-08", "2026-03-16", "2026-03-01", "2026-02-01", "literal", "5"]


def test_ok_false_is_a_failed_report_with_the_servers_message(env, sr):
    summary = env.run(params={"_from": "not-a-date"})
    assert not summary.complete and summary.reports_failed == 1
    assert "bad parameter: _from must be YYYY-MM-DD, got 'not-a-date'" in summary.problems[0]
    assert env.rows() == []


def test_expired_token_and_missing_group_are_explained(env, sr):
    sr.expire_token(sr.token)
    summary = env.run()
    assert "token is unknown or expired (tokens cannot be edited" in summary.problems[0]
    assert summary.exit_code == 2 and len(summary.problems) == 1, "refused: configuration, said once (issue 22, 16)"
    other = sr.make_token("marketing-only", groups=("marketing",))
    summary = env.run(SECUREREPORTERTOKEN=other)
    assert "groups do not include this report's" in summary.problems[0]
    assert env.rows() == []


def test_the_api_user_token_is_refused_before_anything_is_sent(env, sr):
    with pytest.raises(ConfigurationError, match="api.user token, which Secure Reporter reserves"):
        env.run(SECUREREPORTERTOKEN=sr.api_user_token)
    assert sr.stats() == {}


def test_a_value_that_does_not_fit_names_report_record_column_and_leaves_the_table(env, sr):
    env.database.admin.execute_script(["DROP TABLE prog_sr_direct_revenue",
                                       mysql_db_securereporter.SECURE_REPORTER_TABLES["prog_sr_direct_revenue"]
                                       .replace("advertiser varchar(255)", "advertiser varchar(12)")])
    env.database.admin.load_rows("prog_sr_direct_revenue", ["day", "advertiser_id", "advertiser"],
                                 [["2026-06-01", "7001", "kept"]])
    summary = env.run()
    assert summary.reports_failed == 1
    assert summary.problems[0].startswith("report 'Direct revenue': loading prog_sr_direct_revenue: row 1, column "
                                          "advertiser: value 'Nordic Motors' does not fit")
    assert [(r[1], r[2]) for r in env.rows()] == [(7001, "kept")], "the table is as it was"


def test_a_record_whose_keys_differ_is_named(database, tmp_path):
    mysql_db.create_tables(database.admin, mysql_db_securereporter.SECURE_REPORTER_TABLES)
    path = tmp_path / "answer.json"
    path.write_text('{"message": "", "ok": true, "records": [{"day": "2026-06-01", "advertiser_id": 1}, '
                    '{"day": "2026-06-02", "advertiser_id": 2}, {"day": "2026-06-03"}]}')
    with pytest.raises(secureReporterSupport.RecordShapeError, match="record 3: its keys differ from the first "
                                                                     r"record's \(lacks advertiser_id\)"):
        secureReporterSupport.load_answer(database.db, str(path), "prog_sr_direct_revenue", "x")
    assert database.rows("SELECT COUNT(*) FROM prog_sr_direct_revenue")[0][0] == 0


@pytest.mark.parametrize("answer,named", [
    ('{"ok": true, "records": {"day": "2026-06-01", "advertiser_id": 1}}', "records is an object, not a list"),
    ('{"ok": true, "records": [["2026-06-01", 1]]}', "record 1 is a list, not an object"),
    ('{"ok": true, "message": ""}', "it has no records"),
    ('{"ok": true, "records": [{"day": "2026-06-01", "advertiser_id": {"id": 1}}]}',
     "record 1, field 'advertiser_id' is an object, not a plain value"),
    ('[{"day": "2026-06-01"}]', "it is not a JSON object"),
])
def test_an_answer_of_another_shape_is_named_not_loaded_as_nothing(database, tmp_path, answer, named):
    """Records missing, an object, a list of lists: one clear error (exit 1), never "0 rows" (issue 22, item 4)."""
    mysql_db.create_tables(database.admin, mysql_db_securereporter.SECURE_REPORTER_TABLES)
    path = tmp_path / "answer.json"
    path.write_text(answer)
    with pytest.raises(ApiError, match=re.escape(named)) as caught:
        secureReporterSupport.load_answer(database.db, str(path), "prog_sr_direct_revenue", "x")
    assert caught.value.exit_code == 1


def test_a_deeply_nested_answer_is_refused_in_bounded_memory(database, tmp_path):
    import tracemalloc
    mysql_db.create_tables(database.admin, mysql_db_securereporter.SECURE_REPORTER_TABLES)
    path = tmp_path / "answer.json"
    depth = 100_000       # 200 KB of brackets: the old reader needed more than 16 GB
    path.write_text('{"ok": true, "deep": ' + "[" * depth + "]" * depth + ', "records": []}')
    tracemalloc.start()
    try:
        with pytest.raises(ApiError, match="nests deeper than 32 levels"):
            secureReporterSupport.load_answer(database.db, str(path), "prog_sr_direct_revenue", "x")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak >> 20} MB"


def test_a_record_key_that_is_no_column_is_refused_before_anything_is_sent(database, tmp_path):
    mysql_db.create_tables(database.admin, mysql_db_securereporter.SECURE_REPORTER_TABLES)
    path = tmp_path / "answer.json"
    path.write_text('{"ok": true, "records": [{"day": "2026-06-01", "advertiser_id": 1, "x`; DROP TABLE y; --": 1}]}')
    with pytest.raises(mysql_db.InvalidColumnsError):
        secureReporterSupport.load_answer(database.db, str(path), "prog_sr_direct_revenue", "x")


def test_faults_are_retried(env, sr):
    sr.faults.add("503", count=2)
    sr.faults.add("drop", count=1)
    summary = env.run()
    assert summary.complete, summary.problems


def test_script_check_summary_exit_codes_and_health_record(env, sr):
    checked = env.script("--check", "Direct revenue")
    assert checked.returncode == 0 and "into prog_sr_direct_revenue" in checked.stdout and sr.stats() == {}
    unknown = env.script("Direct revenu")
    assert unknown.returncode == 2 and "did you mean 'Direct revenue'" in unknown.stderr
    result = env.script("-R", "Direct revenue")
    assert result.returncode == 0, result.stderr
    assert "Secure Reporter summary" in result.stdout and sr.token not in result.stdout + result.stderr
    failed = env.script("--param", "_from=bad", "Direct revenue")
    assert failed.returncode == 1 and "bad parameter" in failed.stderr
    codes = [r["exit_code"] for r in mysql_db_health.runs(env.database.admin, "secure-reporter-to-db.py")]
    assert codes == [2, 0, 1]


def test_kill_in_the_middle_of_a_load_then_rerun(sr, mariadb_database, tmp_path, http):
    import signal
    import time
    env = Env(sr, mariadb_database, tmp_path / "home", http)
    sr.configure(records_per_day=20000)          # 7 days: 140,000 records
    admin = mariadb_database.admin

    def rows_written():
        # Counts rows written by open transactions too: the load's progress, seen from outside.
        return sum(int(value) for _, value in admin.fetch_all("SHOW GLOBAL STATUS LIKE 'Handler_write'"))

    before = rows_written()
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "secure-reporter-to-db.py"), "Direct revenue"],
                               env=env.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while rows_written() - before < 10000:
        assert process.poll() is None, "the load finished before it could be killed: " + process.stderr.read()
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert env.rows() == [], "an interrupted load leaves nothing behind"
    summary = env.run()
    assert summary.complete and summary.records == 140000
    assert mariadb_database.rows("SELECT COUNT(*) FROM prog_sr_direct_revenue")[0][0] == 140000


def test_the_set_up_script_creates_the_starter_table_and_the_health_record(database, tmp_path):
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], **database.settings_env}
    admin = [] if database.engine == "sqlite" else ["-u", "ixadmin"]
    result = subprocess.run([sys.executable, os.path.join(ROOT, "secure-reporter-create-db-tables.py"), *admin],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                            input="" if database.engine == "sqlite" else "admin-pw-for-tests\n")
    assert result.returncode == 0, result.stderr
    assert "created: prog_sr_direct_revenue;" in result.stdout and "prog_ix_import_log: created" in result.stdout
    assert database.admin.table_exists("prog_sr_direct_revenue")
