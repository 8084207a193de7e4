"""The main program end to end: the simulator over HTTP, MariaDB and SQLite."""

import os
import signal
import subprocess
import sys
import time

import pytest

import mysql_db_reporting
import reportid_db
from conftest import ROOT
from errors import ConfigurationError
from importenv import REPORTS, ImportEnv, summary_figure


@pytest.fixture
def ix(sim, database, tmp_path, http):
    return ImportEnv(sim, database, tmp_path / "home", http)


def expected_rows(ix, reports=REPORTS):
    return len(ix.publishers) * len(reports) * ix.sim.config.report_rows_per_period


# --- the happy path ---------------------------------------------------------------------

def test_all_pairs_loaded_then_rerun_reuses_specs_and_overwrites_rows(ix, sim):
    summary = ix.run()
    assert summary.complete
    assert (summary.pairs, summary.specs_created, summary.files_loaded) == (8, 8, 8)
    assert summary.rows_loaded == summary.rows_inserted == expected_rows(ix)
    assert ix.stats_rows() == expected_rows(ix)
    assert ix.run_statuses() == {"loaded": 8}
    publishers = {r[0] for r in ix.rows("SELECT DISTINCT publisher_id FROM prog_ix_stats")}
    assert publishers == set(ix.publishers)

    again = ix.run()
    assert (again.specs_created, again.specs_updated, again.specs_reused) == (0, 0, 8)
    assert again.rows_updated == expected_rows(ix) and again.rows_inserted == 0
    assert ix.stats_rows() == expected_rows(ix), "a rerun overwrites, never adds"
    assert sim.stats()["saves"] == 8, "unchanged specs are not saved again"


def test_specs_have_the_standard_title_and_forced_settings(ix, sim):
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[1]])
    record = reportid_db.ReportIdDB(ix.settings.settings_store()).get(ix.publishers[1], REPORTS[0])
    body, active = sim.spec(record["reportID"])
    assert active and body["accounts"] == [ix.publishers[1]]
    assert body["fileType"] == "csv" and body["regionSetting"] == "standard"
    assert body["reportTitle"].startswith("Generic Revenue Report taken from Prog API Temporary AutoUploaded "
                                          "report by sandbox_example.com ")


def test_changed_template_updates_the_spec(ix, sim):
    ix.run(reports=REPORTS[:1])
    template = ix.template(REPORTS[0])
    template["dateRange"] = {"previous": {"days": 2}}
    ix.write_template(REPORTS[0], template)
    summary = ix.run(reports=REPORTS[:1])
    assert (summary.specs_updated, summary.specs_created) == (4, 0)
    record = reportid_db.ReportIdDB(ix.settings.settings_store()).get(ix.publishers[0], REPORTS[0])
    body, _ = sim.spec(record["reportID"])
    assert " UPDATED taken from Prog API" in body["reportTitle"]
    assert body["dateRange"] == {"previous": {"days": 2}}
    assert sim.stats()["saves"] == 8


def test_keep_files_named_by_file_id(ix, tmp_path):
    keep = tmp_path / "kept"
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]], keep_files=True, download_dir=str(keep))
    files = os.listdir(keep)
    file_id = ix.rows("SELECT file_id FROM prog_ix_report_runs")[0][0]
    assert files == [f"{file_id}.csv"]
    assert (keep / files[0]).read_text().splitlines()[0] == ",".join(ix.template(REPORTS[0])["querySpec"]["fields"])


# --- checks before anything is sent ----------------------------------------------------

def test_every_configuration_problem_in_one_error_and_nothing_sent(ix, sim):
    ix.database.admin.execute_script(["DROP TABLE prog_ix_stats", """CREATE TABLE prog_ix_stats (
        day datetime NOT NULL, publisher_id int NOT NULL, site_id int NOT NULL, impressions bigint,
        PRIMARY KEY (day, publisher_id, site_id))"""])
    with pytest.raises(ConfigurationError) as caught:
        ix.run(reports=REPORTS + ["No Such Template", "Unmapped"], publisher_ids=[ix.publishers[0], 424242])
    message = str(caught.value)
    assert "'No Such Template': no template" in message
    assert "'Unmapped': no entry 'Unmapped' in " in message and "report_to_db_table_mapping.py" in message
    assert "table prog_ix_stats has no column for site_name, domain, ad_spend, publisher_payment, ecpm" in message
    assert "424242 not in prog_ix_publishers" in message
    assert sim.stats()["calls"] == {}


def test_missing_template_via_the_script_exits_2(ix, sim):
    result = ix.script("No Such Report")
    assert result.returncode == 2
    assert "no template" in result.stderr and "No Such Report" in result.stderr
    assert sim.stats()["calls"] == {}


def test_missing_bookkeeping_table(ix, sim):
    ix.database.admin.execute_script(["DROP TABLE prog_ix_report_runs"])
    with pytest.raises(ConfigurationError, match="prog_ix_report_runs does not exist.*report-create-db-tables"):
        ix.run()


# --- failures that leave work pending ---------------------------------------------------

