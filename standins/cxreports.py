"""A CxReports stand-in (docs/cxreports.md) over real HTTP on 127.0.0.1, in the simulator's
manner: bearer tokens, workspaces by id or code, reports by id or type code, temporary
data, PDFs by GET (params as base64url JSON or plain JSON) and POST, asynchronous exports,
jobs with and without review, and faults. Documents are real PDFs made with fpdf2 from
the data pushed, so their text can be read back (pdftotext).

    with CxReportsStandIn() as cx:
        cx.base_url, cx.token, cx.workspace        # id 1, code "prog-sales"
        cx.faults.add("429")                       # also 401, 500, 503, stall, export_failed
        cx.configure(export_polls=2)               # status polls before an export completes
"""

import base64
import binascii
import dataclasses
import datetime as dt
import itertools
import json
import time
import urllib.parse
from standins.common import StandInServer

WORKSPACES = [{"id": 1, "name": "Prog Sales", "description": "statements", "code": "prog-sales"}]
REPORT_TYPES = [{"id": 10, "code": "revenue-statement", "name": "Revenue statement"},
                {"id": 11, "code": "import-activity", "name": "Import activity"}]
REPORTS = [{"id": 100, "name": "Revenue statement", "reportTypeId": 10, "reportTypeName": "Revenue statement",
            "reportTemplateName": "statement", "themeName": "default", "isDefault": True},
           {"id": 101, "name": "Import activity", "reportTypeId": 11, "reportTypeName": "Import activity",
            "reportTemplateName": "activity", "themeName": "default", "isDefault": True}]
JOBS = [{"id": 1, "name": "Weekly statements", "description": "sent at once", "reviewRequired": False,
         "isActive": True, "lastRunTime": None},
        {"id": 2, "name": "Statements with review", "description": "a person approves first",
         "reviewRequired": True, "isActive": True, "lastRunTime": None}]


@dataclasses.dataclass
class Config:
    export_polls: int = 1          # status polls that answer InProgress before Completed
    export_lifetime: int = 3600    # seconds an export's content is kept
    stall_seconds: float = 30.0    # how long a "stall" fault holds the answer
    job_entries: int = 1           # documents a job run makes


class Reply(Exception):
    def __init__(self, status, body, content_type="application/json", headers=()):
        super().__init__(status)
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers


