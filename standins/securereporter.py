"""A Secure Reporter stand-in (docs/secure-reporter.md) over real HTTP on 127.0.0.1, in the
simulator's manner: tokens with a name, groups and an expiry; reports by id or slug with
bind parameters; records made deterministically from a seed; faults on demand.

    with SecureReporterStandIn(seed=1) as sr:
        sr.base_url, sr.token              # the Basic credential of a valid token
        sr.configure(records_per_day=4)
        sr.faults.add("429", count=2)      # also 500, 502, 503, drop, slow, expire
        sr.stats()                         # calls per endpoint
"""

import base64
import dataclasses
import datetime as dt
import json
import random
import time
import urllib.parse
import uuid
from standins.common import StandInServer

FAR_FUTURE = 4102444800          # 2100-01-01


@dataclasses.dataclass
class Report:
    report_id: int
    name: str
    group: str
    fields: tuple               # the columns of its records
    parameters: tuple = ()      # its bind variables: the report fields of its definition

    @property
    def slug(self):
        return self.name.lower().replace(" ", "-")


REPORTS = (
    Report(101, "Daily Direct Revenue", "finance",
           ("day", "advertiser_id", "advertiser", "bookings", "revenue", "updated_at", "row_style"), ("_from", "_to")),
    Report(102, "Token List", "*", ("name", "active", "age_days", "created", "created_by", "expiry", "groups")),
)
ADVERTISERS = ("Nordic Motors", "Baltic Foods & Co", "Café Öresund", "Svea \"Bank\"", "Łódź Textiles", "Polar Air",
               "Fjord Energy", "Aurora Media")


@dataclasses.dataclass
class Config:
    records_per_day: int = 4            # advertisers per day in Daily Direct Revenue
    latency: float = 0.0                # real seconds added to every request
    slow_seconds: float = 30.0          # how long a "slow" fault stalls


class SecureReporterStandIn(StandInServer):
    """Secure Reporter on 127.0.0.1 (see the module's docstring)."""

    def __init__(self, seed=1, port=0, **config):
        self.seed = seed
        self.config = Config(**config)
        self._tokens = {}
        self.token = self.make_token("suite-import", groups=("finance",))
        self.api_user_token = self.make_token("api.user", groups=("*",))
        self._listen(port)

    def make_token(self, name, groups=("*",), expires_at=FAR_FUTURE):
        """A token as the Tokens admin page makes it; returns its Basic credential."""
        secret = str(uuid.UUID(int=random.Random(f"{self.seed}:{name}").getrandbits(128)))
        credential = base64.b64encode(f"{name}:{secret}".encode()).decode()
        self._tokens[credential] = {"name": name, "groups": set(groups), "expires_at": expires_at}
        return credential

    def expire_token(self, credential):
        self._tokens[credential]["expires_at"] = 0







    # --- data ---------------------------------------------------------------------------

    def records(self, report, params):
        """The records of a report for its parameters; ValueError for a bad parameter."""
        if report.report_id == 102:
            return [{"name": t["name"], "active": "Y", "age_days": 7, "created": "2026-06-01 10:00:00.000001",
                     "created_by": "admin@example.com", "expiry": "2100-01-01 00:00:00", "groups": ",".join(
                         sorted(t["groups"]))} for t in self._tokens.values()]
        start, end = _date(params, "_from"), _date(params, "_to")
        if start >= end:
            raise ValueError(f"_from ({start}) must be before _to ({end})")
        rows = []
        day = start
        while day < end:
            rng = random.Random(f"{self.seed}:{day}")
            for index in range(self.config.records_per_day):
                advertiser_id = 7000 + index
                revenue = rng.randint(10000, 9999999) / 100
                rows.append({
                    "day": day.isoformat(), "advertiser_id": advertiser_id,
                    "advertiser": ADVERTISERS[index % len(ADVERTISERS)] + (f" {index}" if index >= len(ADVERTISERS)
                                                                            else ""),
                    "bookings": rng.randint(0, 500),
                    # pandas sends decimals as numbers or as strings: both appear.
                    "revenue": f"{revenue:.2f}" if index % 2 else revenue,
                    "updated_at": f"{day.isoformat()} 23:{index % 60:02d}:0{index % 10}" +
                                  (f".{rng.randint(0, 999999):06d}" if index % 3 else ""),
                    "row_style": json.dumps({"color": "red"}) if revenue > 90000 else None})
            day += dt.timedelta(days=1)
        return rows

    def report(self, key):
        for report in REPORTS:
            if key in (str(report.report_id), report.slug):
                return report
        return None

    # --- HTTP ---------------------------------------------------------------------------

    def _answer(self, handler, status, body, headers=()):
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _serve(self, handler, method):
        if method != "GET":
            self._answer(handler, 405, {"message": "only GET", "ok": False})
            return
        parts = urllib.parse.urlsplit(handler.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        endpoint = path.strip("/").split("/")[1] if path.startswith("/api/") and path.count("/") > 2 else path
        self.count_call(endpoint)
        if self.config.latency:
            time.sleep(self.config.latency)
        fault = self.faults.next()
        if fault == "drop":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault == "slow":
            time.sleep(self.config.slow_seconds)
        if fault in ("429", "500", "502", "503"):
            self._answer(handler, int(fault), {"message": f"fault {fault}", "ok": False},
                         [("Retry-After", "1")] if fault == "429" else ())
            return
        token = self._token(handler.headers.get("Authorization", ""))
        if token is None or fault == "expire" or token["expires_at"] <= time.time():
            self._answer(handler, 401, {"message": "token unknown, malformed or expired", "ok": False})
            return
        if path in ("/api/server_time/", "/api/server_iso_time/"):
            now = dt.datetime.now(dt.timezone.utc)
            self._answer(handler, 200, {"message": "", "ok": True,
                                        "server_time": now.isoformat() if "iso" in path else now.strftime(
                                            "%Y-%m-%d %H:%M:%S")})
            return
        if path.startswith("/report/get/"):
            report = self.report(path.rstrip("/").rsplit("/", 1)[-1])
            if report is None:
                self._answer(handler, 404, {"message": "no such report", "ok": False})
                return
            self._answer(handler, 200, {"message": "", "ok": True, "report": {
                "id": report.report_id, "name": report.name, "slug": report.slug,
                "fields": [{"id": report.report_id * 100 + i, "name": p, "field_order": i}
                           for i, p in enumerate(report.parameters)],
                "columns": list(report.fields)}})
            return
        if path.startswith("/api/call/") and path.endswith("/"):
            report = self.report(path[len("/api/call/"):-1])
            if report is None:
                self._answer(handler, 404, {"message": f"no report {path[len('/api/call/'):-1]}", "ok": False})
                return
            if not (report.group == "*" or "*" in token["groups"] or report.group in token["groups"]):
                self._answer(handler, 403, {"message": f"this token's groups do not include {report.group}",
                                            "ok": False})
                return
            try:
                records = self.records(report, {k: v[-1] for k, v in query.items()})
            except ValueError as err:
                self._answer(handler, 200, {"message": f"bad parameter: {err}", "ok": False, "records": []})
                return
            self._answer(handler, 200, {"message": "", "ok": True, "records": records})
            return
        self._answer(handler, 404, {"message": "no such endpoint", "ok": False})

    def _token(self, header):
        if not header.startswith("Basic "):
            return None
        return self._tokens.get(header[len("Basic "):].strip())


def _date(params, name):
    text = params.get(name)
    if text is None:
        raise ValueError(f"{name} is required")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be YYYY-MM-DD, got {text!r}") from None
