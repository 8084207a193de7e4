"""A local Index Exchange: the suite's test double and its sandbox.

IXSimulator serves the contract of docs/ix-api.md over real HTTP on 127.0.0.1:
reporting login and refresh, report specs, runs and files, the CAL token, CAL log
listings and files, mappings and exchange rates. It keeps state like the real service
(specs created, updated and deactivated; runs that become ready after a delay; files
marked downloaded) and is strict like it (every 400/401/403/404 case of the spec).

Tests start it in-process (`with IXSimulator(seed=1) as sim: ...`), point the suite's two
base-URL settings at `sim.base_url`, change knobs while it runs (`sim.configure(...)`,
`sim.faults.add(...)`, `sim.advance_clock(...)`) and assert on `sim.stats()`.

Data comes from ixsimdata.py; this module only keeps state and speaks HTTP.
"""

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standins import ixsimdata

log = logging.getLogger("ixsimulator")

REPORTING = "/api/reporting/agg/v1"
CAL = "/api/cal/v1"
CAL_TOKEN_PATH = "/auth/realms/eventlog/protocol/openid-connect/token"
FILE_TYPES = {"csv": "text/csv; charset=utf-8", "csv.gz": "application/gzip", "csv.zip": "application/zip"}
TITLE_RULE = re.compile(r"^[A-Za-z0-9 _.\-]{1,255}$")
CAL_MAPPINGS = ("buyers", "dsps", "partners", "campaigns", "deals", "sites")
FAULT_KINDS = ("429", "500", "502", "503", "504", "drop", "truncate", "corrupt", "expire", "drip", "malformed")
DRIP_SECONDS = 0.5         # a "drip" answer sends one byte this often (real seconds)
FIRST_TEMPLATE_SPEC_ID = 1965885
FIRST_NEW_SPEC_ID = 2100001
FIRST_RUN_ID = 5000001
# A CAL file id encodes (hour, publisher, slot); slot 0 is the impression file and 1..3
# the parts of the bid file. 1,000 ids per hour keep ids of this century under 2**31
# (the download log's int column) with room for 249 publishers.
CAL_IDS_PER_HOUR = 1000
CAL_MAX_BID_PARTS = 3

ENDPOINTS = (
    "login", "refresh", "spec_create", "spec_update", "spec_get", "spec_list", "spec_deactivate",
    "run_create", "file_list", "file_download", "cal_token", "cal_downloads", "cal_bidevents",
    "cal_file", "cal_mapping", "exchange_rates",
)


@dataclasses.dataclass
class SimConfig:
    """Knobs of the simulator; every one may be changed while it runs."""
    access_token_lifetime: int = 3600      # reporting access token, seconds
    refresh_token_lifetime: int = 86400    # reporting refresh token, seconds
    cal_token_lifetime: int = 3600         # CAL bearer token, seconds
    run_delay: float = 2.0                 # seconds (simulator clock) until a run's file is ready
    latency: float = 0.0                   # real seconds added to every request
    max_runs_in_progress: int = 50
    max_saves_per_day: int = 2000
    report_rows_per_period: int = 5        # rows per hour/day/month bucket of a report
    restatement: int = 0                   # N > 0: runs from now on see past days restated (ixsimdata.report_rows)
    file_retention_days: int = 30          # report files
    cal_window_hours: int = 24             # CAL hours listed (the real service keeps 14 days)
    cal_rows_per_file: int = 40            # auctions in a CAL file as first published
    cal_late_rows: int = 10                # auctions added by each bout of late data
    cal_max_bid_parts: int = 2             # bid files come in 1..this many parts
    cal_extra_columns: tuple = ()          # newer files carry more columns
    exchange_rates_enabled: bool = True    # an optional API: off, it answers 403
    public_base_url: str = ""              # host written into downloadURLs; "" = this server


class SimError(Exception):
    """An HTTP error answer; raised inside handlers, turned into a response."""

    def __init__(self, status, message, code=None, headers=None, body=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.body = body


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)
    on_full_send: object = None   # called when the whole body is sent, not on a truncated one


def _malformed(response):
    """The answer with every id made text that is not a number (a server answering badly)."""
    def spoil(value):
        if isinstance(value, dict):
            return {k: f"{v}x" if k in ("fileID", "reportRunID", "reportID") else spoil(v) for k, v in value.items()}
        if isinstance(value, list):
            return [spoil(v) for v in value]
        return value
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    return json_response(response.status, spoil(payload), {k: v for k, v in response.headers.items()
                                                           if k != "Content-Type"})


