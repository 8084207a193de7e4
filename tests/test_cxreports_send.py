"""cxreports-send.py end to end: statements made from data the suite loaded from the Index
Exchange simulator, sent to the CxReports stand-in; the PDFs' text checked against SQL."""

import datetime as dt
import decimal
import json
import os

import jsonschema
import pytest

from conftest import ROOT
from cxreportsWrapper import CxReportsOptions, CxReportsRun
from importenv import ImportEnv
from pdftext import pdf_text
from standins.cxreports import CxReportsStandIn

PERIOD = "2026-05-25..2026-05-31"
START, END = dt.date(2026, 5, 25), dt.date(2026, 6, 1)


@pytest.fixture
def ix(sim, database, tmp_path, http):
    env = ImportEnv(sim, database, tmp_path / "home", http)
    template = env.template("Generic Revenue Report")
    template["dateRange"] = {"from": "2026-05-01", "to": "2026-06-05"}
    env.write_template("Generic Revenue Report", template)
    assert env.run(reports=["Generic Revenue Report"]).complete
    return env


@pytest.fixture
def cx():
    with CxReportsStandIn(export_polls=1) as standin:
        yield standin


def send(ix, cx, tmp_path, **options):
    import settings as settings_module
    env = {**ix.env, "CXREPORTSBASEURL": cx.base_url, "CXREPORTSTOKEN": cx.token, "CXREPORTSWORKSPACE": "prog-sales",
           "CXREPORTSEXPORTWAIT": "10", **options.pop("env", {})}
    http = None if options.pop("own_http_client", False) else ix.http
    options.setdefault("period", PERIOD)
    if options.get("job") is None:
        options.setdefault("out", str(tmp_path / "out"))
    return CxReportsRun(settings_module.load_settings(environ=env), CxReportsOptions(**options), http=http).run()


def expected_revenue(ix, publisher, start, end):
    rows = ix.rows(f"SELECT day, publisher_payment FROM prog_ix_stats WHERE publisher_id = {publisher}")
    total = sum((decimal.Decimal(str(p)) for d, p in rows if start <= (d.date() if hasattr(d, "date") else
                                                                        dt.date.fromisoformat(str(d)[:10])) < end),
                decimal.Decimal(0))
    return format(total.quantize(decimal.Decimal("0.01")), "f")


def test_every_publisher_gets_a_pdf_with_its_totals_as_sql_computes_them(ix, cx, tmp_path):
    summary = send(ix, cx, tmp_path)
    assert summary.complete and summary.saved == len(ix.publishers), summary.problems
    schema = json.load(open(os.path.join(ROOT, "docs", "cxreports-data.schema.json")))
    for content in cx.temporary_data.values():
        jsonschema.validate(content, schema)
    for publisher in ix.publishers:
        path = tmp_path / "out" / f"{publisher}-2026-05-25-2026-05-31.pdf"
        text = pdf_text(path.read_bytes())
        assert f"totals.revenue: {expected_revenue(ix, publisher, START, END)}" in text
        assert f"previous_totals.revenue: {expected_revenue(ix, publisher, START - dt.timedelta(days=7), START)}" \
            in text
        assert f"publisher.id: {publisher}" in text


def test_a_failed_export_is_reported_and_the_others_still_get_theirs(ix, cx, tmp_path):
    cx.faults.add("export_failed")
    summary = send(ix, cx, tmp_path)
    assert summary.failed == 1 and summary.saved == len(ix.publishers) - 1
    assert "failed: rendering failed" in summary.problems[0]
    assert summary.exit_code == 1


def test_an_export_that_never_completes_ends_in_the_wait_bound(ix, cx, tmp_path):
    cx.faults.add("export_stalled")
    summary = send(ix, cx, tmp_path, publisher_ids=[ix.publishers[0]], env={"CXREPORTSEXPORTWAIT": "1"})
    assert summary.failed == 1 and "not finished after 1 s" in summary.problems[0]


def test_a_stalled_server_ends_in_the_timeout_not_a_hang(ix, cx, tmp_path):
    cx.configure(stall_seconds=3)
    cx.faults.add("stall", count=20)
    summary = send(ix, cx, tmp_path, publisher_ids=[ix.publishers[0]], own_http_client=True,
                   env={"INDEXEXCHANGETIMEOUT": "1", "INDEXEXCHANGEMAXRETRYWAIT": "1"})
    assert summary.failed == 1, summary.problems
    assert "push temporary data" in summary.problems[0] and "timed out" in summary.problems[0]