def test_value_that_does_not_fit_stays_pending_until_the_table_is_fixed(ix, sim):
    ix.database.admin.execute_script(["DROP TABLE prog_ix_stats", mysql_db_reporting.REPORTING_TABLES["prog_ix_stats"]
                                      .replace("site_name varchar(255)", "site_name varchar(8)")])
    summary = ix.run(reports=REPORTS[:1])
    assert not summary.complete
    assert summary.files_pending == summary.files_failed > 0
    assert summary.rows_rejected > 0
    assert any("column site_name" in p and "does not fit" in p for p in summary.problems)
    failed = summary.files_failed
    assert ix.run_statuses().get("pending") == failed
    loaded_before = ix.stats_rows()

    ix.database.admin.execute_script(["DROP TABLE prog_ix_stats", mysql_db_reporting.REPORTING_TABLES["prog_ix_stats"]])
    later = ix.run(reports=REPORTS[1:])
    assert later.complete and later.files_from_earlier == failed
    assert ix.run_statuses() == {"loaded": 4 + 4}
    assert loaded_before >= 0 and ix.stats_rows() == expected_rows(ix, REPORTS)


def test_a_run_that_never_becomes_ready_is_collected_by_the_next_run(ix, sim):
    sim.configure(run_delay=100000)
    first = ix.run(reports=REPORTS[:1], retries=0)
    assert not first.complete and first.files_pending == 4 and first.files_loaded == 0
    assert ix.run_statuses() == {"pending": 4}
    sim.advance_clock(100000)
    sim.configure(run_delay=0)
    second = ix.run(reports=REPORTS[1:])
    assert second.complete and second.files_from_earlier == 4 and second.files_loaded == 8
    assert ix.run_statuses() == {"loaded": 8}
    assert ix.stats_rows() == expected_rows(ix)
    third = ix.run(reports=REPORTS[1:])
    assert third.files_from_earlier == 0 and ix.stats_rows() == expected_rows(ix)


def test_a_spec_deactivated_on_the_server_is_replaced(ix, sim):
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    db = reportid_db.ReportIdDB(ix.settings.settings_store())
    old = db.get(ix.publishers[0], REPORTS[0])["reportID"]
    sim.deactivate_spec(old)
    summary = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    assert summary.complete and summary.specs_created == 1
    new = db.get(ix.publishers[0], REPORTS[0])["reportID"]
    assert new != old and sim.spec(new)[1]


def test_a_spec_deactivated_between_list_and_run_is_replaced(ix, sim):
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    db = reportid_db.ReportIdDB(ix.settings.settings_store())
    record = db.get(ix.publishers[0], REPORTS[0])
    # Another copy recorded this spec after our list was taken (so it is trusted), and
    # then it was deactivated: the run answers 404 and a new spec must be made.
    db.put(dict(record, saved_at=time.time() + 3600))
    sim.deactivate_spec(record["reportID"])
    summary = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    assert summary.complete and summary.specs_created == 1 and summary.specs_reused == 1
    assert db.get(ix.publishers[0], REPORTS[0])["reportID"] != record["reportID"]


def test_token_expiring_mid_run(ix, sim):
    sim.faults.add("run_create", "expire", count=1)
    sim.faults.add("file_download", "expire", count=1)
    summary = ix.run()
    assert summary.complete and summary.files_loaded == 8
    calls = sim.stats()["calls"]
    assert calls["login"] == 1 and calls["refresh"] == 2


def test_429_and_500_storms(ix, sim):
    sim.faults.add("spec_create", "429", count=6, retry_after=0)
    sim.faults.add("run_create", "503", count=6)
    sim.faults.add("file_list", "500", count=6)
    sim.faults.add("file_download", "drop", count=3)
    sim.faults.add("file_download", "truncate", count=2)
    summary = ix.run()
    assert summary.complete and summary.files_loaded == 8
    assert ix.stats_rows() == expected_rows(ix)
    served = sim.stats()["faults_served"]
    assert served == {"spec_create": 6, "run_create": 6, "file_list": 6, "file_download": 5}
    assert sim.stats()["saves"] == 8


def next_utc_day(ix, sim):
    """Index Exchange's saves, and the suite's count of them, start again."""
    sim.configure(max_saves_per_day=2000)
    ix.database.admin.execute("UPDATE prog_ix_spec_saves SET day = '2000-01-01'")


def test_a_pair_that_cannot_be_run_is_queued_and_run_next_time(ix, sim):
    sim.configure(max_saves_per_day=0)       # the day's 2,000 saves are used up
    summary = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    assert summary.pairs_queued == 1 and not summary.complete
    assert summary.problems[0].startswith("1 pairs wait for a spec save: Index Exchange refused a spec save today")
    assert ix.rows("SELECT publisher_id, report_name, status FROM prog_ix_report_queue") == \
        [(ix.publishers[0], REPORTS[0], "queued")]
    next_utc_day(ix, sim)
    later = ix.run(reports=REPORTS[1:], publisher_ids=[ix.publishers[0]])
    assert later.complete and later.files_loaded == 2
    assert ix.rows("SELECT status FROM prog_ix_report_queue") == [("done",)]


def test_bad_md5_is_fetched_again(ix, sim):
    sim.faults.add("file_download", "corrupt", count=1)
    summary = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    assert summary.complete
    assert sim.stats()["calls"]["file_download"] == 2


def test_md5_wrong_every_time_leaves_the_file_pending(ix, sim):
    sim.faults.add("file_download", "corrupt", count=10)
    summary = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    assert summary.files_failed == 1 and "md5" in summary.problems[0]
    assert ix.run_statuses() == {"pending": 1} and ix.stats_rows() == 0


