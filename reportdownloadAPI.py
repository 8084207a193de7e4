"""Index Exchange report runs and files, one function per endpoint (docs/ix-api.md §2)."""

from errors import ApiError
from httpclient import json_answer

RUNS = "/api/reporting/agg/v1/report-runs"
FILES = "/api/reporting/agg/v1/report-files"


def run_report(session, report_id):
    """Start a run of a spec now; returns the fileID of its result."""
    endpoint = f"run report {report_id}"
    response = session.request("POST", RUNS, endpoint, json={"reportID": int(report_id)})
    try:
        file_id = response.json().get("reportRunID")
    except (ValueError, AttributeError):
        file_id = None
    if type(file_id) is not int:
        raise ApiError(endpoint, response.status_code, "answer has no integer reportRunID")
    return file_id


def list_files(session, account_ids=None, file_ids=None, report_ids=None, status=None):
    """File items of ready files, filtered as asked. Items whose fileID is not an integer
    are kept too (the caller names them): dropping them would pass for "not ready"."""
    endpoint = "list report files"
    params = {}
    for name, values in (("accountIDs", account_ids), ("fileIDs", file_ids), ("reportIDs", report_ids)):
        if values:
            params[name] = ",".join(str(int(v)) for v in values)
    if status:
        params["status"] = status
    response = session.request("GET", f"{FILES}/list", endpoint, params=params or None)
    data = json_answer(endpoint, response)
    if not isinstance(data, list):
        raise ApiError(endpoint, response.status_code, "answer is not a list")
    return [item for item in data if isinstance(item, dict) and "fileID" in item]


def download_file(session, file_id, fileobj):
    """Write a ready file's bytes into `fileobj`; returns the size. 404 until it is ready."""
    return session.download(f"{FILES}/download/{int(file_id)}", f"download report file {file_id}", fileobj)
