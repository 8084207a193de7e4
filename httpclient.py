"""The one HTTP client of the suite: requests with urllib3's Retry.

Every call has a timeout. 429, 5xx and connection errors are retried with exponential
backoff and jitter, honouring Retry-After (0 or missing means our own backoff, never
"at once"); all the waiting of one call is bounded by `max_wait`, and a Retry-After
longer than what is left ends the call at once with RateLimitedError. A body cut short
is fetched again within the same budget. TLS is always verified. Failures are the typed
exceptions of errors.py, naming endpoint and status, never a secret.
"""

import logging
import random
import threading
import time
import urllib.parse

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from errors import (ApiError, ApiUnavailableError, AuthenticationError, BadRequestError, NotFoundError,
                    PermissionDeniedError, RateLimitedError, ServerError)
from utility import SUITE_NAME, SUITE_VERSION

log = logging.getLogger("httpclient")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryBudgetExceeded(Exception):
    """The next wait would pass the call's bound on total waiting."""


class BoundedRetry(Retry):
    """urllib3's Retry with the suite's rules on waiting.

    - the first retry waits too (urllib3 retries the first at once): backoff_factor,
      then doubling, capped at backoff_max, plus up to `backoff_jitter` seconds;
    - Retry-After 0 or missing means that backoff;
    - retrying ends `max_wait` seconds after the first failure: a retry whose wait would
      end later is not made, and the last answer (or error) stands.
    """

    def __init__(self, *args, max_wait=300.0, first_failure=None, on_retry=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait
        self.first_failure = first_failure
        self.on_retry = on_retry          # on_retry(url, what failed, seconds to wait)
        self.next_wait = 0.0

    def new(self, **kwargs):
        kwargs.setdefault("max_wait", self.max_wait)
        kwargs.setdefault("first_failure", self.first_failure)
        kwargs.setdefault("on_retry", self.on_retry)
        return super().new(**kwargs)

    def get_backoff_time(self):
        failures = len(self.history)
        if failures == 0:
            return 0.0
        value = min(self.backoff_max, self.backoff_factor * (2 ** (failures - 1)))
        return value + random.uniform(0, self.backoff_jitter)

    def _retry_after(self, response):
        if response is None or not self.respect_retry_after_header:
            return None
        try:
            return self.get_retry_after(response)
        except Exception:  # an unparseable Retry-After: fall back to our own backoff
            return None

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        new = super().increment(method=method, url=url, response=response, error=error,
                                _pool=_pool, _stacktrace=_stacktrace)
        now = time.monotonic()
        new.first_failure = self.first_failure or now
        retry_after = self._retry_after(response)
        wait = retry_after if retry_after else new.get_backoff_time()
        last = f"HTTP {response.status}" if response is not None else _reason(error) if error else "failure"
        if now - new.first_failure + wait > self.max_wait:
            raise MaxRetryError(_pool, url, RetryBudgetExceeded(
                f"{last}; retrying for {wait:.1f} s more would pass the bound of {self.max_wait:g} s"))
        new.next_wait = wait
        if self.on_retry:
            # urllib3 gives the path alone; the host is the pool's.
            host = f"{_pool.scheme}://{_pool.host}:{_pool.port}" if _pool is not None else ""
            self.on_retry(url if "://" in (url or "") else host + (url or ""), last, wait)
        return new

    def sleep(self, response=None):
        if self.next_wait > 0:
            time.sleep(self.next_wait)


def _server_message(response):
    """The server's own words from an error answer, whatever its shape."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        if not text or "<html" in text[:200].lower():
            return f"{response.reason or 'error'} (no JSON body)"
        return text[:200]
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body["message"]
        error = body.get("error")
        if isinstance(error, list) and error and isinstance(error[0], dict):
            return f"{error[0].get('code', '')}: {error[0].get('message', '')}".strip(": ")
        if isinstance(error, str):
            return f"{error}: {body.get('error_description', '')}".rstrip(": ")
    return str(body)[:200]


def raise_for_answer(endpoint, response):
    """Return quietly on 2xx; otherwise raise the typed error for the status."""
    status = response.status_code
    if 200 <= status < 300:
        return
    path = urllib.parse.urlsplit(response.url).path if response.url else None
    message = _server_message(response)
    if status == 400:
        code = None
        try:
            body = response.json()
            code = body.get("code") if isinstance(body, dict) else None
        except ValueError:
            pass
        raise BadRequestError(endpoint, status, message, path, code=code)
    if status == 401:
        raise AuthenticationError(endpoint, status, message, path)
    if status == 403:
        raise PermissionDeniedError(endpoint, status, message, path)
    if status == 404:
        raise NotFoundError(endpoint, status, message, path)
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        raise RateLimitedError(endpoint, status, message, path, retry_after=retry_after)
    if status >= 500:
        raise ServerError(endpoint, status, message, path)
    raise ApiError(endpoint, status, message, path)


def json_answer(endpoint, response):
    """The parsed JSON of a 2xx answer; ApiError naming the endpoint when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise ApiError(endpoint, response.status_code, "answer is not JSON") from None


class HttpClient:
    """Shared by all threads of a program (one connection pool)."""

    def __init__(self, timeout=60.0, max_wait=300.0, backoff_factor=1.0, backoff_max=60.0, jitter=1.0,
                 total_retries=10, pool_size=64, download_timeout=900.0):
        self.timeout = timeout
        self.max_wait = max_wait
        # `timeout` bounds each wait for bytes; this bounds a whole download, since a server
        # that sends a byte now and then never lets a single wait run out.
        self.download_timeout = download_timeout
        self.backoff_factor, self.backoff_max, self.jitter = backoff_factor, backoff_max, jitter
        self.retry = BoundedRetry(
            total=total_retries, connect=total_retries, read=total_retries, status=total_retries, other=0,
            redirect=3, allowed_methods=None, status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor, backoff_max=backoff_max, backoff_jitter=jitter,
            respect_retry_after_header=True, raise_on_status=False, max_wait=max_wait, on_retry=self._retrying)
        # One log line when the server starts failing, one when it answers again: not a
        # line for every retry of every call (a cron mail of hundreds of lines says less).
        self._outage_lock = threading.Lock()
        self._outage_since = None
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"{SUITE_NAME}/{SUITE_VERSION} python-requests/{requests.__version__}"
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=self.retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def _retrying(self, url, failure, wait):
        with self._outage_lock:
            starting = self._outage_since is None
            if starting:
                self._outage_since = time.monotonic()
        parts = urllib.parse.urlsplit(url)
        if starting:
            log.warning("%s is not answering as it should (%s on %s); retrying, each call for up to %g s",
                        parts.netloc, failure, parts.path, self.max_wait)
        else:
            log.debug("%s on %s; retrying in %.1f s", failure, parts.path, wait)

    def _answered(self, url):
        if self._outage_since is None:
            return
        with self._outage_lock:
            since, self._outage_since = self._outage_since, None
        if since is not None:
            log.warning("%s answers again (after %.0f s)", urllib.parse.urlsplit(url).netloc,
                        time.monotonic() - since)

    @classmethod
    def from_settings(cls, settings, **overrides):
        options = dict(timeout=float(settings.integer("INDEXEXCHANGETIMEOUT", minimum=1)),
                       max_wait=float(settings.integer("INDEXEXCHANGEMAXRETRYWAIT")),
                       download_timeout=float(settings.integer("INDEXEXCHANGEDOWNLOADTIMEOUT", minimum=1)))
        options.update(overrides)
        return cls(**options)

    def close(self):
        self.session.close()

    @staticmethod
    def _headers(bearer, basic, headers):
        merged = dict(headers or {})
        if bearer:
            merged["Authorization"] = f"Bearer {bearer}"
        elif basic:
            merged["Authorization"] = f"Basic {basic}"
        return merged

    def _send(self, method, url, endpoint, stream, **kwargs):
        """One request with the adapter's retries; transport failures become ApiUnavailableError."""
        path = urllib.parse.urlsplit(url).path
        started = time.monotonic()
        try:
            response = self.session.request(method, url, timeout=(min(10.0, self.timeout), self.timeout),
                                            stream=stream, allow_redirects=False, **kwargs)
        except requests.exceptions.SSLError as err:
            raise ApiUnavailableError(endpoint, None, f"TLS verification failed: {_reason(err)}", path) from None
        except requests.exceptions.RetryError as err:
            raise ApiUnavailableError(endpoint, None, f"gave up retrying: {_reason(err)}", path) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
            raise ApiUnavailableError(endpoint, None, f"connection failed after retries: {_reason(err)}",
                                      path) from None
        log.debug("%s %s -> %s in %.0f ms", method, path, response.status_code, (time.monotonic() - started) * 1000)
        if response.status_code not in RETRY_STATUSES:
            self._answered(url)
        return response

    def request(self, method, url, endpoint, *, bearer=None, basic=None, headers=None, **kwargs):
        """Send and return the (2xx) requests.Response with its body read; raise otherwise.

        `endpoint` names the call in errors ("create report spec"). kwargs go to
        requests (json, data, params).
        """
        headers = self._headers(bearer, basic, headers)

        def once():
            response = self._send(method, url, endpoint, stream=False, headers=headers, **kwargs)
            raise_for_answer(endpoint, response)
            return response

        return self._again_if_cut_short(endpoint, url, once)

    def download(self, url, endpoint, fileobj, *, bearer=None, headers=None, chunk_size=1 << 16):
        """Stream a body into `fileobj` (seekable, binary); return the number of bytes.

        A body cut short is fetched again from the start, within the call's bound. The whole
        download, retries included, ends after `download_timeout` seconds however the server
        sends (ApiUnavailableError saying so).
        """
        headers = self._headers(bearer, None, headers)
        deadline = time.monotonic() + self.download_timeout

        def once():
            response = self._send("GET", url, endpoint, stream=True, headers=headers)
            try:
                raise_for_answer(endpoint, response)
                fileobj.seek(0)
                fileobj.truncate()
                size = 0
                for chunk in self._body(response, chunk_size):
                    fileobj.write(chunk)
                    size += len(chunk)
                    if time.monotonic() > deadline:
                        raise ApiUnavailableError(
                            endpoint, response.status_code, f"the download took longer than {self.download_timeout:g} s "
                            f"({size:,} bytes had come); the server sends too slowly",
                            urllib.parse.urlsplit(url).path)
                return size
            finally:
                response.close()

        return self._again_if_cut_short(endpoint, url, once)

    @staticmethod
    def _body(response, chunk_size):
        """The body in pieces as they arrive (read1: a slow server's byte is handed over at
        once, not held until a whole chunk came), with urllib3's errors as requests' own."""
        import urllib3.exceptions
        raw = response.raw
        while True:
            try:
                chunk = raw.read1(chunk_size)
            except urllib3.exceptions.ProtocolError as err:       # cut short, dropped
                raise requests.exceptions.ChunkedEncodingError(err) from None
            except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.SSLError, OSError) as err:
                raise requests.exceptions.ConnectionError(err) from None
            except urllib3.exceptions.DecodeError as err:
                raise requests.exceptions.ContentDecodingError(err) from None
            if not chunk:
                return
            yield chunk

    def _again_if_cut_short(self, endpoint, url, once, attempts=5):
        """Run `once`; when the body was cut short (dropped mid-body, fewer bytes than
        Content-Length), wait with backoff and run it again, within `max_wait`."""
        waited = 0.0
        for attempt in range(1, attempts + 1):
            try:
                return once()
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                    requests.exceptions.ConnectionError) as err:
                failure = err
            wait = min(self.backoff_max, self.backoff_factor * 2 ** (attempt - 1)) + random.uniform(0, self.jitter)
            if attempt == attempts or waited + wait > self.max_wait:
                break
            self._retrying(url, f"answer cut short ({_reason(failure)})", wait)
            time.sleep(wait)
            waited += wait
        raise ApiUnavailableError(endpoint, None, f"answer cut short {attempt} times: {_reason(failure)}",
                                  urllib.parse.urlsplit(url).path)


def _reason(err):
    """The innermost cause of a requests/urllib3 error, without the URL's query."""
    cause = err
    while True:
        inner = getattr(cause, "reason", None) or (cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None)
        if inner is None or inner is cause:
            break
        cause = inner
    return f"{type(cause).__name__}: {cause}"[:300]


def same_origin(url, base_url):
    """True when `url` is on the host (scheme, host and port) of `base_url`."""
    a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base_url)
    return (a.scheme, a.hostname, a.port or _default_port(a.scheme)) == \
        (b.scheme, b.hostname, b.port or _default_port(b.scheme))


def _default_port(scheme):
    return {"http": 80, "https": 443}.get(scheme)
