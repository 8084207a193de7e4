"""Secure Reporter endpoints, one function each (docs/secure-reporter.md). `token` is the
Basic credential as the token page copies it; it goes in the Authorization header only.

A report's answer is written to a file first (HttpClient.download: timeouts, bounded
retries, a body cut short fetched again) and then read back as a stream (ijson), so
memory stays flat whatever the answer's size.
"""

import urllib.parse

from errors import ApiError
from httpclient import json_answer


class ReportRefusedError(ApiError):
    """The report answered `ok: false`: a bad parameter, failing SQL; the server's message."""


def _url(base_url, path, params=None):
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    return f"{base_url.rstrip('/')}{path}{query}"


def _auth(token):
    return {"Authorization": f"Basic {token}"}


def call_report(http, base_url, token, report, params, fileobj):
    """Run a report (by id or slug) with its bind parameters; its JSON answer goes into
    `fileobj`. Read it with `read_records`."""
    endpoint = f"call report {report}"
    path = f"/api/call/{urllib.parse.quote(str(report), safe='')}/"
    return http.download(_url(base_url, path, params), endpoint, fileobj, headers=_auth(token))


def read_records(fileobj, report):
    """The records of an answer written by `call_report`, one dict at a time (numbers that
    are not whole as Decimal). ReportRefusedError when the answer says `ok: false`, even
    after its records (the caller's transaction then rolls back)."""
    import ijson
    endpoint = f"call report {report}"
    ok, message, record, key = None, "", None, None
    try:
        for prefix, event, value in ijson.parse(fileobj, use_float=False):
            if prefix == "ok" and event == "boolean":
                ok = value
                if not ok:
                    raise ReportRefusedError(endpoint, 200, message or "ok: false")
            elif prefix == "message" and event == "string":
                message = value
            elif prefix == "records.item" and event == "start_map":
                record = {}
            elif prefix == "records.item" and event == "map_key":
                key = value
            elif prefix == "records.item" and event == "end_map":
                yield record
                record = None
            elif record is not None and prefix == f"records.item.{key}":
                if event in ("start_map", "start_array"):
                    raise ApiError(endpoint, 200, f"record field {key!r} is not a plain value")
                record[key] = value
    except ijson.JSONError as err:
        raise ApiError(endpoint, 200, f"answer is not JSON: {err}") from None
    if ok is None:
        raise ApiError(endpoint, 200, "answer has no \"ok\"")
    if not ok:
        raise ReportRefusedError(endpoint, 200, message or "ok: false")


def report_definition(http, base_url, token, report):
    endpoint = f"report definition {report}"
    data = json_answer(endpoint, http.request("GET", _url(base_url, f"/report/get/{report}"), endpoint,
                                              headers=_auth(token)))
    if not isinstance(data, dict) or not isinstance(data.get("report"), dict):
        raise ApiError(endpoint, 200, "answer has no report")
    return data["report"]
