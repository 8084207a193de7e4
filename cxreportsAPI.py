"""CxReports endpoints, one function each (docs/cxreports.md), on the suite's HTTP client:
timeouts, bounded retries, typed errors with status and the server's message; the
caller's dicts are never changed. `session` is a CxReportsSession: base URL, workspace
(id or code) and bearer token."""

import base64
import dataclasses
import json
import urllib.parse

from errors import ApiError
from httpclient import json_answer


@dataclasses.dataclass(frozen=True)
class CxReportsSession:
    http: object
    base_url: str
    workspace: str
    token: str

    def url(self, path, query=None):
        tail = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.base_url.rstrip('/')}/api/v1/ws/{urllib.parse.quote(str(self.workspace), safe='')}/{path}{tail}"

    def get(self, path, endpoint, query=None):
        return json_answer(endpoint, self.http.request("GET", self.url(path, query), endpoint, bearer=self.token))

    def post(self, path, endpoint, body=None):
        return self.http.request("POST", self.url(path), endpoint, bearer=self.token, json=body)


def _report(report):
    return urllib.parse.quote(str(report), safe="")


def list_reports(session, type_code=None):
    return session.get("reports", "list reports", {"type": type_code} if type_code else None)


def list_jobs(session):
    return session.get("jobs", "list jobs")


def push_temporary_data(session, content, expiry_date=None):
    """Data for a later document; returns its tempDataId."""
    body = {"content": content, **({"expiryDate": expiry_date} if expiry_date else {})}
    answer = json_answer("push temporary data", session.post("temporary-data", "push temporary data", body))
    if not isinstance(answer, dict) or type(answer.get("tempDataId")) is not int:
        raise ApiError("push temporary data", 200, "answer has no integer tempDataId")
    return answer["tempDataId"]


def pdf(session, report, fileobj, params=None, temp_data_id=None):
    """A report rendered to PDF at once (GET; params as base64url JSON) into `fileobj`."""
    endpoint = f"render report {report} to PDF"
    query = {}
    if params:
        query["params"] = base64.urlsafe_b64encode(json.dumps(params).encode()).decode()
    if temp_data_id is not None:
        query["tempDataId"] = int(temp_data_id)
    return session.http.download(session.url(f"reports/{_report(report)}/pdf", query), endpoint, fileobj,
                                 bearer=session.token)


def start_export(session, report, params=None, temp_data_id=None, data=None):
    """An asynchronous PDF export; returns its temporaryFileId."""
    endpoint = f"export report {report}"
    body = {"format": "pdf", **({"params": params} if params else {}), **({"data": data} if data else {}),
            **({"tempDataId": int(temp_data_id)} if temp_data_id is not None else {})}
    answer = json_answer(endpoint, session.post(f"reports/{_report(report)}/export", endpoint, body))
    if not isinstance(answer, dict) or type(answer.get("temporaryFileId")) is not int:
        raise ApiError(endpoint, 202, "answer has no integer temporaryFileId")
    return answer["temporaryFileId"]


def export_status(session, temp_file_id):
    """{status: InProgress|Completed|Failed, isReady, errorMessage, expiryTime, ...}."""
    answer = session.get(f"exports/{int(temp_file_id)}/status", f"export {temp_file_id} status")
    if not isinstance(answer, dict) or answer.get("status") not in ("InProgress", "Completed", "Failed"):
        raise ApiError(f"export {temp_file_id} status", 200, "answer has no known status")
    return answer


def export_content(session, temp_file_id, fileobj):
    endpoint = f"export {temp_file_id} content"
    return session.http.download(session.url(f"exports/{int(temp_file_id)}/content"), endpoint, fileobj,
                                 bearer=session.token)


def start_job_run(session, job_id, params=None, data=None):
    endpoint = f"start job {job_id}"
    answer = json_answer(endpoint, session.post(f"jobs/{int(job_id)}/runs", endpoint,
                                                {"params": params or {}, "data": data or {}}))
    if not isinstance(answer, dict) or type(answer.get("jobRunId")) is not int:
        raise ApiError(endpoint, 200, "answer has no integer jobRunId")
    return answer["jobRunId"]


def job_run_status(session, job_id, run_id):
    """{finished, entries, status: {queued, review, completed, errors}}."""
    return session.get(f"jobs/{int(job_id)}/runs/{int(run_id)}/status", f"job {job_id} run {run_id} status")


def deliver_job_run(session, job_id, run_id):
    endpoint = f"deliver job {job_id} run {run_id}"
    session.post(f"jobs/{int(job_id)}/runs/{int(run_id)}/deliver", endpoint)
