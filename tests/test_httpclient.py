"""The suite's HTTP client against the simulator over real HTTP: retries, backoff,
Retry-After, the bound on waiting, truncated bodies, typed errors."""

import io
import time

import pytest

import authenticationAPI
from errors import (ApiUnavailableError, AuthenticationError, BadRequestError, NotFoundError,
                    PermissionDeniedError, RateLimitedError, ServerError)
from httpclient import BoundedRetry, HttpClient, same_origin
from utility import SUITE_NAME, SUITE_VERSION

REPORTING = "/api/reporting/agg/v1"


@pytest.fixture
def token(sim, http):
    return authenticationAPI.login(http, sim.base_url, sim.world.username, sim.world.password)["access_token"]


def specs(http, sim, token):
    return http.request("GET", sim.base_url + REPORTING + "/report-specs/info", "list report specs", bearer=token)


def test_success_and_user_agent(sim, http, token):
    assert specs(http, sim, token).json()[0]["reportID"] == 1965885
    agents = sim.stats()["user_agents"]
    assert agents == {f"{SUITE_NAME}/{SUITE_VERSION} " + next(iter(agents)).split(" ", 1)[1]: 2}
    assert next(iter(agents)).startswith(f"{SUITE_NAME}/{SUITE_VERSION} python-requests/")


def test_429_is_retried_after_the_servers_retry_after(sim, http, token):
    sim.faults.add("spec_list", "429", count=2, retry_after=1)
    started = time.monotonic()
    assert specs(http, sim, token).status_code == 200
    assert time.monotonic() - started >= 2.0
    assert sim.stats()["calls"]["spec_list"] == 3


def test_retry_after_zero_or_missing_means_own_backoff_never_at_once(sim, token):
    http = HttpClient(timeout=5, max_wait=5, backoff_factor=0.3, backoff_max=1, jitter=0)
    sim.faults.add("spec_list", "429", count=1, retry_after=0)
    sim.faults.add("spec_list", "429", count=1)
    started = time.monotonic()
    assert specs(http, sim, token).status_code == 200
    assert time.monotonic() - started >= 0.3 + 0.6   # first and second backoff
    assert sim.stats()["calls"]["spec_list"] == 3


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_server_errors_are_retried(sim, http, token, status):
    sim.faults.add("spec_list", status, count=3)
    assert specs(http, sim, token).status_code == 200
    assert sim.stats()["calls"]["spec_list"] == 4


def test_a_500_storm_ends_in_server_error_within_the_bound(sim, token):
    http = HttpClient(timeout=5, max_wait=1.0, backoff_factor=0.1, backoff_max=0.4, jitter=0)
    sim.faults.add("spec_list", "500", count=1000)
    with pytest.raises(ServerError) as caught:
        specs(http, sim, token)
    err = caught.value
    assert err.status == 500 and err.endpoint == "list report specs"
    assert "list report specs" in str(err) and "HTTP 500" in str(err) and token not in str(err)
    assert 3 <= sim.stats()["calls"]["spec_list"] <= 8


