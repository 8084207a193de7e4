"""Several hosts, one database: the reportID database in MySQL (PROGSALESREPORTIDSTORE=mysql),
pairs leased in their rows, and the tools that read and write the reportID database."""

import json
import os
import signal
import subprocess
import sys

import pytest

import mysql_db
import reportid_db
from conftest import ROOT
from importenv import REPORTS, ImportEnv, run_at_once, wait_until

MYSQL_STORE = {"PROGSALESREPORTIDSTORE": "mysql"}
PAIRS = 4 * len(REPORTS)


def record(publisher_id, name, report_id, **extra):
    return {"publisher_id": publisher_id, "report_name": name, "reportID": report_id, "fingerprint": "f" * 64,
            "title": f"{name} title", **extra}


def host(sim, database, tmp_path, http, name, **env):
    return ImportEnv(sim, database, tmp_path / name, http, extra_env={**MYSQL_STORE, **env})



# --- the store itself ------------------------------------------------------------------

@pytest.fixture(params=["shelve", "mysql"])
def store(request, database, tmp_path):
    """Each store, over each engine (the mysql store on SQLite is the embedded set-up)."""
    import mysql_db_reporting
    import settings as settings_module
    mysql_db.create_tables(database.admin, mysql_db_reporting.REPORTING_TABLES)
    env = {"HOME": str(tmp_path / "home"), **database.settings_env, "PROGSALESREPORTIDSTORE": request.param,
           "PROGSALESREPORTIDLEASE": "2"}
    (tmp_path / "home").mkdir()
    with reportid_db.open_store(settings_module.load_settings(environ=env)) as opened:
        yield opened


def test_every_store_keeps_records_the_same_way(store):
    assert store.all() == {} and store.get(1, "A") is None
    store.put(record(1, "A", 100))
    store.put(record(2, "A", 200))
    store.put(record(1, "A", 101))
    assert store.get(1, "A")["reportID"] == 101 and store.get(1, "A")["title"] == "A title"
    assert store.remove_report_ids([101]) == 1
    assert store.get(1, "A") is None and set(store.all()) == {reportid_db.record_key(2, "A")}
    store.replace_all([record(3, "B, with comma", 300), record(4, "Łódź 🎉", 400)])
    assert {r["reportID"] for r in store.all().values()} == {300, 400}
    assert store.get(4, "Łódź 🎉")["reportID"] == 400


def test_a_claim_excludes_every_other_program_until_released(store, tmp_path, database):
    assert store.claim(1, "A").held
    since = store.now()
    # Another program (another host): a second store object with its own identity.
    if isinstance(store, reportid_db.MySQLReportIdDB):
        other = reportid_db.MySQLReportIdDB(mysql_db.ConnectionPerThread(store.connections._settings), 2,
                                            host="other-host")
    else:
        other = reportid_db.ReportIdDB(store.folder.rsplit(os.sep, 1)[0])
    try:
        refused = other.claim(1, "A", not_worked_since=since)
        assert not refused.held and refused.reason
        store.release(1, "A", worked=True)
        finished = other.claim(1, "A", not_worked_since=since)
        assert not finished.held and "during this run" in finished.reason
        assert other.claim(1, "A", not_worked_since=store.now() + 1).held
    finally:
        other.close()


def test_a_pair_marked_finished_in_the_future_is_worked_not_skipped(store, database, caplog):
    """A run made while the clock was a day ahead marks its pairs finished "tomorrow"; once
    the clock is right again, every run must still work them (issue 22, item 3)."""
    assert store.claim(1, "A").held
    store.release(1, "A", worked=True)
    tomorrow = store.now() + 86400
    if isinstance(store, reportid_db.MySQLReportIdDB):
        database.admin.execute("UPDATE prog_ix_report_ids SET worked_at = %s", (tomorrow,))
    else:
        path = store._claim_path(1, "A")
        with open(path) as f:
            mark = json.load(f)
        with open(path, "w") as f:
            json.dump({**mark, "worked_at": tomorrow}, f)
    started = store.now()
    claim = store.claim(1, "A", not_worked_since=started)
    assert claim.held, claim.reason
    store.release(1, "A", worked=True)
    finished = store.claim(1, "A", not_worked_since=started)
    assert not finished.held and "during this run" in finished.reason, "a pair finished now still counts"
    if not isinstance(store, reportid_db.MySQLReportIdDB):
        assert "in the future" in caplog.text


@pytest.fixture
def lease_connections(mariadb_database, tmp_path):
    """Connections as the importing user to a database with the reporting tables."""
    import settings as settings_module
    import mysql_db_reporting
    mysql_db.create_tables(mariadb_database.admin, mysql_db_reporting.REPORTING_TABLES)
    env = {"HOME": str(tmp_path), **mariadb_database.settings_env, **MYSQL_STORE}
    connections = mysql_db.ConnectionPerThread(settings_module.load_settings(environ=env))
    yield connections
    connections.close()


