"""The reporting utilities as a user runs them, against the simulator and both databases."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

import reportid_db
from conftest import ROOT
from importenv import REPORTS, ImportEnv
from simclient import RawClient, spec_for


@pytest.fixture
def ix(sim, database, tmp_path, http):
    return ImportEnv(sim, database, tmp_path / "home", http)


def run(ix, script, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], env=ix.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def new_file(sim, publisher, title="Ad hoc report"):
    """A ready, never downloaded report file made straight through the API."""
    client = RawClient(sim)
    client.login()
    spec_id = client.create_spec(spec_for(client, publisher, title)).json()["reportSpecID"]
    return client.run(spec_id).json()["reportRunID"], spec_id


def reportids(ix):
    return reportid_db.ReportIdDB(ix.settings.settings_store())


# --- get-a-report-run.py ----------------------------------------------------------------

def test_get_a_report_run_adds_publisher_id(ix, sim, tmp_path):
    file_id, _ = new_file(sim, ix.publishers[0])
    result = run(ix, "get-a-report-run.py", "-p", str(ix.publishers[0]), str(file_id))
    assert result.returncode == 0, result.stderr
    path = ix.home / "INDEX-DATA-DOWNLOAD" / f"{file_id}.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert rows[0][-1] == "publisher_id" and rows[0][:-1] == sim.spec(1965885)[0]["querySpec"]["fields"]
    assert len(rows) == 1 + sim.config.report_rows_per_period
    assert {r[-1] for r in rows[1:]} == {str(ix.publishers[0])}


def test_get_a_report_run_defaults_and_reports_missing_files(ix, sim, tmp_path):
    file_id, _ = new_file(sim, ix.publishers[0])
    target = tmp_path / "out"
    result = run(ix, "get-a-report-run.py", "-d", str(target), str(file_id), "999")
    assert result.returncode == 2, "an id that is not there is the caller's to fix"
    assert "999: not available" in result.stderr
    rows = list(csv.reader(open(target / f"{file_id}.csv", newline="", encoding="utf-8")))
    assert {r[-1] for r in rows[1:]} == {"0"}
    assert not (target / "999.csv").exists()


def test_get_a_report_run_status_filter(ix, sim, tmp_path):
    fresh, _ = new_file(sim, ix.publishers[0], "Fresh one")
    used, _ = new_file(sim, ix.publishers[0], "Used one")
    assert run(ix, "get-a-report-run.py", str(used)).returncode == 0
    result = run(ix, "get-a-report-run.py", "-s", "new", "-d", str(tmp_path / "new"), str(fresh), str(used))
    assert result.returncode == 2 and f"{used}: status downloaded, not new" in result.stderr
    assert os.listdir(tmp_path / "new") == [f"{fresh}.csv"]


# --- listings ------------------------------------------------------------------------------

def test_list_available_files_table_json_and_filters(ix, sim):
    first, _ = new_file(sim, ix.publishers[0])
    second, _ = new_file(sim, ix.publishers[1])
    table = run(ix, "get-list-available-files.py")
    assert table.returncode == 0 and str(first) in table.stdout and "2 files" in table.stdout
    listed = json.loads(run(ix, "get-list-available-files.py", "-j", "-a", str(ix.publishers[1])).stdout)
    assert [i["fileID"] for i in listed] == [second]
    assert run(ix, "get-list-available-files.py", "-f", "x").returncode == 2


def test_list_active_reports_marks_known_specs(ix, sim):
    ix.run(reports=REPORTS[:1])
    listed = json.loads(run(ix, "get-list-active-reports.py", "-j").stdout)
    known = [s for s in listed if s["known"]]
    assert len(known) == 4 and all(s["auto_title"] for s in known)
    assert {s["report_name"] for s in known} == {REPORTS[0]}
    assert {s["reportID"] for s in listed if not s["known"]} == {1965885, 1965886, 1965887}
    table = run(ix, "get-list-active-reports.py")
    assert "7 active specs, 4 in the reportID database" in table.stdout


# --- tidy-reports.py and deactivate-reportid.py -----------------------------------------

def test_tidy_reports_deactivates_only_orphaned_auto_specs(ix, sim):
    ix.run(reports=REPORTS[:1])
    db = reportids(ix)
    lost = db.get(ix.publishers[0], REPORTS[0])["reportID"]
    db.remove_report_ids([lost])
    _, human = new_file(sim, ix.publishers[0], "Made by a person taken from somewhere")
    before = set(sim.active_spec_ids())
    dry = run(ix, "tidy-reports.py", "-n")
    assert dry.returncode == 0 and f"would deactivate {lost}:" in dry.stdout
    assert dry.stdout.count("would deactivate ") == 2   # the one line per spec, and the total
    assert set(sim.active_spec_ids()) == before
    real = run(ix, "tidy-reports.py")
    assert real.returncode == 0 and f"deactivated {lost}:" in real.stdout
    assert set(sim.active_spec_ids()) == before - {lost}
    assert human in sim.active_spec_ids() and 1965885 in sim.active_spec_ids()


def test_deactivate_reportid(ix, sim):
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    report_id = reportids(ix).get(ix.publishers[0], REPORTS[0])["reportID"]
    result = run(ix, "deactivate-reportid.py", str(report_id), "424242")
    assert result.returncode == 2, "424242 is known to nobody: the caller's to fix"
    assert f"{report_id}: deactivated; dropped from the reportID database" in result.stdout
    assert "reportID 424242: unknown to Index Exchange (or deactivated) and not in the reportID database" \
        in result.stderr
    assert not sim.spec(report_id)[1] and reportids(ix).all() == {}
    assert ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]]).specs_created == 1


def test_deactivate_reportid_of_a_spec_deactivated_already_forgets_it(ix, sim):
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    report_id = reportids(ix).get(ix.publishers[0], REPORTS[0])["reportID"]
    sim.deactivate_spec(report_id)
    result = run(ix, "deactivate-reportid.py", str(report_id))
    assert result.returncode == 0, result.stderr
    assert f"{report_id}: not active on Index Exchange (already deactivated); dropped from" in result.stdout
    assert reportids(ix).all() == {}


def test_deactivate_reportid_leaves_a_persons_spec_alone_and_has_a_dry_run(ix, sim):
    """A spec a person made (not the suite's title) is not deactivated without --force; -n
    shows what would be done and does nothing (issue 22, item 22)."""
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    ours = reportids(ix).get(ix.publishers[0], REPORTS[0])["reportID"]
    persons = 1965885                                  # "Generic Revenue Report", made in the GUI
    dry = run(ix, "deactivate-reportid.py", "-n", str(ours))
    assert dry.returncode == 0 and f"{ours}: would be deactivated" in dry.stdout
    assert sim.spec(ours)[1] and reportids(ix).get(ix.publishers[0], REPORTS[0]), "nothing done"
    refused = run(ix, "deactivate-reportid.py", str(persons))
    assert refused.returncode == 2 and "('Generic Revenue Report') is not a spec this suite made; left alone " \
                                       "(--force deactivates it anyway)" in refused.stderr
    assert sim.spec(persons)[1], "still active"
    forced = run(ix, "deactivate-reportid.py", "--force", str(persons))
    assert forced.returncode == 0 and f"{persons}: deactivated; not in the reportID database" in forced.stdout
    assert not sim.spec(persons)[1]


# --- the reportID database as JSON --------------------------------------------------------

def test_dump_and_load_back_gives_the_same_database(ix, sim):
    ix.run()
    before = reportids(ix).all()
    dump = run(ix, "ix-reportid-db-to-json.py")
    assert dump.returncode == 0 and len(json.loads(dump.stdout)["reports"]) == 8
    path = ix.home / "dump.json"
    path.write_text(dump.stdout)
    reportids(ix).replace_all([])
    loaded = run(ix, "json-to-ix-reportid-db.py", str(path))
    assert loaded.returncode == 0 and "8 records" in loaded.stdout
    assert reportids(ix).all() == before
    assert ix.run().specs_reused == 8


@pytest.mark.parametrize("content,reason", [
    ("{not json", "not valid JSON"), ('{"reports": {}}', "\"reports\" list"),
    ('{"reports": [{"publisher_id": "1", "report_name": "A", "reportID": 2}]}',
     'reports[0]: publisher_id must be an integer, got "1"'),
    ('{"reports": [{"publisher_id": 1}]}', "needs the keys"),
    ('{"reports": [{"publisher_id": 1, "report_name": "A", "reportID": 2, "saved_at": "yesterday"}]}',
     'reports[0]: saved_at must be an integer or a number, got "yesterday"'),
    ('{"reports": [{"publisher_id": 1, "report_name": "A", "reportID": 2, "fingerprint": 7}]}',
     "reports[0]: fingerprint must be a string, got 7"),
    ('{"reports": [{"publisher_id": 1, "report_name": "A", "reportID": true}]}', "reportID must be an integer"),
    ('{"reports": [{"publisher_id": 1, "report_name": "A", "reportID": 2, "savedAt": 1}]}', "unknown key savedAt"),
    ("[" * 100000 + "]" * 100000, "JSON nested too deeply"),
    (None, "is a folder, not a JSON file")])
def test_bad_json_is_refused_and_the_database_kept(ix, sim, content, reason):
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    before = reportids(ix).all()
    path = ix.home / "bad.json"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    result = run(ix, "json-to-ix-reportid-db.py", str(path))
    assert result.returncode == 2 and reason in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "unexpected" not in result.stderr
    assert reportids(ix).all() == before


# --- check-report-schema.py ---------------------------------------------------------------

def test_schema_check_passes_for_the_starter_table(ix):
    result = run(ix, "check-report-schema.py", *REPORTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("fits") == 2


def test_schema_check_names_every_mismatch(ix):
    ix.database.admin.execute_script(["DROP TABLE prog_ix_stats", """CREATE TABLE prog_ix_stats (
        day datetime NOT NULL, publisher_id int NOT NULL, site_id int NOT NULL, site_name varchar(5) NOT NULL,
        impressions varchar(20) NOT NULL, ad_spend decimal(12,0) NOT NULL, ecpm double NOT NULL,
        PRIMARY KEY (day, site_id))"""])
    result = run(ix, "check-report-schema.py", REPORTS[0])
    assert result.returncode == 1
    out = result.stdout
    assert "no column domain" in out and "no column publisher_payment" in out
    assert "column impressions is varchar(20), but field impressions holds integer values" in out
    assert "column site_name is varchar(5): too short for 'omitted'" in out
    assert "column ad_spend is decimal(12,0): money and rates need decimal places" in out
    assert "primary key (day, site_id) lacks publisher_id" in out
    assert "column ecpm" not in out, "double is a fitting type for ecpm"


def test_create_table_fits_the_template(ix):
    template = ix.template(REPORTS[0])
    template["querySpec"]["fields"] = ["hour", "country", "device_type", "dsp_name", "impressions",
                                       "my_new_revenue", "size"]
    ix.write_template(REPORTS[0], template)
    created = run(ix, "check-report-schema.py", "--create-table", REPORTS[0])
    assert created.returncode == 0
    ddl = created.stdout.split("\n", 1)[1].strip().rstrip(";")
    ix.database.admin.execute_script(["DROP TABLE prog_ix_stats", ddl])
    check = run(ix, "check-report-schema.py", REPORTS[0])
    assert check.returncode == 0, check.stdout
    summary = ix.run(reports=REPORTS[:1])
    assert summary.complete and ix.stats_rows() == 4 * 24 * ix.sim.config.report_rows_per_period


def test_schema_check_for_an_unmapped_report(ix):
    result = run(ix, "check-report-schema.py", "Nowhere")
    assert result.returncode == 2 and "no entry 'Nowhere' in " in result.stderr
    assert "report_to_db_table_mapping.py" in result.stderr


@pytest.mark.parametrize("script", ["get-a-report-run.py", "get-list-available-files.py",
                                    "get-list-active-reports.py", "tidy-reports.py", "deactivate-reportid.py",
                                    "ix-reportid-db-to-json.py", "json-to-ix-reportid-db.py",
                                    "check-report-schema.py", "report-create-db-tables.py"])
def test_every_utility_has_help_and_debug(script):
    result = subprocess.run([sys.executable, os.path.join(ROOT, script), "-h"], capture_output=True, text=True,
                            env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]})
    assert result.returncode == 0 and "-D" in result.stdout and "usage:" in result.stdout


def test_output_into_a_closed_pipe_stops_quietly(ix, sim):
    ix.run()
    reader, writer = os.pipe()
    os.close(reader)                  # the reader is gone before anything is written, as with `| head -0`
    listing = subprocess.Popen([sys.executable, os.path.join(ROOT, "get-list-active-reports.py")], env=ix.env,
                               cwd=ROOT, stdout=writer, stderr=subprocess.PIPE)
    os.close(writer)
    _, errors = listing.communicate(timeout=60)
    assert listing.returncode == 141
    assert errors == b"", errors.decode()