def test_a_job_with_review_is_left_waiting_and_one_without_is_delivered(ix, cx, tmp_path):
    waiting = send(ix, cx, tmp_path, job=2, publisher_ids=[ix.publishers[0]])
    assert waiting.waiting_for_review == 1 and cx.delivered == []
    assert "waiting for review (1 entries)" in waiting.text()
    assert waiting.problems == [f"publisher {ix.publishers[0]}: job 2 run {cx_run_id(waiting)} waits for review "
                                f"in CxReports (1 entries): a person must approve it there to send it"], \
        "said, since a person must act (issue 22, item 15)"
    delivered = send(ix, cx, tmp_path, job=1, publisher_ids=[ix.publishers[0]])
    assert delivered.delivered == 1 and len(cx.delivered) == 1


def cx_run_id(summary):
    return summary.outcomes[0].split(" run ", 1)[1].split()[0]


def test_a_publisher_without_data_gets_no_statement_and_a_word(ix, cx, tmp_path):
    """No all-zero statement is made or sent for a period with no revenue rows: it is said
    instead, and the other publishers get theirs (issue 22, item 15)."""
    quiet = ix.publishers[0]
    ix.database.admin.execute(f"DELETE FROM prog_ix_stats WHERE publisher_id = {quiet}")
    summary = send(ix, cx, tmp_path)
    assert summary.without_data == 1 and summary.saved == len(ix.publishers) - 1
    assert summary.problems == [f"publisher {quiet}: no revenue rows in prog_ix_stats for 2026-05-25..2026-05-31; "
                                f"no statement made (check its import)"]
    assert not (tmp_path / "out" / f"{quiet}-2026-05-25-2026-05-31.pdf").exists()
    assert all(content["publisher"]["id"] != quiet for content in cx.temporary_data.values()), "nothing pushed"


def test_the_activity_report(ix, cx, tmp_path, sim):
    from calenv import CalEnv
    cal = CalEnv(sim, ix.database, ix.home, ix.http).run(mappings=False, impressions=True)
    assert cal.complete and cal.files_loaded > 0
    today = dt.datetime.now(dt.timezone.utc).date()
    summary = send(ix, cx, tmp_path, activity=True, period=f"{today}..{today}")
    assert summary.complete and summary.saved == 1, summary.problems
    [content] = cx.temporary_data.values()
    assert content["kind"] == "import-activity" and content["totals"]["runs"] == 2
    assert content["totals"]["not_finished"] == 0, "the report's own run is not among them (issue 22, 24)"
    [cal_run] = [r for r in content["runs"] if r["program"] == "cal-downloads.py"]
    assert cal_run["files_loaded"] == cal.files_loaded and cal_run["rows_loaded"] == cal.rows_loaded
    assert "runs[0].program: index-exchange-to-db.py" in pdf_text(
        (tmp_path / "out" / f"activity-{today}-{today}.pdf").read_bytes())


def test_the_script_exit_codes_and_the_token_never_shown(ix, cx, tmp_path):
    import subprocess
    import sys
    env = {**ix.env, "CXREPORTSBASEURL": cx.base_url, "CXREPORTSTOKEN": cx.token, "CXREPORTSWORKSPACE": "1"}
    script = os.path.join(ROOT, "cxreports-send.py")
    bad = subprocess.run([sys.executable, script, "--period", "last-fortnight"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--period takes last-week, last-month or FROM..TO" in bad.stderr
    assert cx.stats() == {}
    checked = subprocess.run([sys.executable, script, "--check", "--period", PERIOD], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and f"CxReports: {len(ix.publishers)} documents for 2026-05-25..2026-05-31" \
        in checked.stdout
    assert cx.stats() == {}, "--check sends nothing"
    cx.faults.add("401")
    refused = subprocess.run([sys.executable, script, "-R", "--period", PERIOD, "--out", str(tmp_path / "o"), "-l",
                              str(ix.publishers[0])], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "HTTP 401" in refused.stderr, "a refused token is configuration (issue 22, 16)"
    assert "CXREPORTSTOKEN refused" in refused.stderr
    assert cx.token not in refused.stdout + refused.stderr
    ok = subprocess.run([sys.executable, script, "-R", "--period", PERIOD, "--out", str(tmp_path / "o")], env=env,
                        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert f"documents: {len(ix.publishers)} ({len(ix.publishers)} saved" in ok.stdout