def test_a_download_that_drips_is_given_up_at_its_deadline_and_collected_next_run(ix, sim):
    """A server sending a byte now and then never lets one read time out: the whole download
    has a deadline (INDEXEXCHANGEDOWNLOADTIMEOUT) (issue 22, item 6)."""
    sim.faults.add("file_download", "drip")
    ix.env["INDEXEXCHANGEDOWNLOADTIMEOUT"] = "1"
    result = ix.script("-l", str(ix.publishers[0]), "-r", "1", REPORTS[0])
    assert result.returncode == 1, result.stderr
    assert "the download took longer than 1 s" in result.stderr and "the server sends too slowly" in result.stderr
    assert ix.run_statuses() == {"pending": 1} and ix.stats_rows() == 0
    error = ix.rows("SELECT last_error FROM prog_ix_report_runs")[0][0]
    assert "took longer than 1 s" in error
    again = ix.script("-l", str(ix.publishers[0]), "-r", "1", REPORTS[0])
    assert again.returncode == 0, again.stderr
    assert ix.run_statuses() == {"loaded": 2}


@pytest.mark.parametrize("damage", ["shelf deleted", "shelf corrupted", "record corrupted"])
def test_a_damaged_reportid_database_is_found_before_any_call(ix, sim, damage):
    """Not an error per pair and a run that loads nothing with exit 0: one line, exit 2,
    nothing sent, and the health record says 2 as the process does (issue 22, item 9)."""
    import glob
    import mysql_db_health
    first = ix.script("-l", str(ix.publishers[0]), "-r", "1", REPORTS[0])
    assert first.returncode == 0, first.stderr
    current = os.path.join(ix.home, "INDEX-SETTINGS", "reportid-db", "current")
    if damage == "shelf deleted":
        for path in glob.glob(os.path.join(current, "reportids.*")):
            os.unlink(path)
    elif damage == "shelf corrupted":
        with open(os.path.join(current, "reportids.dir"), "w") as f:
            f.write("not a shelf index\n" * 100)
    else:
        os.makedirs(os.path.join(current, "records"), exist_ok=True)
        with open(os.path.join(current, "records", "0" * 24), "wb") as f:
            f.write(b"\x80\x04 not a pickle")
    sim.reset_stats()
    result = ix.script("-l", str(ix.publishers[0]), "-r", "1", REPORTS[0])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "reportID database" in lines[0] and "cannot be read" in lines[0]
    assert "nothing was sent to Index Exchange" in lines[0] and "json-to-ix-reportid-db.py" in lines[0]
    assert sum(sim.stats()["calls"].values()) == 0
    assert mysql_db_health.runs(ix.database.admin, "index-exchange-to-db.py")[-1]["exit_code"] == 2
    dump = os.path.join(ix.home, "empty.json")
    with open(dump, "w") as f:
        f.write('{"reports": []}')
    restored = subprocess.run([sys.executable, os.path.join(ROOT, "json-to-ix-reportid-db.py"), dump], env=ix.env,
                              capture_output=True, text=True, timeout=60)
    assert restored.returncode == 0, "a damaged database can be restored"
    assert ix.script("-l", str(ix.publishers[0]), "-r", "1", REPORTS[0]).returncode == 0


def test_a_recorded_spec_listed_under_another_title_is_not_reused(ix, sim):
    """Its id now names another spec (a restarted simulator gave it again, or a person
    renamed it): the pair gets a spec of its own (issue 22, item 14)."""
    first = ix.run(reports=REPORTS[:1])
    assert first.specs_created == len(ix.publishers)
    record = reportid_db.ReportIdDB(ix.settings.settings_store()).get(ix.publishers[0], REPORTS[0])
    sim.rename_spec(record["reportID"], "Someone else's report")
    again = ix.run(reports=REPORTS[:1])
    assert (again.specs_created, again.specs_reused) == (1, len(ix.publishers) - 1)
    renewed = reportid_db.ReportIdDB(ix.settings.settings_store()).get(ix.publishers[0], REPORTS[0])
    assert renewed["reportID"] != record["reportID"] and again.complete


def test_a_save_a_kill_kept_from_being_recorded_leaves_no_second_spec(ix, sim):
    """The spec was saved (its title now the UPDATED one) and the run killed before it
    recorded the save: the next run knows its own standard title and keeps the spec,
    rather than making a second one and leaving the first active for ever (issue 24)."""
    import datetime as dt
    from reportmanagementSupport import standard_title
    first = ix.run(reports=REPORTS[:1])
    record = reportid_db.ReportIdDB(ix.settings.settings_store()).get(ix.publishers[0], REPORTS[0])
    sim.rename_spec(record["reportID"], standard_title(REPORTS[0], sim.world.username,
                                                       dt.datetime(2026, 6, 5, 9, 0, 0), updated=True))
    active_before = len(sim.active_spec_ids())
    again = ix.run(reports=REPORTS[:1])
    assert first.complete and again.complete and again.specs_created == 0
    assert len(sim.active_spec_ids()) == active_before, "no second spec for the pair"


