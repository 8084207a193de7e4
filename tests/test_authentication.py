"""Token holders and authorized calls against the simulator."""

import threading

import pytest

import authenticationAPI
import settings
from authenticationSupport import RENEWALS_PER_CALL, AuthorizedSession, CalTokens, ReportingTokens, reporting_session
from errors import AuthenticationError

SPECS = "/api/reporting/agg/v1/report-specs/info"


class FakeClock:
    """The client's clock, moved by the test together with the simulator's."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def tokens(sim, http, clock):
    return ReportingTokens(http, sim.base_url, sim.world.username, sim.world.password, clock=clock)


def advance(sim, clock, seconds):
    sim.advance_clock(seconds)
    clock.now += seconds


def test_logs_in_once_and_reuses_the_token(sim, tokens):
    assert tokens.token() == tokens.token()
    assert sim.stats()["calls"] == {"login": 1}


def test_refreshes_before_expiry(sim, http, clock):
    sim.configure(access_token_lifetime=600)
    tokens = ReportingTokens(http, sim.base_url, sim.world.username, sim.world.password, clock=clock)
    first = tokens.token()
    advance(sim, clock, 600 - 61)             # renewal margin: min(60 s, a fifth of 600 s)
    assert tokens.token() == first
    advance(sim, clock, 2)
    second = tokens.token()
    assert second != first
    assert sim.stats()["calls"] == {"login": 1, "refresh": 1}
    session = AuthorizedSession(http, sim.base_url, tokens)
    assert session.request("GET", SPECS, "list report specs").status_code == 200


def test_refresh_refused_means_a_fresh_login(sim, tokens, clock):
    tokens.token()
    sim.expire_refresh_tokens()
    advance(sim, clock, 3600)
    assert tokens.token()
    assert sim.stats()["calls"] == {"login": 2, "refresh": 1}
    assert tokens.logins == 2 and tokens.refreshes == 0


def test_a_401_mid_run_renews_and_retries_once(sim, http, tokens):
    session = AuthorizedSession(http, sim.base_url, tokens)
    assert session.request("GET", SPECS, "list report specs").status_code == 200
    sim.expire_tokens()                       # the server drops tokens before their time
    assert session.request("GET", SPECS, "list report specs").status_code == 200
    calls = sim.stats()["calls"]
    assert calls["spec_list"] == 3 and calls["refresh"] == 1 and calls["login"] == 1


def test_a_token_revoked_again_during_the_retry_is_renewed_again(sim, http, tokens):
    session = AuthorizedSession(http, sim.base_url, tokens)
    tokens.token()
    sim.faults.add("spec_list", "expire", count=2)   # the renewed token dies too
    assert session.request("GET", SPECS, "list report specs").status_code == 200
    assert sim.stats()["calls"]["spec_list"] == 3


def test_refusing_every_token_is_an_error_not_a_loop(sim, http, tokens):
    session = AuthorizedSession(http, sim.base_url, tokens)
    tokens.token()
    sim.configure(access_token_lifetime=0)        # every token the server issues is already dead
    sim.expire_tokens()
    with pytest.raises(AuthenticationError):
        session.request("GET", SPECS, "list report specs")
    assert sim.stats()["calls"]["spec_list"] == 1 + RENEWALS_PER_CALL


def test_threads_share_one_renewal(sim, http, clock):
    sim.configure(access_token_lifetime=600)
    tokens = ReportingTokens(http, sim.base_url, sim.world.username, sim.world.password, clock=clock)
    tokens.token()
    advance(sim, clock, 590)
    seen, errors = [], []

    def worker():
        try:
            seen.append(tokens.token())
        except Exception as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(seen)) == 1
    assert sim.stats()["calls"] == {"login": 1, "refresh": 1}


def test_bad_password_names_the_settings_not_the_password(sim, http):
    tokens = ReportingTokens(http, sim.base_url, sim.world.username, "Not-The-Password-42")
    with pytest.raises(AuthenticationError) as caught:
        tokens.token()
    message = str(caught.value)
    assert "INDEXEXCHANGEPASSWORD" in message and sim.world.username in message
    assert "Not-The-Password-42" not in message


def test_reporting_session_from_settings(sim, http, tmp_path):
    env = {"HOME": str(tmp_path), "INDEXEXCHANGEBASEURL": sim.base_url,
           "INDEXEXCHANGEUSERNAME": sim.world.username, "INDEXEXCHANGEPASSWORD": sim.world.password}
    session = reporting_session(http, settings.load_settings(environ=env))
    assert session.request("GET", SPECS, "list report specs").json()[0]["reportID"] == 1965885


def test_cal_tokens_renew_before_expiry(sim, http, clock):
    publisher = sim.world.publisher_ids[0]
    tokens = CalTokens(http, sim.base_url, sim.world.api_keys[publisher], clock=clock)
    first = tokens.token()
    advance(sim, clock, 3600 - 61)
    assert tokens.token() == first
    advance(sim, clock, 2)
    assert tokens.token() != first
    session = AuthorizedSession(http, sim.base_url, tokens)
    assert "availableDownloads" in session.request("GET", "/api/cal/v1/downloads", "list CAL files").json()
    assert tokens.requests == 2


def test_cal_bad_key_is_authentication_error_without_the_key(sim, http):
    key = "c2VjcmV0LWNsaWVudDpzZWNyZXQtdmFsdWU="
    with pytest.raises(AuthenticationError) as caught:
        authenticationAPI.cal_token(http, sim.base_url, key)
    assert "unauthorized_client" in str(caught.value) and key not in str(caught.value)
