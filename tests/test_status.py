"""ix-status.py as an operator and a monitoring system use it (issue 23): what ran, what
waits, who holds what, and exit 1 exactly when something needs a person; on both engines."""

import datetime as dt
import json
import socket
import subprocess
import sys

import pytest

import mysql_db
import mysql_db_health
import reportid_db
import settings as settings_module
from importenv import REPORTS, ImportEnv


@pytest.fixture
def ix(sim, database, tmp_path, http):
    return ImportEnv(sim, database, tmp_path / "home", http)


def status(ix, *args):
    result = ix.script_named("ix-status.py", "--json", *args)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def hours_ago(hours):
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")


def test_all_well_is_exit_0_in_the_documented_shape(ix, sim):
    assert ix.run(reports=REPORTS[:1]).complete
    code, shown = status(ix)
    assert code == 0 and shown["needs_attention"] is False and shown["attention"] == []
    assert set(shown) == {"version", "generated_at", "host", "hours", "pending_hours", "needs_attention", "attention",
                          "programs", "files", "queued_pairs", "leases", "spec_saves", "backfills"}
    assert shown["backfills"] == [], "added with backfills; none begun"
    assert shown["version"] == 1 and shown["host"] == socket.gethostname()
    [run] = shown["programs"]["index-exchange-to-db.py"]["runs"]
    assert set(run) == {"run_id", "started_at", "finished_at", "duration_seconds", "host", "pid", "exit_code", "state",
                        "counts", "problems"}
    assert (run["state"], run["exit_code"], run["counts"]["files_loaded"]) == ("finished", 0, 4)
    assert shown["spec_saves"] == {"day": dt.datetime.now(dt.timezone.utc).date().isoformat(), "made": 4,
                                   "limit": 2000, "refused_by_index_exchange": False}
    text = ix.script_named("ix-status.py")
    assert text.returncode == 0 and "nothing needs attention" in text.stdout and "spec saves on" in text.stdout


def test_a_failed_run_a_died_run_and_an_old_pending_file_need_a_person(ix, sim):
    sim.configure(run_delay=10 ** 6)
    failed = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]], retries=0)
    assert failed.files_pending == 1
    ix.database.admin.execute("UPDATE prog_ix_report_runs SET requested_at = %s", (hours_ago(30),))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mysql_db_health.open_run(ix.database.admin, "died-run", "cal-downloads.py", socket.gethostname(), dead.pid, "")
    mysql_db_health.open_run(ix.database.admin, "far-run", "cal-downloads.py", "other-host", 4242, "")
    code, shown = status(ix)
    assert code == 1 and shown["needs_attention"] is True
    attention = "\n".join(shown["attention"])
    assert "index-exchange-to-db.py: its last run" in attention and "ended with exit code 1" in attention
    assert "1 report files pending longer than 24 h" in attention
    assert "cal-downloads.py: the run of" in attention and f"died (pid {dead.pid})" in attention
    states = {r["run_id"]: r["state"] for r in shown["programs"]["cal-downloads.py"]["runs"]}
    assert states == {"died-run": "died", "far-run": "open elsewhere"}
    [pending] = shown["files"]
    assert pending["status"] == "pending" and pending["age_hours"] >= 30 and pending["attempts"] == 1
    assert "not ready after 0 s" in pending["last_error"]
    assert status(ix, "--pending-hours", "48")[1]["attention"] != shown["attention"], "the threshold is the option's"
    only_cal = status(ix, "--program", "cal-downloads.py")[1]
    assert list(only_cal["programs"]) == ["cal-downloads.py"] and only_cal["files"] == []


def test_no_successful_run_in_the_window_needs_a_person(ix, sim):
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    ix.database.admin.execute("UPDATE prog_ix_import_log SET started_at = %s, finished_at = %s",
                              (hours_ago(30), hours_ago(30)))
    code, shown = status(ix)
    assert code == 1 and "index-exchange-to-db.py: no successful run in the last 24 h (last success" in \
        shown["attention"][0]
    assert status(ix, "--hours", "48")[0] == 0


@pytest.fixture
def mysql_ix(sim, mariadb_database, tmp_path, http):
    return ImportEnv(sim, mariadb_database, tmp_path / "home", http,
                     extra_env={"PROGSALESREPORTIDSTORE": "mysql", "INDEXEXCHANGESAVESPERDAY": "3"})


def test_queued_pairs_leases_held_and_the_days_saves(mysql_ix, sim):
    ix = mysql_ix
    summary = ix.run(reports=REPORTS[:1])
    assert summary.pairs_waiting_for_saves == 1
    other = reportid_db.MySQLReportIdDB(mysql_db.ConnectionPerThread(settings_module.load_settings(environ=ix.env)),
                                        300, host="other-host")
    try:
        assert other.claim(ix.publishers[1], REPORTS[0]).held
        code, shown = status(ix)
        text = ix.script_named("ix-status.py").stdout
    finally:
        other.close()
    [queued] = shown["queued_pairs"]
    assert queued["publisher_id"] in ix.publishers and queued["report_name"] == REPORTS[0]
    assert "today's spec saves are used (3 allowed)" in queued["last_error"]
    [lease] = shown["leases"]
    assert (lease["publisher_id"], lease["host"]) == (ix.publishers[1], "other-host") and lease["seconds_left"] > 200
    assert shown["spec_saves"]["made"] == 3 and shown["spec_saves"]["limit"] == 3
    assert "pairs queued: 1" in text and "leases held: 1" in text and "by other-host" in text
