"""Tokens that look after themselves, and calls that carry them.

ReportingTokens logs in with the username and password, refreshes before the access
token expires, and logs in afresh when the refresh is refused. CalTokens asks for a new
token per API key before the old one expires (CAL has no refresh). Both are safe to
share between threads: one thread renews, the others wait for its result.

AuthorizedSession sends a request with the current token and, after a 401, renews
the token and tries again, up to RENEWALS_PER_CALL times.
"""

import contextlib
import logging
import threading
import time

import authenticationAPI
from errors import AuthenticationError, CredentialsRefusedError

log = logging.getLogger("authentication")

# A call whose token is refused is tried again with a renewed one this many times.
RENEWALS_PER_CALL = 3
# Renew this long before expiry: a minute, or a fifth of a short lifetime.
MAX_RENEW_MARGIN = 60.0


def _renew_margin(lifetime):
    return min(MAX_RENEW_MARGIN, lifetime / 5.0)


class ReportingTokens:
    def __init__(self, http, base_url, username, password, clock=time.monotonic):
        self._http, self._base_url = http, base_url
        self._username, self._password = username, password
        self._clock = clock
        self._lock = threading.Lock()
        self._access = None
        self._refresh = None
        self._renew_at = 0.0
        self.logins = 0
        self.refreshes = 0

    def _store(self, answer):
        self._access = answer["access_token"]
        self._refresh = answer.get("refresh_token") or self._refresh
        lifetime = float(answer["expires_in"])
        self._renew_at = self._clock() + lifetime - _renew_margin(lifetime)

    def _login(self):
        try:
            answer = authenticationAPI.login(self._http, self._base_url, self._username, self._password)
        except AuthenticationError as err:
            raise CredentialsRefusedError(err.endpoint, err.status,
                                      f"Index Exchange refused the login of {self._username} "
                                      f"(check INDEXEXCHANGEUSERNAME and INDEXEXCHANGEPASSWORD): "
                                      f"{err.server_message}", err.path) from None
        self.logins += 1
        self._store(answer)
        log.debug("logged in to Index Exchange as %s", self._username)

    def token(self):
        """A current access token, renewed first when it is about to expire."""
        with self._lock:
            if self._access is None:
                self._login()
            elif self._clock() >= self._renew_at:
                if self._refresh:
                    try:
                        self._store(authenticationAPI.refresh(self._http, self._base_url, self._refresh))
                        self.refreshes += 1
                        log.debug("refreshed the Index Exchange access token")
                    except AuthenticationError:
                        log.debug("refresh refused; logging in again")
                        self._login()
                else:
                    self._login()
            return self._access

    def invalidate(self, token):
        """The server refused `token`: renew it at the next token() (once, however many
        threads saw the refusal)."""
        with self._lock:
            if token == self._access:
                self._renew_at = 0.0


class CalTokens:
    """Bearer tokens for one CAL API key."""

    def __init__(self, http, identity_url, api_key, clock=time.monotonic, label="CAL"):
        self._http, self._identity_url, self._api_key = http, identity_url, api_key
        self._clock = clock
        self._label = label
        self._lock = threading.Lock()
        self._access = None
        self._renew_at = 0.0
        self.requests = 0

    def token(self):
        with self._lock:
            if self._access is None or self._clock() >= self._renew_at:
                answer = authenticationAPI.cal_token(self._http, self._identity_url, self._api_key)
                self.requests += 1
                lifetime = float(answer["expires_in"])
                self._access = answer["access_token"]
                self._renew_at = self._clock() + lifetime - _renew_margin(lifetime)
                log.debug("new CAL token for %s", self._label)
            return self._access

    def invalidate(self, token):
        with self._lock:
            if token == self._access:
                self._renew_at = 0.0


class AuthorizedSession:
    """Requests to one API host with a token source's bearer token."""

    def __init__(self, http, base_url, tokens):
        self.http, self.base_url, self.tokens = http, base_url.rstrip("/"), tokens

    def url(self, path):
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def _with_token(self, call):
        for renewal in range(RENEWALS_PER_CALL + 1):
            token = self.tokens.token()
            try:
                return call(token)
            except AuthenticationError:
                # Refused before its time (revoked, clock skew): renew and try again. The
                # new token can be revoked too while many threads work (it happens), so
                # again, but boundedly: a server refusing every token is an error.
                if renewal == RENEWALS_PER_CALL:
                    raise
                self.tokens.invalidate(token)

    def request(self, method, path, endpoint, **kwargs):
        return self._with_token(lambda token: self.http.request(method, self.url(path), endpoint,
                                                                bearer=token, **kwargs))

    def download(self, path, endpoint, fileobj):
        return self._with_token(lambda token: self.http.download(self.url(path), endpoint, fileobj, bearer=token))


def reporting_session(http, settings):
    """An AuthorizedSession on the reporting API with the configured credentials."""
    base_url = settings.url("INDEXEXCHANGEBASEURL")
    tokens = ReportingTokens(http, base_url, settings.require("INDEXEXCHANGEUSERNAME"),
                             settings.require("INDEXEXCHANGEPASSWORD"))
    return AuthorizedSession(http, base_url, tokens)


@contextlib.contextmanager
def open_reporting_session(settings):
    """An AuthorizedSession on the reporting API for a script, its HTTP client closed after."""
    from httpclient import HttpClient
    http = HttpClient.from_settings(settings)
    try:
        yield reporting_session(http, settings)
    finally:
        http.close()