def test_a_lease_runs_out_when_its_holder_stops_renewing(lease_connections):
    connections = lease_connections
    dead = reportid_db.MySQLReportIdDB(connections, 2, host="dead-host")
    alive = reportid_db.MySQLReportIdDB(connections, 2, host="alive-host")
    try:
        assert dead.claim(5, "A").held
        dead._stop.set()     # as if killed: nobody renews its lease any more
        assert not alive.claim(5, "A").held
        wait_until(lambda: alive.claim(5, "A").held, "the dead holder's lease to run out", seconds=10)
        alive.put(record(5, "A", 500))
        with pytest.raises(reportid_db.LeaseLostError, match="lease ran out"):
            dead.put(record(5, "A", 999))
        assert alive.get(5, "A")["reportID"] == 500, "a host that lost its lease overwrites nothing"
    finally:
        alive.close()
        dead.close()


def test_a_renewed_lease_outlives_its_length(mariadb_database, lease_connections):
    connections = lease_connections
    holder = reportid_db.MySQLReportIdDB(connections, 2, host="busy-host")
    other = reportid_db.MySQLReportIdDB(connections, 2, host="other-host")
    try:
        assert holder.claim(6, "A").held
        until = lambda: float(mariadb_database.rows(  # noqa: E731
            "SELECT lease_until FROM prog_ix_report_ids")[0][0])
        first = until()
        wait_until(lambda: until() > first + 0.3, "a renewal", seconds=10)
        # Past the first lease's end, the pair is still held.
        wait_until(lambda: mariadb_database.rows("SELECT UNIX_TIMESTAMP(NOW(6))")[0][0] > first + 0.5,
                   "the first lease's end", seconds=10)
        assert not other.claim(6, "A").held, "renewed: still held"
    finally:
        other.close()
        holder.close()


def test_the_mysql_store_needs_its_table(mariadb_database, tmp_path):
    import settings as settings_module
    from errors import ConfigurationError
    env = {"HOME": str(tmp_path), **mariadb_database.settings_env, **MYSQL_STORE}
    with pytest.raises(ConfigurationError, match="prog_ix_report_ids does not exist"):
        with reportid_db.open_store(settings_module.load_settings(environ=env)):
            pass


# --- two hosts, one database -----------------------------------------------------------

@pytest.mark.parametrize("round_number", range(3))
def test_two_hosts_started_at_once_share_the_pairs(sim, mariadb_database, tmp_path, http, round_number):
    sim.configure(run_delay=0.3, latency=0.02)
    first = host(sim, mariadb_database, tmp_path, http, "host-a")
    second = host(sim, mariadb_database, tmp_path, http, "host-b")
    expected = len(first.publishers) * len(REPORTS) * sim.config.report_rows_per_period
    total_loaded = 0
    for repeat in range(2):      # the second time round the specs exist: no saves
        loaded, left = run_at_once([first, second], "-r", "3", *REPORTS, timeout=120)
        assert loaded + left == 2 * len(first.publishers) * len(REPORTS) and loaded >= len(first.publishers) * len(REPORTS)
        total_loaded += loaded
        assert sim.stats()["saves"] == len(first.publishers) * len(REPORTS), "one spec per pair across hosts"
        assert first.run_statuses() == {"loaded": total_loaded}, "each file loaded once, by one host"
        assert first.stats_rows() == expected
    records = mariadb_database.rows("SELECT COUNT(*), COUNT(DISTINCT reportID), COUNT(lease_holder) "
                                    "FROM prog_ix_report_ids")[0]
    assert tuple(records) == (len(first.publishers) * len(REPORTS),) * 2 + (0,), "every lease given back"
    hosts = {r[0] for r in mariadb_database.rows("SELECT DISTINCT host FROM prog_ix_import_log")}
    assert len(hosts) == 1   # both "hosts" are this machine; the log records its name


def test_a_host_killed_holding_leases_then_another_finishes_its_pairs(sim, mariadb_database, tmp_path, http):
    lease = {"PROGSALESREPORTIDLEASE": "2"}
    sim.configure(run_delay=4, latency=0.01)
    doomed = host(sim, mariadb_database, tmp_path, http, "host-a", **lease)
    survivor = host(sim, mariadb_database, tmp_path, http, "host-b", **lease)
    process = doomed.script("-r", "3", *REPORTS, wait=False)
    pairs = len(doomed.publishers) * len(REPORTS)
    wait_until(lambda: doomed.run_statuses().get("pending", 0) == pairs, "every pair's run requested")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    held = mariadb_database.rows("SELECT COUNT(*) FROM prog_ix_report_ids WHERE lease_holder IS NOT NULL")[0][0]
    assert held == pairs

    blocked = survivor.run(retries=3)
    assert blocked.pairs_elsewhere == pairs and blocked.files_loaded == 0 and blocked.specs_created == 0

    wait_until(lambda: mariadb_database.rows("SELECT COUNT(*) FROM prog_ix_report_ids "
                                             "WHERE lease_until > UNIX_TIMESTAMP(NOW(6))")[0][0] == 0,
               "the dead host's leases to run out", seconds=30)
    finished = survivor.run(retries=3)
    assert finished.complete and finished.pairs_elsewhere == 0
    assert finished.files_from_earlier == pairs, "the dead host's runs are collected"
    assert finished.files_loaded == 2 * pairs and finished.specs_reused == pairs
    assert sim.stats()["saves"] == pairs, "the dead host's specs are reused, none made twice"
    assert doomed.run_statuses() == {"loaded": 2 * pairs}
    assert doomed.stats_rows() == len(doomed.publishers) * len(REPORTS) * sim.config.report_rows_per_period


