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


# How deep an answer may nest: records are flat objects in a list in the answer's object
# (depth 3); anything much deeper is not an answer of this contract.
MAX_DEPTH = 32


def read_records(fileobj, report):
    """The records of an answer written by `call_report`, one dict at a time (numbers that
    are not whole as Decimal). ReportRefusedError when the answer says `ok: false`, even
    after its records (the caller's transaction then rolls back). An answer that is not
    `{"ok": ..., "records": [{...}, ...]}` (records missing, an object, a list of lists, a
    field that is not a plain value, nesting deeper than MAX_DEPTH) is an ApiError naming
    what is wrong. Events are read without their paths, so memory stays flat however deep
    or long the answer."""
    import ijson
    endpoint = f"call report {report}"

    def wrong(what):
        return ApiError(endpoint, 200, f"the answer is not Secure Reporter's {{ok, message, records}}: {what}")

    events = ijson.basic_parse(fileobj, use_float=False)
    ok, message, seen_records = None, "", False
    try:
        event, value = next(events, (None, None))
        if event != "start_map":
            raise wrong("it is not a JSON object")
        for event, value in events:
            if event == "end_map":
                break
            key = value                       # a map_key at the answer's top level
            event, value = next(events)
            if key == "ok":
                if event != "boolean":
                    raise wrong(f"ok is {event}, not true or false")
                ok = value
                if not ok:
                    raise ReportRefusedError(endpoint, 200, message or "ok: false")
            elif key == "message" and event == "string":
                message = value
            elif key == "records":
                if event != "start_array":
                    raise wrong(f"records is {_kind(event)}, not a list of records")
                seen_records = True
                yield from _records(events, wrong)
            else:
                _skip(events, event, wrong)
    except ijson.JSONError as err:
        raise ApiError(endpoint, 200, f"answer is not JSON: {err}") from None
    except StopIteration:
        raise ApiError(endpoint, 200, "answer is not JSON: it ends too soon") from None
    if ok is None:
        raise ApiError(endpoint, 200, "answer has no \"ok\"")
    if not ok:
        raise ReportRefusedError(endpoint, 200, message or "ok: false")
    if not seen_records:
        raise wrong("it has no records")


def _records(events, wrong):
    """The records of a records list whose start_array was read."""
    number = 0
    for event, value in events:
        if event == "end_array":
            return
        number += 1
        if event != "start_map":
            raise wrong(f"record {number} is {_kind(event)}, not an object")
        record, key = {}, None
        for event, value in events:
            if event == "end_map":
                break
            if event == "map_key":
                key = value
            elif event in ("start_map", "start_array"):
                raise wrong(f"record {number}, field {key!r} is {_kind(event)}, not a plain value")
            else:
                record[key] = value
        yield record


def _skip(events, event, wrong):
    """Pass over a value the suite does not read, bounding how deep it may nest."""
    depth = 1 if event in ("start_map", "start_array") else 0
    while depth:
        if depth > MAX_DEPTH:
            raise wrong(f"it nests deeper than {MAX_DEPTH} levels")
        event, _ = next(events)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1


def _kind(event):
    return {"start_map": "an object", "start_array": "a list", "string": "a text", "number": "a number",
            "boolean": "true or false", "null": "null"}.get(event, event)


def report_definition(http, base_url, token, report):
    """A report's definition: {id, name, fields: [{name, field_order, ...}] (its report
    fields, the parameters it takes), ...}."""
    endpoint = f"report definition {report}"
    data = json_answer(endpoint, http.request("GET", _url(base_url, f"/report/get/{report}"), endpoint,
                                              headers=_auth(token)))
    if not isinstance(data, dict) or not isinstance(data.get("report"), dict):
        raise ApiError(endpoint, 200, "answer has no report")
    return data["report"]