def test_ids_of_a_restarted_sandbox_simulator_never_repeat():
    from standins.ixsimulator import IXSimulator
    from simclient import RawClient, spec_for
    ids = []
    for _ in range(2):
        with IXSimulator(seed=1, run_delay=0, unique_ids=True) as restarted:
            client = RawClient(restarted)
            client.login()
            spec_id = client.create_spec(spec_for(client, restarted.world.publisher_ids[0])).json()["reportSpecID"]
            ids.append((spec_id, client.run(spec_id).json()["reportRunID"]))
    (spec_a, run_a), (spec_b, run_b) = ids
    assert spec_b > spec_a and run_b > run_a, "a later start gives later ids"
    assert {spec_a, spec_b}.isdisjoint({run_a, run_b})


def test_an_outage_while_files_wait_is_one_line_and_the_reason_recorded(ix, sim):
    """Index Exchange down for the whole wait: one line for the outage, not one per poll,
    and the file's reason says the server did not answer (issue 22, item 17)."""
    from httpclient import HttpClient
    sim.faults.add("file_list", "503", count=100000)
    ix.http = HttpClient(timeout=5, max_wait=0.3, backoff_factor=0.05, backoff_max=0.1, jitter=0)
    try:
        summary = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]], retries=1)
    finally:
        ix.http.close()
    assert sim.stats()["calls"]["file_list"] > 3, "polled several times"
    listing = [p for p in summary.problems if "listing the files" in p]
    assert len(listing) == 1 and "HTTP 503" in listing[0]
    assert summary.files_pending == 1 and not any("not ready after" in p for p in summary.problems)
    reason = ix.rows("SELECT last_error FROM prog_ix_report_runs")[0][0]
    assert reason.startswith("Index Exchange did not answer the file list when the wait of 10 s ran out")


def test_a_file_id_listed_malformed_is_named(ix, sim):
    sim.faults.add("file_list", "malformed")
    summary = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]], retries=1)
    assert summary.problems == ["Index Exchange listed a file with fileID '5000001x', which is not a file id (an "
                                "integer); that item was left out"]
    assert summary.complete and summary.files_loaded == 1, "the next poll's answer was sound"


# --- the script as cron runs it ---------------------------------------------------------

def test_script_summary_and_exit_codes(ix, sim):
    result = ix.script("-R", "-r", "1", *REPORTS)
    assert result.returncode == 0, result.stderr
    assert "publishers x reports: 4 x 2 = 8 pairs" in result.stdout
    assert "8 loaded" in result.stdout and "time taken" in result.stdout
    assert "pairs\r" not in result.stderr and "[#" not in result.stderr, "no progress bar when not a terminal"
    sim.configure(run_delay=100000)
    pending = ix.script("-R", "-r", "0", REPORTS[0])
    assert pending.returncode == 1 and "4 pending" in pending.stdout


def test_each_problem_is_printed_once_with_the_summary(ix, sim):
    sim.configure(run_delay=100000)
    result = ix.script("-R", "-r", "0", "-l", str(ix.publishers[0]), REPORTS[0])
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert output.count("not ready after 0 s; collected next time") == 1, output
    assert "problems: 1, each logged above" in result.stdout


def test_index_exchange_down_is_one_line_per_outage_not_raw_retries(ix, sim):
    sim.faults.add("*", "503", count=100000)
    ix.env["INDEXEXCHANGEMAXRETRYWAIT"] = "2"
    result = ix.script("-l", str(ix.publishers[0]), REPORTS[0])
    assert result.returncode == 1
    assert "Retrying (" not in result.stderr and "BoundedRetry" not in result.stderr
    host = sim.base_url.split("//")[1]
    assert result.stderr.count(f"{host} is not answering as it should (HTTP 503 on /api/authentication/v1/login)") == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "index-exchange-to-db.py: ServerError: reporting login (/api/authentication/v1/login): HTTP 503")


def test_a_wrong_password_is_a_configuration_error(ix, sim):
    ix.env["INDEXEXCHANGEPASSWORD"] = "wrong-password-123"
    result = ix.script(REPORTS[0])
    assert result.returncode == 2
    assert "CredentialsRefusedError" in result.stderr and "wrong-password-123" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_script_rejects_unknown_publisher_and_bad_options(ix, sim):
    unknown = ix.script("-l", f"{ix.publishers[0]},777", REPORTS[0])
    assert unknown.returncode == 2 and "777 not in prog_ix_publishers" in unknown.stderr
    assert ix.script("-l", "x", REPORTS[0]).returncode == 2
    assert ix.script("-d", "/tmp", REPORTS[0]).returncode == 2
    assert ix.script("-P", "99", REPORTS[0]).returncode == 2
    assert sim.stats()["calls"] == {}


def test_check_option_sends_nothing(ix, sim):
    result = ix.script("--check", *REPORTS)
    assert result.returncode == 0 and "table prog_ix_stats has a column for each" in result.stdout
    assert sim.stats()["calls"] == {}