def test_retry_after_longer_than_the_bound_gives_up_at_once(sim, http, token):
    sim.faults.add("spec_list", "429", count=5, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        specs(http, sim, token)
    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == "3600" and "3600" in str(caught.value)
    assert sim.stats()["calls"]["spec_list"] == 1


def test_dropped_connections_are_retried(sim, http, token):
    sim.faults.add("spec_list", "drop", count=2)
    assert specs(http, sim, token).status_code == 200
    assert sim.stats()["calls"]["spec_list"] == 3


def test_connection_refused_ends_in_unavailable(http):
    from mariadb_server import free_port
    with pytest.raises(ApiUnavailableError, match="connection failed"):
        http.request("GET", f"http://127.0.0.1:{free_port()}/x", "nothing there")


def test_timeouts_end_in_unavailable(sim, token):
    http = HttpClient(timeout=0.2, max_wait=0.5, backoff_factor=0.05, backoff_max=0.1, jitter=0)
    sim.configure(latency=0.5)
    with pytest.raises(ApiUnavailableError) as caught:
        specs(http, sim, token)
    assert "timed out" in str(caught.value).lower()


def test_truncated_body_is_fetched_again(sim, http, token):
    sim.faults.add("spec_list", "truncate")
    assert specs(http, sim, token).json()[0]["reportID"] == 1965885
    assert sim.stats()["calls"]["spec_list"] == 2


def test_truncated_download_is_fetched_again_into_a_clean_file(sim, http, token):
    base = sim.base_url + REPORTING
    spec = http.request("GET", base + "/report-specs/json/1965885", "get spec", bearer=token).json()["reportDefinition"]
    spec_id = http.request("POST", base + "/report-specs", "create", bearer=token, json=spec).json()["reportSpecID"]
    file_id = http.request("POST", base + "/report-runs", "run", bearer=token, json={"reportID": spec_id}).json()["reportRunID"]
    expected = http.request("GET", base + f"/report-files/download/{file_id}", "download", bearer=token).content
    sim.faults.add("file_download", "truncate", count=2)
    target = io.BytesIO()
    size = http.download(base + f"/report-files/download/{file_id}", "download report file", target, bearer=token)
    assert size == len(expected) and target.getvalue() == expected


def test_truncation_every_time_ends_in_unavailable(sim, http, token):
    sim.faults.add("spec_list", "truncate", count=100)
    with pytest.raises(ApiUnavailableError, match="cut short"):
        specs(http, sim, token)


def test_typed_errors(sim, http, token):
    base = sim.base_url + REPORTING
    with pytest.raises(NotFoundError) as not_found:
        http.request("GET", base + "/report-specs/json/42", "get report spec", bearer=token)
    assert "get report spec" in str(not_found.value) and "HTTP 404" in str(not_found.value)
    with pytest.raises(PermissionDeniedError):
        http.request("GET", base + "/report-specs/json/1965888", "get report spec", bearer=token)
    with pytest.raises(BadRequestError) as bad:
        http.request("POST", base + "/report-specs", "create report spec", bearer=token, json={"accounts": []})
    assert bad.value.code == "RSE-4001" and "accounts" in str(bad.value)
    with pytest.raises(AuthenticationError):
        http.request("GET", base + "/report-specs/info", "list report specs", bearer="garbage")
    # Client errors are not retried.
    assert sim.stats()["calls"]["spec_create"] == 1 and sim.stats()["calls"]["spec_get"] == 2


def test_bad_login_names_no_password(sim, http):
    with pytest.raises(AuthenticationError) as caught:
        authenticationAPI.login(http, sim.base_url, sim.world.username, "Wrong-Secret-123")
    assert "INVALID_CREDENTIALS" in str(caught.value)
    assert "Wrong-Secret-123" not in str(caught.value)


def test_first_retry_waits_and_waits_double_with_jitter():
    retry = BoundedRetry(total=10, backoff_factor=0.5, backoff_max=3, backoff_jitter=0.25, max_wait=100)
    waits = []
    for _ in range(5):
        retry = retry.increment(method="GET", url="/x", error=ConnectionError("boom"))
        waits.append(retry.next_wait)
    for wait, base in zip(waits, [0.5, 1.0, 2.0, 3.0, 3.0]):
        assert base <= wait <= base + 0.25


def test_no_retry_whose_wait_ends_past_the_bound():
    from urllib3.exceptions import MaxRetryError
    retry = BoundedRetry(total=10, backoff_factor=2, backoff_max=60, backoff_jitter=0, max_wait=5)
    retry = retry.increment(method="GET", url="/x", error=ConnectionError("boom"))   # waits 2
    retry = retry.increment(method="GET", url="/x", error=ConnectionError("boom"))   # waits 4: 0 + 4 <= 5
    with pytest.raises(MaxRetryError) as caught:
        retry.increment(method="GET", url="/x", error=ConnectionError("boom"))       # 8 > 5
    assert "boom" in str(caught.value.reason) and "bound of 5 s" in str(caught.value.reason)


def test_same_origin():
    assert same_origin("https://app.indexexchange.com/api/cal/v1/files/1", "https://app.indexexchange.com")
    assert same_origin("http://127.0.0.1:8480/x", "http://127.0.0.1:8480/")
    assert not same_origin("https://evil.example/api/cal/v1/files/1", "https://app.indexexchange.com")
    assert not same_origin("http://app.indexexchange.com/x", "https://app.indexexchange.com")
    assert not same_origin("http://127.0.0.1:9999/x", "http://127.0.0.1:8480")


def test_an_outage_is_one_log_line_and_its_end_another(sim, token, caplog):
    http = HttpClient(timeout=5, max_wait=5, backoff_factor=0.01, backoff_max=0.02, jitter=0)
    sim.faults.add("spec_list", "503", count=6)
    with caplog.at_level("DEBUG", logger="httpclient"):
        for _ in range(3):
            specs(http, sim, token)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2, warnings
    assert "is not answering as it should (HTTP 503 on /api/reporting/agg/v1/report-specs/info)" in warnings[0]
    assert "answers again" in warnings[1]


def test_a_retry_after_of_zero_is_not_a_request_to_wait():
    assert "asks to wait" not in str(RateLimitedError("list report specs", 429, "slow down", retry_after="0"))
    assert "(server asks to wait 30 s)" in str(RateLimitedError("list report specs", 429, "slow down", retry_after="30"))