def json_response(status, payload, headers=None):
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class FaultPlan:
    """Faults that the next calls to an endpoint suffer, in the order they were added.

    kinds: "429" (with Retry-After `retry_after`, or none when it is None), "500".."504"
    (a non-JSON body), "drop" (connection closed with no answer), "truncate" (the body
    cut short of its Content-Length), "corrupt" (a full answer whose bytes are altered),
    "expire" (every access token expires just before the call: a token dying mid-run),
    "drip" (the body sent one byte every DRIP_SECONDS: a server that stalls without ever
    timing out a read), "malformed" (a JSON answer whose ids are text: "fileID": "5000001x",
    "reportRunID": "5000001x").
    Endpoint "*" matches any endpoint.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._plan = deque()

    def add(self, endpoint, kind, count=1, retry_after=None):
        if endpoint != "*" and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)} or '*'")
        kind = str(kind)
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._plan.append([endpoint, kind, count, retry_after])

    def clear(self):
        with self._lock:
            self._plan.clear()

    def pending(self):
        with self._lock:
            return [tuple(f) for f in self._plan]

    def take(self, endpoint):
        with self._lock:
            for fault in self._plan:
                if fault[0] in ("*", endpoint):
                    fault[2] -= 1
                    if fault[2] <= 0:
                        self._plan.remove(fault)
                    return fault[1], fault[3]
        return None


class _Spec:
    def __init__(self, spec_id, body):
        self.spec_id = spec_id
        self.body = body
        self.active = True


class _Run:
    def __init__(self, file_id, spec_id, spec, created_at, ready_at, restatement=0):
        self.file_id = file_id
        self.restatement = restatement      # how Index Exchange stated past days when it ran
        self.spec_id = spec_id
        self.spec = spec            # snapshot at run time: a later update does not change it
        self.created_at = created_at
        self.ready_at = ready_at
        self.status = "new"
        self.content = None         # bytes as served, made on first need
        self.content_lock = threading.Lock()

    @property
    def account(self):
        return self.spec["accounts"][0]


class _CalFileState:
    def __init__(self):
        self.version = 0
        self.status = "new"
        self.updated_at = None
        self.broken = False         # published as a truncated gzip with a matching md5


class IXSimulator:
    """The simulated service. Start with start() or a with-block; stop with stop()."""

    def __init__(self, seed=1, publishers=4, username="sandbox@example.com",
                 password="sandbox-password", start_time=None, host="127.0.0.1", port=0, unique_ids=False,
                 **config):
        """`unique_ids`: the ids of new specs and runs never repeat across restarts (they
        start from the wall clock), as Index Exchange's never do; what ix-sandbox.py uses,
        since a database that persists remembers the ids an earlier simulator gave. Off, the
        ids are the same on every start (tests assert on them)."""
        self.world = ixsimdata.World(seed=seed, publishers=publishers, username=username, password=password)
        self._lock = threading.RLock()
        self.config = SimConfig()
        self.configure(**config)
        self.faults = FaultPlan()
        self._host = host
        self._port = port
        self._server = None
        self._thread = None
        self._t0_real = time.monotonic()
        self._t0_sim = float(start_time if start_time is not None else time.time())
        self._clock_offset = 0.0
        self._access_tokens = {}    # token -> expires_at
        self._refresh_tokens = {}   # token -> expires_at
        self._cal_tokens = {}       # token -> (publisher_id, expires_at)
        self._specs = {}
        self._runs = {}
        # 100 ids per millisecond of the wall clock: more than any run of this simulator uses.
        from_clock = int(time.time() * 1000) * 100 if unique_ids else 0
        self._next_spec_id = FIRST_NEW_SPEC_ID + from_clock
        self._first_run_id = self._next_run_id = FIRST_RUN_ID + from_clock
        self._cal_files = {}        # file_id -> _CalFileState, created on first change
        self._cal_cache = {}
        self._cal_cache_lock = threading.Lock()
        self._calls = Counter()
        self._faults_served = Counter()
        self._downloads = Counter()
        self._user_agents = Counter()
        self._saves = 0
        self._saves_by_day = Counter()
        self._peak_runs = 0
        for offset, body in enumerate(self.world.template_specs()):
            self._specs[FIRST_TEMPLATE_SPEC_ID + offset] = _Spec(FIRST_TEMPLATE_SPEC_ID + offset, body)

    # --- life cycle -------------------------------------------------------------------

    def start(self):
        handler = type("BoundHandler", (_Handler,), {"simulator": self})
        self._server = _Server((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="ixsimulator",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        log.info("Index Exchange simulator listening on %s", self.base_url)
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def base_url(self):
        """The URL for both INDEXEXCHANGEBASEURL and INDEXEXCHANGEIDENTITYURL."""
        return f"http://{self._host}:{self.port}"

    def _public_base(self):
        return self.config.public_base_url.rstrip("/") or self.base_url

    # --- knobs ------------------------------------------------------------------------

    def configure(self, **changes):
        """Change knobs (see SimConfig); unknown names are an error."""
        names = {f.name for f in dataclasses.fields(SimConfig)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown simulator setting {name!r}; known: {', '.join(sorted(names))}")
        with self._lock:
            for name, value in changes.items():
                if name == "cal_extra_columns":
                    value = tuple(value)
                if name == "cal_max_bid_parts" and not 1 <= value <= CAL_MAX_BID_PARTS:
                    raise ValueError(f"cal_max_bid_parts must be 1..{CAL_MAX_BID_PARTS}")
                setattr(self.config, name, value)

    def now(self):
        """The simulator's clock, epoch seconds: real time since start, plus advances."""
        return self._t0_sim + (time.monotonic() - self._t0_real) + self._clock_offset

    def advance_clock(self, seconds):
        """Move the simulator's clock on: runs become ready, tokens expire, hours pass."""
        with self._lock:
            self._clock_offset += seconds

    def today(self):
        return dt.datetime.fromtimestamp(self.now(), dt.timezone.utc).date()

    def expire_tokens(self):
        """Make every access token (reporting and CAL) expire now; refresh tokens stay."""
        with self._lock:
            past = self.now() - 1
            for token in self._access_tokens:
                self._access_tokens[token] = past
            for token, (pid, _) in self._cal_tokens.items():
                self._cal_tokens[token] = (pid, past)

    def expire_refresh_tokens(self):
        with self._lock:
            past = self.now() - 1
            for token in self._refresh_tokens:
                self._refresh_tokens[token] = past

    def deactivate_spec(self, spec_id):
        """Deactivate a spec from the exchange's side, as a person in the web GUI would."""
        with self._lock:
            self._specs[spec_id].active = False

    def rename_spec(self, spec_id, title):
        """Give a spec another title from the exchange's side, as a person in the web GUI would."""
        with self._lock:
            self._specs[spec_id].body["reportTitle"] = title

    def spec(self, spec_id):
        """(body, active) of a spec, for assertions."""
        with self._lock:
            s = self._specs[spec_id]
            return json.loads(json.dumps(s.body)), s.active

    def active_spec_ids(self):
        with self._lock:
            return sorted(i for i, s in self._specs.items() if s.active)

    def add_late_data(self, file_id):
        """Late data for a CAL file: a new version with more rows; `updated` if downloaded."""
        self._cal_locate(file_id)
        with self._lock:
            state = self._cal_files.setdefault(file_id, _CalFileState())
            state.version += 1
            state.updated_at = self.now()
            if state.status == "downloaded":
                state.status = "updated"

    def publish_broken_cal_file(self, file_id):
        """Serve this CAL file as a truncated gzip whose md5 in the listing matches it."""
        self._cal_locate(file_id)
        with self._lock:
            self._cal_files.setdefault(file_id, _CalFileState()).broken = True

    def stats(self):
        """Counters of what the simulator received, for tests to assert on."""
        with self._lock:
            now = self.now()
            return {
                "calls": dict(self._calls),
                "faults_served": dict(self._faults_served),
                "downloads": dict(self._downloads),
                "user_agents": dict(self._user_agents),
                "saves": self._saves,
                "saves_today": self._saves_by_day[self.today().isoformat()],
                "runs": self._next_run_id - self._first_run_id,
                "runs_in_progress": self._runs_in_progress(now),
                "peak_runs_in_progress": self._peak_runs,
            }

    def reset_stats(self):
        with self._lock:
            self._calls.clear()
            self._faults_served.clear()
            self._downloads.clear()
            self._user_agents.clear()
            self._peak_runs = self._runs_in_progress(self.now())

    # --- dispatch ---------------------------------------------------------------------

    _ROUTES = [
        ("POST", r"/api/authentication/v1/login", "login"),
        ("POST", r"/api/authentication/v1/refresh", "refresh"),
        ("POST", REPORTING + r"/report-specs", "spec_create"),
        ("PATCH", REPORTING + r"/report-specs/(?P<id>[^/]+)", "spec_update"),
        ("GET", REPORTING + r"/report-specs/json/(?P<id>[^/]+)", "spec_get"),
        ("GET", REPORTING + r"/report-specs/info", "spec_list"),
        ("PUT", REPORTING + r"/report-specs/(?P<id>[^/]+)/deactivate", "spec_deactivate"),
        ("POST", REPORTING + r"/report-runs", "run_create"),
        ("GET", REPORTING + r"/report-files/list", "file_list"),
        ("GET", REPORTING + r"/report-files/download/(?P<id>[^/]+)", "file_download"),
        ("POST", CAL_TOKEN_PATH, "cal_token"),
        ("GET", CAL + r"/downloads", "cal_downloads"),
        ("GET", CAL + r"/downloads/bidevents", "cal_bidevents"),
        ("GET", CAL + r"/files/(?P<id>[^/]+)", "cal_file"),
        ("GET", CAL + r"/mappings/(?P<name>[^/]+)", "cal_mapping"),
        ("GET", CAL + r"/exchange-rates", "exchange_rates"),
    ]
    _COMPILED = [(m, re.compile(p + r"/?$"), name) for m, p, name in _ROUTES]

    def route(self, method, path):
        """(endpoint name, path parameters) or raise SimError 404/405."""
        allowed = []
        for route_method, pattern, name in self._COMPILED:
            match = pattern.match(path)
            if match:
                if route_method == method:
                    return name, match.groupdict()
                allowed.append(route_method)
        if allowed:
            raise SimError(405, f"method {method} not allowed on {path}", headers={"Allow": ", ".join(allowed)})
        raise SimError(404, f"no such resource: {path}")

    def handle(self, method, raw_path, headers, body):
        """Answer one request: (endpoint or None, Response, fault kind or None)."""
        parsed = urllib.parse.urlsplit(raw_path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        endpoint = None
        try:
            endpoint, params = self.route(method, parsed.path)
            with self._lock:
                self._calls[endpoint] += 1
                self._user_agents[headers.get("User-Agent", "")] += 1
            fault = self.faults.take(endpoint)
            if fault:
                with self._lock:
                    self._faults_served[endpoint] += 1
                kind, retry_after = fault
                if kind == "429":
                    extra = {} if retry_after is None else {"Retry-After": str(retry_after)}
                    return endpoint, json_response(429, {"message": "Too many requests"}, extra), kind
                if kind in ("500", "502", "503", "504"):
                    return endpoint, Response(int(kind), b"<html><body>upstream trouble</body></html>",
                                              {"Content-Type": "text/html"}), kind
            else:
                kind = None
            if kind == "expire":
                self.expire_tokens()
            if kind == "drop":
                return endpoint, None, kind
            response = getattr(self, "_" + endpoint)(params, query, headers, body)
            if kind == "malformed":
                response = _malformed(response)
            return endpoint, response, kind
        except SimError as err:
            payload = err.body if err.body is not None else {"message": err.message}
            if err.code and err.body is None:
                payload["code"] = err.code
            return endpoint, json_response(err.status, payload, err.headers), None
        except Exception:  # a simulator bug must show, not hang the client
            log.error("simulator error on %s %s\n%s", method, raw_path, traceback.format_exc())
            return endpoint, json_response(500, {"message": "internal simulator error"}), None

    # --- helpers ----------------------------------------------------------------------

    @staticmethod
    def _json_body(body):
        try:
            value = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            raise SimError(400, "request body is not valid JSON", code="RSE-4000")
        if not isinstance(value, dict):
            raise SimError(400, "request body must be a JSON object", code="RSE-4000")
        return value

    @staticmethod
    def _int_param(text, what="id"):
        if not re.fullmatch(r"[0-9]{1,18}", text or ""):
            raise SimError(404, f"unknown {what}: {text}")
        return int(text)

    @staticmethod
    def _int_list(query, name):
        values = []
        for chunk in query.get(name, []):
            for part in chunk.split(","):
                if not re.fullmatch(r"[0-9]{1,18}", part.strip()):
                    raise SimError(400, f"{name} must be a comma-separated list of integers, got {chunk!r}")
                values.append(int(part))
        return values

    @staticmethod
    def _bearer(headers):
        value = headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SimError(401, "missing bearer token")
        return token.strip()

    def _check_reporting_token(self, headers):
        token = self._bearer(headers)
        with self._lock:
            expires = self._access_tokens.get(token)
            if expires is None:
                raise SimError(401, "invalid access token")
            if expires <= self.now():
                raise SimError(401, "access token expired")

    def _check_cal_token(self, headers):
        token = self._bearer(headers)
        with self._lock:
            entry = self._cal_tokens.get(token)
            if entry is None:
                raise SimError(401, "invalid access token")
            if entry[1] <= self.now():
                raise SimError(401, "access token expired")
            return entry[0]

    def _visible(self, account):
        return account in self.world.publisher_ids

    def _iso(self, epoch):
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _issue_tokens(self):
        now = self.now()
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._access_tokens[access] = now + self.config.access_token_lifetime
        self._refresh_tokens[refresh] = now + self.config.refresh_token_lifetime
        return {"access_token": access, "refresh_token": refresh,
                "expires_in": self.config.access_token_lifetime, "token_type": "Bearer"}

    # --- authentication ---------------------------------------------------------------

    def _login(self, params, query, headers, body):
        data = self._json_body(body)
        if not isinstance(data.get("username"), str) or not isinstance(data.get("password"), str):
            raise SimError(400, "username and password are required")
        if data["username"] != self.world.username or data["password"] != self.world.password:
            raise SimError(401, "invalid credentials", body={"error": [
                {"code": "INVALID_CREDENTIALS", "message": "The username or password is incorrect"}]})
        with self._lock:
            tokens = self._issue_tokens()
        tokens["id_token"] = secrets.token_urlsafe(16)
        return json_response(200, {"loginResponse": {"authResponse": tokens}})

    def _refresh(self, params, query, headers, body):
        data = self._json_body(body)
        token = data.get("refreshToken")
        if not isinstance(token, str):
            raise SimError(400, "refreshToken is required")
        with self._lock:
            expires = self._refresh_tokens.get(token)
            if expires is None or expires <= self.now():
                raise SimError(401, "refresh token unknown or expired")
            del self._refresh_tokens[token]   # rotation: the old one is spent
            return json_response(200, self._issue_tokens())

    # --- report specs -----------------------------------------------------------------

    def _validate_spec(self, data):
        accounts = data.get("accounts")
        if not (isinstance(accounts, list) and len(accounts) == 1 and type(accounts[0]) is int):
            raise SimError(400, "accounts must be an array of exactly one integer", code="RSE-4001")
        title = data.get("reportTitle")
        if not isinstance(title, str) or not TITLE_RULE.match(title):
            raise SimError(400, "reportTitle may hold only letters, digits, spaces, '-', '_' and '.', "
                                "1 to 255 characters", code="RSE-4002")
        if data.get("fileType") not in FILE_TYPES:
            raise SimError(400, f"fileType must be one of {', '.join(FILE_TYPES)}", code="RSE-4003")
        query_spec = data.get("querySpec")
        fields = query_spec.get("fields") if isinstance(query_spec, dict) else None
        if not (isinstance(fields, list) and fields and all(isinstance(f, str) and f for f in fields)):
            raise SimError(400, "querySpec.fields must be a non-empty array of field names", code="RSE-4004")
        if len(set(fields)) != len(fields):
            raise SimError(400, "querySpec.fields names a field twice", code="RSE-4004")
        self._validate_date_range(data.get("dateRange"))
        if not self._visible(accounts[0]):
            raise SimError(403, f"account {accounts[0]} is not accessible to this user")

    @staticmethod
    def _validate_date_range(date_range):
        bad = SimError(400, "dateRange is malformed", code="RSE-4010")
        if not isinstance(date_range, dict) or not date_range:
            raise bad
        if set(date_range) == {"from", "to"}:
            try:
                start = dt.date.fromisoformat(date_range["from"])
                end = dt.date.fromisoformat(date_range["to"])
            except (TypeError, ValueError):
                raise bad
            if start >= end:
                raise SimError(400, "dateRange.from must be before dateRange.to", code="RSE-4009")
        elif set(date_range) == {"current"}:
            if date_range["current"] not in ("day", "month"):
                raise bad
        elif set(date_range) == {"previous"}:
            previous = date_range["previous"]
            if not (isinstance(previous, dict) and len(previous) == 1
                    and next(iter(previous)) in ("days", "weeks")
                    and type(next(iter(previous.values()))) is int and next(iter(previous.values())) > 0):
                raise bad
        else:
            raise bad

    def _count_save(self):
        """Count one spec save against the daily limit, or refuse it."""
        today = self.today()
        if self._saves_by_day[today.isoformat()] >= self.config.max_saves_per_day:
            midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
            wait = max(1, math.ceil(midnight.timestamp() - self.now()))
            raise SimError(429, f"daily limit of {self.config.max_saves_per_day} report spec saves reached",
                           headers={"Retry-After": str(wait)})
        self._saves_by_day[today.isoformat()] += 1
        self._saves += 1

    def _active_spec(self, spec_id):
        spec = self._specs.get(spec_id)
        if spec is None or not spec.active:
            raise SimError(404, f"report spec {spec_id} not found")
        if not self._visible(spec.body["accounts"][0]):
            raise SimError(403, f"report spec {spec_id} belongs to an account not accessible to this user")
        return spec

    def _spec_create(self, params, query, headers, body):
        self._check_reporting_token(headers)
        data = self._json_body(body)
        self._validate_spec(data)
        with self._lock:
            self._count_save()
            spec_id = self._next_spec_id
            self._next_spec_id += 1
            self._specs[spec_id] = _Spec(spec_id, data)
        return json_response(201, {"reportSpecID": spec_id})

    def _spec_update(self, params, query, headers, body):
        self._check_reporting_token(headers)
        spec_id = self._int_param(params["id"], "report spec")
        with self._lock:
            self._active_spec(spec_id)
        data = self._json_body(body)
        self._validate_spec(data)
        with self._lock:
            spec = self._active_spec(spec_id)
            self._count_save()
            spec.body = data
        return json_response(200, {"success": True, "reportSpecID": spec_id})

    def _spec_get(self, params, query, headers, body):
        self._check_reporting_token(headers)
        spec_id = self._int_param(params["id"], "report spec")
        with self._lock:
            spec = self._active_spec(spec_id)
            return json_response(200, {"reportDefinition": spec.body})

    def _spec_list(self, params, query, headers, body):
        self._check_reporting_token(headers)
        wanted = set(self._int_list(query, "accountIDs"))
        with self._lock:
            items = [{"reportID": s.spec_id, "title": s.body["reportTitle"], "accounts": list(s.body["accounts"]),
                      "reportStatus": "saved"}
                     for s in self._specs.values()
                     if s.active and self._visible(s.body["accounts"][0])
                     and (not wanted or s.body["accounts"][0] in wanted)]
        return json_response(200, sorted(items, key=lambda i: i["reportID"]))

    def _spec_deactivate(self, params, query, headers, body):
        self._check_reporting_token(headers)
        spec_id = self._int_param(params["id"], "report spec")
        with self._lock:
            self._active_spec(spec_id).active = False
        return json_response(200, {"success": True, "reportSpecID": spec_id})

    # --- runs and files ---------------------------------------------------------------

    def _runs_in_progress(self, now):
        return sum(1 for r in self._runs.values() if r.ready_at > now)

    def _run_create(self, params, query, headers, body):
        self._check_reporting_token(headers)
        data = self._json_body(body)
        spec_id = data.get("reportID")
        if type(spec_id) is not int:
            raise SimError(400, "reportID must be an integer", code="RSE-4000")
        with self._lock:
            spec = self._active_spec(spec_id)
            now = self.now()
            pending = [r.ready_at for r in self._runs.values() if r.ready_at > now]
            if len(pending) >= self.config.max_runs_in_progress:
                wait = max(1, math.ceil(min(pending) - now))
                raise SimError(429, f"at most {self.config.max_runs_in_progress} report runs may be in progress",
                               headers={"Retry-After": str(wait)})
            file_id = self._next_run_id
            self._next_run_id += 1
            snapshot = json.loads(json.dumps(spec.body))
            self._runs[file_id] = _Run(file_id, spec_id, snapshot, now, now + self.config.run_delay,
                                       self.config.restatement)
            self._peak_runs = max(self._peak_runs, len(pending) + 1)
        return json_response(201, {"reportRunID": file_id})

    def _run_content(self, run):
        """The bytes of a run's file, made once (outside the state lock: it can be big)."""
        with run.content_lock:
            if run.content is None:
                today = dt.datetime.fromtimestamp(run.created_at, dt.timezone.utc).date()
                csv_bytes = ixsimdata.report_csv_bytes(self.world, run.spec, today,
                                                       self.config.report_rows_per_period, run.restatement)
                run.content = ixsimdata.pack_report(csv_bytes, run.spec["fileType"], self._file_name(run, "csv"))
            return run.content

    @staticmethod
    def _file_name(run, file_type=None):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", run.spec["reportTitle"]).strip("_")[:120]
        return f"{stem}_{run.file_id}.{file_type or run.spec['fileType']}"

    def _file_visible(self, run, now):
        """Ready and not yet expired."""
        expires = run.ready_at + self.config.file_retention_days * 86400
        return run.ready_at <= now < expires

    def _file_item(self, run):
        content = self._run_content(run)
        start, end = ixsimdata.resolve_date_range(
            run.spec["dateRange"], dt.datetime.fromtimestamp(run.created_at, dt.timezone.utc).date())
        return {
            "fileID": run.file_id, "reportID": run.spec_id, "reportTitle": run.spec["reportTitle"],
            "reportTimeRange": {"from": start.isoformat(), "to": end.isoformat()},
            "createdAt": self._iso(run.ready_at),
            "expiresAt": self._iso(run.ready_at + self.config.file_retention_days * 86400),
            "fileName": self._file_name(run), "fileSize": len(content),
            "hash": hashlib.md5(content).hexdigest(),
            "downloadURL": f"{self._public_base()}{REPORTING}/report-files/download/{run.file_id}",
            "downloadStatus": run.status,
        }

    def _file_list(self, params, query, headers, body):
        self._check_reporting_token(headers)
        accounts = set(self._int_list(query, "accountIDs"))
        file_ids = set(self._int_list(query, "fileIDs"))
        report_ids = set(self._int_list(query, "reportIDs"))
        status = query.get("status", [None])[-1]
        if status not in (None, "new", "downloaded"):
            raise SimError(400, "status must be new or downloaded")
        with self._lock:
            now = self.now()
            runs = [r for r in self._runs.values()
                    if self._file_visible(r, now) and self._visible(r.account)
                    and (not accounts or r.account in accounts)
                    and (not file_ids or r.file_id in file_ids)
                    and (not report_ids or r.spec_id in report_ids)
                    and (status is None or r.status == status)]
        items = [self._file_item(r) for r in sorted(runs, key=lambda r: r.file_id)]
        return json_response(200, items)

    def _file_download(self, params, query, headers, body):
        self._check_reporting_token(headers)
        file_id = self._int_param(params["id"], "file")
        with self._lock:
            run = self._runs.get(file_id)
            if run is None or not self._file_visible(run, self.now()):
                raise SimError(404, f"file {file_id} not found or not ready yet")
            if not self._visible(run.account):
                raise SimError(403, f"file {file_id} belongs to an account not accessible to this user")
        content = self._run_content(run)

        def mark_downloaded():
            with self._lock:
                run.status = "downloaded"
                self._downloads[("report", file_id)] += 1

        return Response(200, content, {
            "Content-Type": FILE_TYPES[run.spec["fileType"]],
            "Content-Disposition": f'attachment; filename="{self._file_name(run)}"',
        }, on_full_send=mark_downloaded)

    # --- CAL --------------------------------------------------------------------------

    def _cal_token(self, params, query, headers, body):
        if not headers.get("Content-Type", "").lower().startswith("application/x-www-form-urlencoded"):
            raise SimError(400, "Content-Type must be application/x-www-form-urlencoded",
                           body={"error": "invalid_request",
                                 "error_description": "Content-Type must be application/x-www-form-urlencoded"})
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        scheme, _, key = headers.get("Authorization", "").partition(" ")
        publisher = self.world.publisher_for_api_key(key.strip()) if scheme.lower() == "basic" else None
        if publisher is None:
            raise SimError(401, "bad API key", body={"error": "unauthorized_client",
                                                      "error_description": "Invalid client credentials"})
        if form.get("grant_type") != ["client_credentials"]:
            raise SimError(400, "bad grant type", body={"error": "unsupported_grant_type",
                                                         "error_description": "grant_type must be client_credentials"})
        with self._lock:
            token = self._jwt(publisher)
            self._cal_tokens[token] = (publisher, self.now() + self.config.cal_token_lifetime)
        return json_response(200, {"access_token": token, "expires_in": self.config.cal_token_lifetime,
                                   "token_type": "bearer", "scope": "profile email", "refresh_expires_in": 0})

    def _jwt(self, publisher):
        def part(obj):
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
        claims = {"sub": f"sim-client-{publisher}", "iat": int(self.now()),
                  "exp": int(self.now() + self.config.cal_token_lifetime), "jti": secrets.token_hex(8)}
        return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(32)}"

    def _cal_hours(self):
        """The hours whose files are published now: whole past hours inside the window."""
        current = int(self.now() // 3600)
        return [h for h in range(current - self.config.cal_window_hours, current)]

    def _bid_parts(self, publisher_index, hour_index):
        rng = ixsimdata.stable_rng(self.world.seed, "bid-parts", publisher_index, hour_index)
        return rng.randint(1, self.config.cal_max_bid_parts)

    def _cal_file_id(self, hour_index, publisher_index, slot):
        return hour_index * CAL_IDS_PER_HOUR + publisher_index * 4 + slot + 1

    def _cal_locate(self, file_id):
        """(publisher_id, kind, hour index, slot) of a published CAL file, or SimError 404."""
        hour_index, rest = divmod(file_id - 1, CAL_IDS_PER_HOUR)
        publisher_index, slot = divmod(rest, 4)
        if (publisher_index >= len(self.world.publisher_ids) or hour_index not in self._cal_hours()
                or (slot > 0 and slot > self._bid_parts(publisher_index, hour_index))):
            raise SimError(404, f"file {file_id} not found")
        return self.world.publisher_ids[publisher_index], ("impression" if slot == 0 else "bid"), hour_index, slot

    def _cal_content(self, file_id):
        """(bytes, md5) of a CAL file at its current version."""
        publisher, kind, hour_index, _ = self._cal_locate(file_id)
        with self._lock:
            state = self._cal_files.get(file_id) or _CalFileState()
            version, broken = state.version, state.broken
        cfg = self.config
        key = (file_id, version, broken, cfg.cal_rows_per_file, cfg.cal_late_rows, tuple(cfg.cal_extra_columns))
        with self._cal_cache_lock:
            cached = self._cal_cache.get(key)
        if cached is None:
            hour = dt.datetime.fromtimestamp(hour_index * 3600, dt.timezone.utc).replace(tzinfo=None)
            content = ixsimdata.cal_file_bytes(self.world, publisher, kind, hour, file_id, version,
                                               cfg.cal_rows_per_file, cfg.cal_late_rows, cfg.cal_extra_columns)
            if broken:
                content = content[: len(content) // 2]
            cached = (content, hashlib.md5(content).hexdigest())
            with self._cal_cache_lock:
                self._cal_cache[key] = cached
        return cached

    def _cal_file_keys(self, file_id, hour_index):
        content, md5 = self._cal_content(file_id)
        with self._lock:
            state = self._cal_files.get(file_id) or _CalFileState()
            created = state.updated_at or (hour_index + 1) * 3600
            status = state.status
        return {
            "dateCreated": self._iso(created), "expires": self._iso(created + 14 * 86400),
            "fileSize": len(content), "downloadURL": f"{self._public_base()}{CAL}/files/{file_id}",
            "md5sum": md5, "downloadStatus": status,
        }

    def _cal_entries(self, publisher, kind):
        publisher_index = self.world.publisher_ids.index(publisher)
        name = self.world.publisher_names[publisher]
        subscription = 40000 + publisher_index * 10 + (0 if kind == "impression" else 1)
        entries = []
        for hour_index in self._cal_hours():
            entry = {"subscriptionID": subscription,
                     "subscriptionName": f"{name} {'impressions' if kind == 'impression' else 'bid events'}",
                     "hour": self._iso(hour_index * 3600)}
            if kind == "impression":
                entry.update(self._cal_file_keys(self._cal_file_id(hour_index, publisher_index, 0), hour_index))
            else:
                parts = self._bid_parts(publisher_index, hour_index)
                files = [self._cal_file_keys(self._cal_file_id(hour_index, publisher_index, s), hour_index)
                         for s in range(1, parts + 1)]
                # An entry without parts is one file, so a one-part bid file is listed flat.
                if parts == 1:
                    entry.update(files[0])
                else:
                    entry["parts"] = files
            entries.append(entry)
        return entries

    def cal_file_ids(self, publisher_id, kind="impression"):
        """The ids of the CAL files published now for a publisher ('impression' or 'bid')."""
        publisher_index = self.world.publisher_ids.index(publisher_id)
        ids = []
        for hour_index in self._cal_hours():
            slots = [0] if kind == "impression" else range(1, self._bid_parts(publisher_index, hour_index) + 1)
            ids.extend(self._cal_file_id(hour_index, publisher_index, s) for s in slots)
        return ids

    def cal_file_status(self, file_id):
        with self._lock:
            return (self._cal_files.get(file_id) or _CalFileState()).status

    def _cal_downloads(self, params, query, headers, body):
        publisher = self._check_cal_token(headers)
        return json_response(200, {"availableDownloads": self._cal_entries(publisher, "impression")})

    def _cal_bidevents(self, params, query, headers, body):
        publisher = self._check_cal_token(headers)
        return json_response(200, {"availableDownloads": self._cal_entries(publisher, "bid")})

    def _cal_file(self, params, query, headers, body):
        publisher = self._check_cal_token(headers)
        file_id = self._int_param(params["id"], "file")
        owner, _, _, _ = self._cal_locate(file_id)
        if owner != publisher:
            raise SimError(403, f"file {file_id} belongs to another account")
        content, _ = self._cal_content(file_id)

        def mark_downloaded():
            with self._lock:
                self._cal_files.setdefault(file_id, _CalFileState()).status = "downloaded"
                self._downloads[("cal", file_id)] += 1

        return Response(200, content, {"Content-Type": "application/octet-stream"}, on_full_send=mark_downloaded)

    def _cal_mapping(self, params, query, headers, body):
        publisher = self._check_cal_token(headers)
        name = params["name"]
        if name not in CAL_MAPPINGS:
            raise SimError(404, f"unknown mapping {name}")
        return json_response(200, {"data": self.world.mapping(name, publisher)})

    def _exchange_rates(self, params, query, headers, body):
        self._check_cal_token(headers)
        if not self.config.exchange_rates_enabled:
            raise SimError(403, "exchange rates are not enabled for this account")
        date_text = query.get("date", [None])[-1]
        try:
            date = dt.date.fromisoformat(date_text) if date_text else self.today()
        except ValueError:
            raise SimError(400, f"date must be YYYY-MM-DD, got {date_text!r}")
        currency = query.get("currency", [None])[-1]
        if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
            raise SimError(400, f"currency must be a three-letter code, got {currency!r}")
        return json_response(200, {"data": self.world.exchange_rates(date, currency)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when dozens of clients
    # connect at once, which the real service does not do.
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # A client that gave up (timed out, hung up) is ordinary in tests of retries.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, TimeoutError)):
            log.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "IXSimulator/1.0"
    timeout = 30            # an idle keep-alive connection's thread ends after this
    simulator = None        # set on the bound subclass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm
        # and the client's delayed ACK add 40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method):
        sim = self.simulator
        length = self.headers.get("Content-Length")
        try:
            body = self.rfile.read(int(length)) if length else b""
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return
        if sim.config.latency > 0:
            time.sleep(sim.config.latency)
        endpoint, response, fault = sim.handle(method, self.path, self.headers, body)
        if response is None:            # "drop": no answer at all
            self.close_connection = True
            return
        content = response.body
        if fault == "corrupt" and content:
            content = bytes([content[0] ^ 0xFF]) + content[1:]
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if method == "HEAD":
            return
        if fault == "truncate":
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "drip":
            for offset in range(len(content)):
                try:
                    self.wfile.write(content[offset:offset + 1])
                    self.wfile.flush()
                except OSError:          # the client gave up
                    break
                time.sleep(DRIP_SECONDS)
            self.close_connection = True
            return
        # Mark the download before the body goes out, so a client that has the whole body
        # never sees the old status; a truncated answer (above) marks nothing.
        if response.on_full_send and response.status == 200 and fault is None:
            response.on_full_send()
        self.wfile.write(content)

    def log_message(self, fmt, *args):
        log.debug("%s %s", self.address_string(), fmt % args)