# --- the tools on the MySQL store, and the migration ------------------------------------

def script(ix, name, *args, input_text=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, name), *args], env=ix.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, input=input_text)


def test_shelve_to_mysql_and_back(sim, mariadb_database, tmp_path, http):
    ix = host(sim, mariadb_database, tmp_path, http, "home", PROGSALESREPORTIDSTORE="shelve")
    ix.run()
    shelve_dump = script(ix, "ix-reportid-db-to-json.py")
    assert shelve_dump.returncode == 0, shelve_dump.stderr
    records = json.loads(shelve_dump.stdout)["reports"]
    assert len(records) == PAIRS
    dump_file = tmp_path / "ids.json"
    dump_file.write_text(shelve_dump.stdout)

    loaded = script(ix, "json-to-ix-reportid-db.py", "--store", "mysql", str(dump_file))
    assert loaded.returncode == 0 and f"{PAIRS} records" in loaded.stdout, loaded.stderr
    mysql_dump = script(ix, "ix-reportid-db-to-json.py", "--store", "mysql")
    assert json.loads(mysql_dump.stdout)["reports"] == records, "the same records, field for field"

    # The MySQL store now serves the main program: nothing is saved again.
    saves = sim.stats()["saves"]
    moved = ImportEnv(sim, mariadb_database, tmp_path / "home", http, extra_env=MYSQL_STORE)
    assert moved.run().specs_reused == PAIRS and sim.stats()["saves"] == saves

    # And back: a fresh shelve from the MySQL store's dump.
    (tmp_path / "back.json").write_text(mysql_dump.stdout)
    other_home = host(sim, mariadb_database, tmp_path, http, "other", PROGSALESREPORTIDSTORE="shelve")
    assert script(other_home, "json-to-ix-reportid-db.py", str(tmp_path / "back.json")).returncode == 0
    assert json.loads(script(other_home, "ix-reportid-db-to-json.py").stdout)["reports"] == records


def test_deactivate_and_tidy_work_on_the_mysql_store(sim, mariadb_database, tmp_path, http):
    ix = host(sim, mariadb_database, tmp_path, http, "home")
    ix.run()
    ids = [int(r[0]) for r in mariadb_database.rows("SELECT reportID FROM prog_ix_report_ids ORDER BY reportID")]
    tidy = script(ix, "tidy-reports.py", "-n")
    assert tidy.returncode == 0 and "would deactivate 0 of" in tidy.stdout, tidy.stdout + tidy.stderr
    gone = script(ix, "deactivate-reportid.py", str(ids[0]))
    assert gone.returncode == 0 and "dropped from the reportID database" in gone.stdout, gone.stderr
    assert mariadb_database.rows(f"SELECT reportID FROM prog_ix_report_ids WHERE reportID = {ids[0]}") == []
    # A spec the store forgot (a lost save) is an orphan tidy-reports finds.
    mariadb_database.admin.execute(f"UPDATE prog_ix_report_ids SET reportID = NULL WHERE reportID = {ids[1]}")
    tidy = script(ix, "tidy-reports.py", "-n")
    assert f"would deactivate {ids[1]}" in tidy.stdout
    listed = script(ix, "get-list-active-reports.py")
    assert listed.returncode == 0 and str(ids[2]) in listed.stdout
    again = ix.run()
    assert again.specs_created == 2 and again.complete, "the two forgotten pairs get new specs"


def test_the_importing_user_needs_no_more_than_select_insert_update(mariadb_database, tmp_path):
    grants = " ".join(r[0] for r in mariadb_database.db.fetch_all("SHOW GRANTS"))
    assert "DELETE" not in grants and "ALL PRIVILEGES" not in grants
    import settings as settings_module
    import mysql_db_reporting
    mysql_db.create_tables(mariadb_database.admin, mysql_db_reporting.REPORTING_TABLES)
    env = {"HOME": str(tmp_path), **mariadb_database.settings_env, **MYSQL_STORE}
    with reportid_db.open_store(settings_module.load_settings(environ=env)) as store:
        assert store.claim(1, "A").held
        store.put(record(1, "A", 10))
        store.release(1, "A")
        assert store.remove_report_ids([10]) == 1
        store.replace_all([record(2, "B", 20)])
        assert list(store.all()) == [reportid_db.record_key(2, "B")]