def render_pdf(title, data):
    """A real PDF: the title, then every value of the data as `path: value` lines."""
    from fpdf import FPDF
    pdf = FPDF()
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 10, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=9)
    for path, value in _flatten(data):
        pdf.multi_cell(0, 5, _latin(f"{path}: {value}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin(text):
    # The core fonts are latin-1; other letters are shown as '?' rather than failing.
    return text.encode("latin-1", "replace").decode("latin-1")


def _flatten(value, path=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _flatten(inner, f"{path}[{index}]")
    else:
        yield path, value


class CxReportsStandIn(StandInServer):
    """CxReports on 127.0.0.1 (see the module's docstring)."""

    def __init__(self, port=0, **config):
        self.config = Config(**config)
        self.token = "cx-sandbox-token-0123456789abcdef"
        self.workspace = WORKSPACES[0]
        self._ids = itertools.count(1)
        self.temporary_data = {}        # id -> content
        self.exports = {}               # id -> dict
        self.job_runs = {}              # id -> dict
        self.delivered = []             # (job id, run id, documents)
        self.rendered = []              # (report, data) of every document made
        self._listen(port)








    # --- HTTP ---------------------------------------------------------------------------

    def _serve(self, handler, method):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            self._route(handler, method, raw)
        except Reply as reply:
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers:
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)

    def _route(self, handler, method, raw):
        parts = urllib.parse.urlsplit(handler.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        if segments[:2] != ["api", "v1"]:
            raise Reply(404, {"error": "not found"})
        rest = segments[2:]
        # Calls counted by shape: "POST reports/N/export".
        self.count_call(method + " " + "/".join("N" if s.isdigit() else s for s in rest[2:] or rest))
        fault = self.faults.next({"401", "429", "500", "503", "stall"})
        if fault == "stall":
            time.sleep(self.config.stall_seconds)
        if fault in ("429", "500", "503"):
            raise Reply(int(fault), {"error": f"fault {fault}"}, headers=[("Retry-After", "1")] if fault == "429"
                        else ())
        if fault == "401" or handler.headers.get("Authorization") != f"Bearer {self.token}":
            raise Reply(401, {"error": "not authenticated"})
        body = self._json(raw) if raw else {}
        if rest == ["workspaces"] and method == "GET":
            raise Reply(200, WORKSPACES)
        if rest == ["nonce-tokens"] and method == "POST":
            raise Reply(200, {"nonce": f"nonce-{next(self._ids)}"})
        if len(rest) < 3 or rest[0] != "ws" or rest[1] not in ("1", "prog-sales"):
            raise Reply(404, {"error": "no such workspace"})
        self._workspace_call(method, rest[2:], query, body)

    def _workspace_call(self, method, path, query, body):
        lists = {"report-types": REPORT_TYPES, "themes": [{"id": 1, "code": "default", "name": "Default"}],
                 "templates": [{"id": 1, "code": "statement", "name": "Statement"}], "jobs": JOBS}
        if method == "GET" and len(path) == 1 and path[0] in lists:
            raise Reply(200, lists[path[0]])
        if method == "GET" and path == ["reports"]:
            wanted = query.get("type")
            raise Reply(200, [r for r in REPORTS if not wanted or _type_code(r) == wanted])
        if path[0] == "temporary-data" and method == "POST":
            if not isinstance(body.get("content"), dict):
                raise Reply(400, {"error": "content must be an object"})
            data_id = next(self._ids)
            self.temporary_data[data_id] = body["content"]
            expiry = body.get("expiryDate") or (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
            raise Reply(200, {"tempDataId": data_id, "expiryDate": expiry})
        if path[0] == "reports" and len(path) == 3:
            report = self._report(path[1])
            if path[2] == "pdf":
                data = self._data(query if method == "GET" else body, method)
                raise Reply(200, self._render(report, data), "application/pdf")
            if path[2] == "export" and method == "POST":
                export_id = next(self._ids)
                self.exports[export_id] = {"report": report, "data": self._data(body, "POST"), "polls": 0,
                                           "failed": bool(self.faults.next({"export_failed"})),
                                           "stalled": bool(self.faults.next({"export_stalled"})),
                                           "created": time.time()}
                raise Reply(202, {"temporaryFileId": export_id})
        if path[0] == "exports" and len(path) == 3:
            self._export_call(int(path[1]), path[2])
        if path[0] == "jobs" and len(path) >= 3:
            self._job_call(method, path, body)
        raise Reply(404, {"error": "no such call"})

    def _export_call(self, export_id, what):
        export = self.exports.get(export_id)
        if export is None:
            raise Reply(404, {"error": f"no export {export_id}"})
        expiry = dt.datetime.fromtimestamp(export["created"] + self.config.export_lifetime, dt.timezone.utc)
        expired = time.time() > export["created"] + self.config.export_lifetime
        if what == "status":
            export["polls"] += 1
            done = export["polls"] > self.config.export_polls and not export["stalled"]
            status = "Failed" if export["failed"] and done else "Completed" if done else "InProgress"
            raise Reply(200, {"id": export_id, "status": status, "isReady": status == "Completed",
                              "errorMessage": "rendering failed" if status == "Failed" else None,
                              "expiryTime": expiry.isoformat(), "name": f"{export['report']['name']}.pdf",
                              "contentSize": None, "contentType": "application/pdf"})
        if what == "content":
            if expired or export["failed"] or export["polls"] <= self.config.export_polls:
                raise Reply(404, {"error": "not ready, failed or expired"})
            raise Reply(200, self._render(export["report"], export["data"]), "application/pdf",
                        [("Content-Disposition", f'attachment; filename="{export["report"]["name"]}.pdf"')])
        raise Reply(404, {"error": "no such call"})

    def _job_call(self, method, path, body):
        job = next((j for j in JOBS if str(j["id"]) == path[1]), None)
        if job is None:
            raise Reply(404, {"error": f"no job {path[1]}"})
        if path[2:] == ["runs"] and method == "POST":
            run_id = next(self._ids)
            data = body.get("data") or {}
            self.job_runs[run_id] = {"job": job, "data": data, "delivered": False,
                                     "documents": [self._render(REPORTS[0], data)
                                                   for _ in range(self.config.job_entries)]}
            raise Reply(200, {"jobRunId": run_id})
        run = self.job_runs.get(int(path[3])) if len(path) >= 5 and path[3].isdigit() else None
        if run is None:
            raise Reply(404, {"error": "no such run"})
        entries = len(run["documents"])
        if path[4] == "status":
            waiting = run["job"]["reviewRequired"] and not run["delivered"]
            raise Reply(200, {"finished": not waiting, "entries": entries, "status": {
                "queued": 0, "review": entries if waiting else 0, "completed": 0 if waiting else entries,
                "errors": 0}})
        if path[4] == "generate-review-document" and method == "POST":
            export_id = next(self._ids)
            self.exports[export_id] = {"report": REPORTS[0], "data": run["data"], "polls": 0, "failed": False,
                                       "stalled": False, "created": time.time()}
            raise Reply(200, {"temporaryFileId": export_id})
        if path[4] == "deliver" and method == "POST":
            run["delivered"] = True
            self.delivered.append((run["job"]["id"], int(path[3]), entries))
            raise Reply(200, b"", "application/json")
        raise Reply(404, {"error": "no such call"})

    def _render(self, report, data):
        self.rendered.append((report["id"], data))
        return render_pdf(report["name"], data)

    def _report(self, key):
        for report in REPORTS:
            if key == str(report["id"]) or key == _type_code(report):
                return report
        raise Reply(404, {"error": f"no report {key}"})

    def _data(self, source, method):
        """The data a document is made from: tempDataId's content, or the body's data, with params."""
        data = {}
        if source.get("tempDataId") not in (None, ""):
            data_id = int(source["tempDataId"])
            if data_id not in self.temporary_data:
                raise Reply(404, {"error": f"no temporary data {data_id}"})
            data = dict(self.temporary_data[data_id])
        if isinstance(source.get("data"), dict):
            data.update(source["data"])
        params = source.get("params")
        if isinstance(params, str) and params:
            params = self._query_params(params)
        if isinstance(params, dict) and params:
            data["params"] = params
        return data

    @staticmethod
    def _query_params(text):
        """params in a query string: plain JSON (TypeScript, .NET, PHP) or base64url JSON (Python)."""
        try:
            return json.loads(text)
        except ValueError:
            pass
        try:
            return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (ValueError, binascii.Error):
            raise Reply(400, {"error": "params must be JSON or base64url JSON"}) from None

    @staticmethod
    def _json(raw):
        try:
            value = json.loads(raw)
        except ValueError:
            raise Reply(400, {"error": "body is not JSON"}) from None
        if not isinstance(value, dict):
            raise Reply(400, {"error": "body must be an object"})
        return value


def _type_code(report):
    return next(t["code"] for t in REPORT_TYPES if t["id"] == report["reportTypeId"])