def test_two_copies_at_once(ix, sim):
    """Two copies on one host share the pairs: each pair is worked by one of them (the
    other leaves it), one spec per pair, each file loaded once, rows exact."""
    sim.configure(run_delay=0.5, latency=0.02)
    first = ix.script("-R", "-r", "3", *REPORTS, wait=False)
    second = ix.script("-R", "-r", "3", *REPORTS, wait=False)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert sim.stats()["saves"] == 8, "one spec per pair, however many copies run"
    loaded = [summary_figure(out, r"files: (\d+) loaded") for out, _ in outputs]
    left = [summary_figure(out, r"pairs left to other copies: (\d+)", default=0) for out, _ in outputs]
    assert ix.run_statuses() == {"loaded": sum(loaded)}, "each file loaded once, by one copy"
    assert sum(loaded) + sum(left) == 16 and sum(loaded) >= 8
    assert ix.stats_rows() == expected_rows(ix)
    records = reportid_db.ReportIdDB(ix.settings.settings_store()).all()
    assert len(records) == 8


def test_help():
    import subprocess
    import sys
    from conftest import ROOT
    result = subprocess.run([sys.executable, os.path.join(ROOT, "index-exchange-to-db.py"), "-h"],
                            capture_output=True, text=True, env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]})
    assert result.returncode == 0
    for option in ("-R", "-n", "-d", "-l", "-D", "-r", "-P", "--check"):
        assert option in result.stdout


# --- a kill in the middle of a load ----------------------------------------------------

def test_kill_in_the_middle_of_a_load_then_rerun(sim, mariadb_database, tmp_path, http):
    ix = ImportEnv(sim, mariadb_database, tmp_path / "home", http)
    fields = ["day", "site_id", "site_name", "domain", "impressions", "ad_spend", "publisher_payment", "ecpm",
              "size", "country", "device_type"]
    for name in REPORTS:   # both carry the table's whole key (a file without it is refused)
        template = ix.template(name)
        template["querySpec"]["fields"] = fields
        if name == REPORTS[0]:
            template["dateRange"] = {"from": "2026-01-01", "to": "2026-06-01"}
        ix.write_template(name, template)
    ix.database.admin.execute_script(["DROP TABLE prog_ix_stats", mysql_db_reporting.REPORTING_TABLES["prog_ix_stats"].replace(
        "ecpm decimal(24,8) NOT NULL DEFAULT 0,", "ecpm decimal(24,8) NOT NULL DEFAULT 0, "
        "size varchar(16) NOT NULL DEFAULT '', country varchar(2) NOT NULL DEFAULT '', "
        "device_type varchar(32) NOT NULL DEFAULT '',").replace(
        "PRIMARY KEY (day, publisher_id, site_id)", "PRIMARY KEY (day, publisher_id, site_id, size, country, device_type)")])
    sim.configure(report_rows_per_period=600)     # 151 days x 600 rows = 90,600 rows
    total = 151 * 600
    admin = mariadb_database.admin

    def rows_inserted():
        # Counts rows written by open transactions too: the load's progress, seen from outside.
        return sum(int(value) for name, value in admin.fetch_all("SHOW GLOBAL STATUS LIKE 'Handler_write'"))

    before = rows_inserted()
    process = ix.script("-l", str(ix.publishers[0]), REPORTS[0], wait=False)
    deadline = time.monotonic() + 60
    while True:
        if rows_inserted() - before > 10000:
            break
        assert process.poll() is None, "the load finished before it could be killed: " + process.stderr.read()
        assert time.monotonic() < deadline, "no load in progress seen"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert ix.stats_rows() == 0, "an interrupted load leaves nothing behind"
    assert ix.run_statuses() == {"pending": 1}

    summary = ix.run(reports=REPORTS[1:], publisher_ids=[ix.publishers[0]])
    assert summary.complete and summary.files_from_earlier == 1
    count_first = ix.rows("SELECT COUNT(*) FROM prog_ix_stats WHERE day < '2026-06-01'")[0][0]
    assert count_first == total, "nothing lost"
    assert ix.run_statuses() == {"loaded": 2}
    again = ix.run(reports=REPORTS[1:], publisher_ids=[ix.publishers[0]])
    assert again.files_from_earlier == 0
    assert ix.rows("SELECT COUNT(*) FROM prog_ix_stats WHERE day < '2026-06-01'")[0][0] == total, "nothing doubled"


def test_progress_bar_on_a_terminal_only(ix, sim):
    import pty
    import subprocess
    import sys
    from conftest import ROOT
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "index-exchange-to-db.py"), "-r", "1", *REPORTS],
                               env=ix.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:          # the terminal closed: the program ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    assert b"8/8 pairs" in seen and b"[" in seen


def test_an_older_file_never_overwrites_a_newer_one(ix, sim):
    import threading
    publisher = ix.publishers[0]
    sim.configure(run_delay=100)
    first = ix.run(reports=REPORTS[1:], publisher_ids=[publisher], retries=0)
    assert first.files_pending == 1
    older_file = ix.rows("SELECT file_id FROM prog_ix_report_runs")[0][0]
    # The newer run asks for the fields in another order: same columns, other values.
    template = ix.template(REPORTS[1])
    template["querySpec"]["fields"] = ["day", "site_id", "site_name", "domain", "ecpm", "impressions",
                                       "ad_spend", "publisher_payment"]
    ix.write_template(REPORTS[1], template)
    sim.configure(run_delay=0)
    newer_file = older_file + 1

    def older_ready_once_newer_downloaded():
        deadline = time.monotonic() + 30
        while ("report", newer_file) not in sim.stats()["downloads"] and time.monotonic() < deadline:
            time.sleep(0.01)
        sim.advance_clock(100)

    helper = threading.Thread(target=older_ready_once_newer_downloaded)
    helper.start()
    second = ix.run(reports=REPORTS[1:], publisher_ids=[publisher], retries=1)
    helper.join()
    assert second.complete and second.files_loaded == 2 and second.files_from_earlier == 1
    import csv
    import io
    newer_rows = list(csv.DictReader(io.StringIO(sim._run_content(sim._runs[newer_file]).decode(), newline="")))
    expected = {int(r["site_id"]): int(r["impressions"]) for r in newer_rows}
    stored = dict(ix.rows("SELECT site_id, impressions FROM prog_ix_stats"))
    assert stored == expected, "the newer file's values stand"


