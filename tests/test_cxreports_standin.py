"""The CxReports stand-in and the suite's thin client (cxreportsAPI.py): the official client
(cxreports-api-client 0.0.5, which imports as `v1`) is accepted as it sends, plain-JSON
params as the other official clients send them, and the documents are real PDFs whose
text shows the data pushed."""

import io
import json

import pytest
import requests

import cxreportsAPI
from errors import AuthenticationError
from pdftext import pdf_text
from standins.cxreports import CxReportsStandIn

STATEMENT = {"publisher": {"id": 180280, "name": "Nordic News Group"},
             "totals": {"revenue": "223914.31", "impressions": 22772071}}


@pytest.fixture
def cx():
    with CxReportsStandIn(export_polls=1) as standin:
        yield standin


@pytest.fixture
def session(cx, http):
    return cxreportsAPI.CxReportsSession(http, cx.base_url, "prog-sales", cx.token)


def test_the_official_client_is_accepted_as_it_sends(cx):
    from v1 import CxReportClientV1
    client = CxReportClientV1(cx.base_url, 1, cx.token)
    assert client.get_workspaces()[0]["code"] == "prog-sales"
    temp = client.push_temporary_data(STATEMENT)["tempDataId"]
    document = client.get_pdf(100, {"params": {"period": "2026-05"}, "tempDataId": temp})
    text = pdf_text(document)
    assert "totals.revenue: 223914.31" in text and "params.period: 2026-05" in text
    export = client.start_report_export(100, {"tempDataId": temp})["temporaryFileId"]
    assert client.get_export_status(export)["status"] == "InProgress"
    assert client.get_export_status(export)["status"] == "Completed"
    assert "publisher.name: Nordic News Group" in pdf_text(client.get_export_content(export))
    run = client.start_job_run(1, {"data": STATEMENT})["jobRunId"]
    assert client.get_job_run_status(1, run)["finished"] is True


def test_plain_json_params_as_the_other_official_clients_send_them(cx):
    answer = requests.get(f"{cx.base_url}/api/v1/ws/1/reports/revenue-statement/pdf",
                          params={"params": json.dumps({"period": "2026-W22"})},
                          headers={"Authorization": f"Bearer {cx.token}"}, timeout=10)
    assert answer.headers["Content-Type"] == "application/pdf"
    assert "params.period: 2026-W22" in pdf_text(answer.content)


def test_our_client_pushes_renders_and_exports(cx, session):
    temp = cxreportsAPI.push_temporary_data(session, STATEMENT)
    out = io.BytesIO()
    cxreportsAPI.pdf(session, "revenue-statement", out, params={"period": "2026-05"}, temp_data_id=temp)
    assert "totals.impressions: 22772071" in pdf_text(out.getvalue())
    export = cxreportsAPI.start_export(session, 100, temp_data_id=temp)
    statuses = [cxreportsAPI.export_status(session, export)["status"] for _ in range(2)]
    assert statuses == ["InProgress", "Completed"]
    out = io.BytesIO()
    cxreportsAPI.export_content(session, export, out)
    assert out.getvalue().startswith(b"%PDF")


def test_a_failed_export_says_so(cx, session):
    cx.faults.add("export_failed")
    export = cxreportsAPI.start_export(session, 100, data=STATEMENT)
    cxreportsAPI.export_status(session, export)
    status = cxreportsAPI.export_status(session, export)
    assert status["status"] == "Failed" and status["errorMessage"] == "rendering failed"


def test_a_job_needing_review_waits_until_delivered(cx, session):
    run = cxreportsAPI.start_job_run(session, 2, data=STATEMENT)
    status = cxreportsAPI.job_run_status(session, 2, run)
    assert status["finished"] is False and status["status"]["review"] == 1
    cxreportsAPI.deliver_job_run(session, 2, run)
    assert cxreportsAPI.job_run_status(session, 2, run)["finished"] is True
    assert cx.delivered == [(2, run, 1)]


def test_faults_are_retried_and_a_bad_token_is_typed(cx, session, http):
    cx.faults.add("503", count=2)
    assert cxreportsAPI.list_reports(session, "revenue-statement")[0]["id"] == 100
    wrong = cxreportsAPI.CxReportsSession(http, cx.base_url, 1, "not-the-token")
    with pytest.raises(AuthenticationError) as caught:
        cxreportsAPI.list_jobs(wrong)
    assert "not-the-token" not in str(caught.value)


def test_params_are_not_changed_for_the_caller(cx, session):
    params = {"period": "2026-05"}
    cxreportsAPI.pdf(session, 100, io.BytesIO(), params=params)
    assert params == {"period": "2026-05"}
    assert cx.rendered[-1] == (100, {"params": {"period": "2026-05"}}), "sent as base64url JSON, read back whole"