def test_a_file_left_pending_is_superseded_by_a_newer_one_covering_its_dates(ix, sim):
    publisher = ix.publishers[0]
    sim.configure(run_delay=100)
    assert ix.run(reports=REPORTS[1:], publisher_ids=[publisher], retries=0).files_pending == 1
    template = ix.template(REPORTS[1])
    template["querySpec"]["fields"] = ["day", "site_id", "site_name", "domain", "ecpm", "impressions",
                                       "ad_spend", "publisher_payment"]
    ix.write_template(REPORTS[1], template)
    sim.configure(run_delay=0)
    second = ix.run(reports=REPORTS[1:], publisher_ids=[publisher], retries=0)
    assert second.files_loaded == 1 and second.files_pending == 1     # the old one is still not ready
    today = "SELECT site_id, impressions FROM prog_ix_stats WHERE day = (SELECT MAX(day) FROM prog_ix_stats)"
    after_newer = dict(ix.rows(today))
    sim.advance_clock(100)
    third = ix.run(reports=REPORTS[:1], publisher_ids=[publisher])
    assert third.complete and third.files_superseded == 1 and third.files_from_earlier == 0
    assert "1 superseded by newer files" in third.text()
    statuses = ix.run_statuses()
    assert statuses == {"loaded": 2, "superseded": 1}
    assert dict(ix.rows(today)) == after_newer, "the newer file's figures stand"


def test_a_queued_pair_waits_for_a_run_that_includes_its_publisher(ix, sim):
    first, second = ix.publishers[:2]
    sim.configure(max_saves_per_day=0)
    assert ix.run(reports=REPORTS[:1], publisher_ids=[first]).pairs_queued == 1
    next_utc_day(ix, sim)
    other = ix.run(reports=REPORTS[1:], publisher_ids=[second])
    assert other.complete and other.files_loaded == 1
    assert ix.rows("SELECT status FROM prog_ix_report_queue") == [("queued",)]
    own = ix.run(reports=REPORTS[1:], publisher_ids=[first])
    assert own.complete and own.files_loaded == 2
    assert ix.rows("SELECT status FROM prog_ix_report_queue") == [("done",)]


# --- Ctrl-C and kills -------------------------------------------------------------------

def start_and_wait_for_runs(ix, sim, tmp_path, runs):
    """The program as a subprocess with its own TMPDIR, once it has asked for `runs` runs
    whose files will never be ready."""
    sim.configure(run_delay=10 ** 6)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    ix.env["TMPDIR"] = str(tmp_path / "tmp")
    process = ix.script("-R", "-r", "30", *REPORTS, wait=False)
    while sim.stats()["calls"].get("run_create", 0) < runs:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.02)
    return process


def test_ctrl_c_stops_promptly_prints_the_summary_and_leaves_files_pending(ix, sim, tmp_path):
    process = start_and_wait_for_runs(ix, sim, tmp_path, runs=8)
    process.send_signal(signal.SIGINT)
    # -r 30 would wait 300 s for these files: a prompt stop is what ends it long before.
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Activity summary" in out and "8 pending" in out and "interrupted: 0 pairs not begun" in out
    assert "Traceback" not in err
    assert ix.run_statuses() == {"pending": 8}
    assert os.listdir(tmp_path / "tmp") == [], "its download folder is removed"


def test_sigterm_is_handled_as_ctrl_c_and_the_rerun_completes_at_once(ix, sim, tmp_path):
    """What `timeout` and systemd send: a prompt stop, files pending, leases given back, the
    health row closed with 143; the next run does not wait for leases (issue 23)."""
    import mysql_db_health
    ix.env["PROGSALESREPORTIDSTORE"] = "mysql"
    process = start_and_wait_for_runs(ix, sim, tmp_path, runs=8)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Activity summary" in out and "8 pending" in out and "Traceback" not in err
    [row] = mysql_db_health.runs(ix.database.admin, "index-exchange-to-db.py")
    assert row["exit_code"] == 143 and row["finished_at"] is not None
    assert ix.rows("SELECT COUNT(*) FROM prog_ix_report_ids WHERE lease_holder IS NOT NULL") == [(0,)]
    sim.configure(run_delay=0)
    sim.advance_clock(10 ** 6)
    again = ix.script("-r", "1", *REPORTS)
    assert again.returncode == 0, again.stderr
    assert ix.run_statuses() == {"loaded": 16}, "every pair worked at once, none left to a lease"


def test_a_killed_runs_download_folder_is_removed_by_the_next_run(ix, sim, tmp_path):
    process = start_and_wait_for_runs(ix, sim, tmp_path, runs=1)
    process.kill()
    process.wait()
    left = os.listdir(tmp_path / "tmp")
    assert len(left) == 1 and left[0].startswith(f"ix-reports-{process.pid}-")
    sim.configure(run_delay=0)
    sim.advance_clock(10 ** 6)            # the killed run's file is ready now too
    again = ix.script("-r", "1", *REPORTS)
    assert again.returncode == 0, again.stderr
    assert os.listdir(tmp_path / "tmp") == []


# --- choosing the pairs: a pure function ------------------------------------------------

def test_choose_pairs_queued_first_only_for_this_runs_publishers():
    from indexExchangeToDBSupport import choose_pairs
    queued = [(2, "B"), (9, "A"), (1, "Gone"), (1, "A")]
    pairs, dropped = choose_pairs([1, 2], ["A"], queued, runnable=lambda name: name != "Gone")
    assert pairs == [(2, "B"), (1, "A"), (2, "A")], "queued (2, B) first; (1, A) is a pair anyway"
    assert dropped == [(1, "Gone")]
    assert (9, "A") not in pairs, "publisher 9 waits for a run that includes it"


# --- runs in progress at Index Exchange ----------------------------------------------------

@pytest.mark.parametrize("cap", [1, 3])
def test_runs_in_progress_never_exceed_the_cap(ix, sim, cap):
    sim.configure(run_delay=0.3)
    sim.reset_stats()
    summary = ix.run(workers=cap)
    assert summary.complete and summary.files_loaded == 8
    assert ix.run_statuses() == {"loaded": 8}
    assert 1 <= sim.stats()["peak_runs_in_progress"] <= cap


def test_the_default_cap_is_index_exchanges_limit_shared_by_the_shards():
    from indexExchangeToDBSupport import RUNS_LIMIT, ImportOptions, default_cap
    assert RUNS_LIMIT == 50
    assert ImportOptions(report_names=REPORTS).validated().workers == 50
    assert ImportOptions(report_names=REPORTS, shard=(1, 4)).validated().workers == 12
    assert ImportOptions(report_names=REPORTS, shard=(2, 4), workers=5).validated().workers == 5
    assert default_cap((1, 60)) == 1


# --- the database gone mid-run -------------------------------------------------------------

def test_the_database_gone_mid_run_stops_starting_pairs_and_says_why_once(sim, tmp_path, http):
    import mysql_db
    from conftest import DatabaseUnderTest
    from mariadb_server import MariaDBServer
    server = MariaDBServer().start()
    try:
        admin = mysql_db.MySQLDatabase("127.0.0.1", server.port, server.admin_user, server.admin_password,
                                       server.database)
        env = {"PROGSALESDBENGINE": "mysql", "PROGSALESMYSQLHOSTNAME": "127.0.0.1",
               "PROGSALESMYSQLPORT": str(server.port), "PROGSALESMYSQLUSERNAME": server.import_user,
               "PROGSALESMYSQLPASSWORD": server.import_password, "PROGSALESMYSQLDATABASE": server.database}
        ix = ImportEnv(sim, DatabaseUnderTest("mariadb", None, admin, env), tmp_path / "home", http)
        sim.configure(run_delay=1.5)
        process = ix.script("-R", "-r", "3", "-P", "2", *REPORTS, wait=False)
        deadline = time.monotonic() + 30
        while admin.fetch_all("SELECT COUNT(*) FROM prog_ix_report_runs")[0][0] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        admin.close()
        server.stop()
        out, err = process.communicate(timeout=120)
    finally:
        server.stop()
    assert process.returncode == 1, (out, err)
    assert err.count("database unreachable, run stopped") == 1, err
    # The two runs in progress, and the two started as their slots freed before the
    # database was seen gone; not one run for each of the 8 pairs.
    assert sim.stats()["runs"] <= 4, err


def test_the_database_turned_read_only_mid_run_stops_starting_pairs_and_counts_right(sim, mariadb_database,
                                                                                      tmp_path, http):
    """read_only set on the server mid-run (a failover, a maintenance): one line, no more
    pairs started, every pair counted (issue 22, item 18)."""
    import re
    ix = ImportEnv(sim, mariadb_database, tmp_path / "home", http)
    admin = mariadb_database.admin
    sim.configure(run_delay=1.5)
    process = ix.script("-R", "-r", "3", "-P", "2", *REPORTS, wait=False)
    try:
        deadline = time.monotonic() + 30
        while admin.fetch_all("SELECT COUNT(*) FROM prog_ix_report_runs")[0][0] < 2:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        admin.execute_script(["SET GLOBAL read_only = ON"])
        out, err = process.communicate(timeout=120)
    finally:
        admin.execute_script(["SET GLOBAL read_only = OFF"])
    assert process.returncode == 1, (out, err)
    assert err.count("database read-only, run stopped") == 1, err
    assert "unexpected" not in err
    runs = sim.stats()["runs"]
    assert runs <= 4, err
    not_begun = int(re.search(r"pairs not begun: (\d+)", out).group(1))
    assert not_begun >= 8 - runs, out


def test_runs_given_up_on_keep_their_slots_so_the_cap_holds(ix, sim):
    # Runs not ready within -r's wait are still in progress at Index Exchange: starting
    # more pairs in their slots would go over the cap.
    sim.configure(run_delay=100)
    sim.reset_stats()
    summary = ix.run(workers=2, retries=0)
    assert sim.stats()["peak_runs_in_progress"] == 2 and sim.stats()["runs"] == 2
    assert (summary.files_pending, summary.pairs_not_begun, summary.complete) == (2, 6, False)
    assert "6 pairs not begun" in " ".join(summary.problems)
    sim.advance_clock(100)
    sim.configure(run_delay=0)
    again = ix.run(workers=2)
    assert again.complete and again.files_from_earlier == 2 and again.files_loaded == 10
    assert ix.run_statuses() == {"loaded": 10}


# --- pending files have an end -------------------------------------------------------------

def test_a_file_index_exchange_no_longer_knows_becomes_gone_and_a_person_can_decide(ix, sim):
    """Not listed on several runs over some hours: gone, said once, not waited for (issue 23);
    pending-files.py abandons or retries files."""
    import datetime as dt
    publisher = ix.publishers[0]
    long_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    ix.database.admin.execute(
        "INSERT INTO prog_ix_report_runs (file_id, report_id, publisher_id, report_name, db_table, status, "
        "requested_at, attempts) VALUES (4999999, 1965885, %s, %s, 'prog_ix_stats', 'pending', %s, 0)",
        (publisher, REPORTS[0], long_ago))

    def run():
        return ix.run(reports=REPORTS[:1], publisher_ids=[publisher], retries=0)

    first = run()
    assert first.files_pending == 1 and first.files_gone == 0
    assert any("file 4999999: not listed by Index Exchange (not ready yet, or unknown to it; 1 runs so far)" in p
               for p in first.problems)
    ix.database.admin.execute("UPDATE prog_ix_report_runs SET unknown_since = %s WHERE file_id = 4999999",
                              (long_ago,))
    run()
    third = run()
    assert third.files_gone == 1 and third.files_pending == 0
    [said] = [p for p in third.problems if "4999999" in p]
    assert "Index Exchange no longer knows it (not listed on 3 runs since" in said and "--retry 4999999" in said
    status, error = ix.rows("SELECT status, last_error FROM prog_ix_report_runs WHERE file_id = 4999999")[0]
    assert status == "gone" and error.startswith("Index Exchange no longer knows it")
    fourth = run()
    assert fourth.complete and not any("4999999" in p for p in fourth.problems), "said once"
    listed = ix.script_named("pending-files.py")
    assert listed.returncode == 0 and "4999999  gone" in listed.stdout
    retried = ix.script_named("pending-files.py", "--retry", "4999999")
    assert retried.returncode == 0 and "file 4999999: back to pending" in retried.stdout
    abandoned = ix.script_named("pending-files.py", "--abandon", "the run was made by mistake", "4999999", "5")
    assert abandoned.returncode == 2 and "file 4999999: abandoned" in abandoned.stdout
    assert "file 5 is not pending, gone or expired" in abandoned.stderr
    assert ix.rows("SELECT status, last_error FROM prog_ix_report_runs WHERE file_id = 4999999") == \
        [("abandoned", "abandoned: the run was made by mistake")]
    assert run().complete, "an abandoned file is not asked for"



# --- the day's spec saves -------------------------------------------------------------------

def test_the_days_spec_saves_are_a_budget_and_the_next_day_continues(ix, sim):
    """Spent saves are not tried (each would be refused): the pairs wait, one line says how
    many and until when, reused specs still run, and the next day goes on (issue 23)."""
    ix.env["INDEXEXCHANGESAVESPERDAY"] = "3"
    import settings as settings_module
    ix.settings = settings_module.load_settings(environ=ix.env)
    first = ix.run(reports=REPORTS[:1])
    assert (first.specs_created, first.pairs_queued, first.pairs_waiting_for_saves) == (3, 1, 1)
    [said] = [p for p in first.problems if "wait for a spec save" in p]
    assert said.startswith("1 pairs wait for a spec save: today's 3 spec saves are used") and "UTC (in " in said
    assert sim.stats()["saves"] == 3
    again = ix.run(reports=REPORTS[:1])
    assert (again.specs_reused, again.pairs_waiting_for_saves, sim.stats()["saves"]) == (3, 1, 3), \
        "reused specs run; no save tried"
    ix.database.admin.execute("UPDATE prog_ix_spec_saves SET day = '2000-01-01'")      # the next UTC day
    next_day = ix.run(reports=REPORTS[:1])
    assert next_day.complete and next_day.specs_created == 1 and sim.stats()["saves"] == 4


def test_index_exchanges_refusal_of_a_save_ends_the_days_saves(ix, sim):
    sim.configure(max_saves_per_day=2)
    first = ix.run(reports=REPORTS[:1], workers=1)         # one pair after the other: a count to assert
    assert (first.specs_created, first.pairs_waiting_for_saves) == (2, 2)
    assert sim.stats()["calls"]["spec_create"] == 3, "one refused, then no more tried"
    assert any(p.startswith("2 pairs wait for a spec save: Index Exchange refused a spec save today")
               for p in first.problems)
    saves, refused = ix.rows("SELECT saves, refused_at IS NOT NULL FROM prog_ix_spec_saves")[0]
    assert refused == 1
