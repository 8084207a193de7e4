"""The simulator's knobs, fault plan, counters and behaviour under concurrent clients."""

import hashlib
import threading
import time

import pytest
import requests

from simclient import REPORTING, RawClient, spec_for


@pytest.fixture
def client(sim):
    c = RawClient(sim)
    c.login()
    return c


def make_spec(client, sim, title="Knob test"):
    return client.create_spec(spec_for(client, sim.world.publisher_ids[0], title)).json()["reportSpecID"]


def test_unknown_knob_or_fault_is_refused(sim):
    with pytest.raises(ValueError, match="unknown simulator setting"):
        sim.configure(run_dealy=1)
    with pytest.raises(ValueError, match="unknown endpoint"):
        sim.faults.add("logon", "500")
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.faults.add("login", "418")


def test_429_with_retry_after_for_the_next_n_calls(sim, client):
    sim.faults.add("spec_list", "429", count=2, retry_after=7)
    for _ in range(2):
        response = client.call("GET", f"{REPORTING}/report-specs/info")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 200
    assert sim.stats()["faults_served"] == {"spec_list": 2}
    assert sim.stats()["calls"]["spec_list"] == 3


def test_429_without_retry_after(sim, client):
    sim.faults.add("spec_list", "429")
    response = client.call("GET", f"{REPORTING}/report-specs/info")
    assert response.status_code == 429 and "Retry-After" not in response.headers


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_server_errors_have_non_json_bodies(sim, client, status):
    sim.faults.add("*", status)
    response = client.call("GET", f"{REPORTING}/report-specs/info")
    assert response.status_code == int(status)
    with pytest.raises(ValueError):
        response.json()


def test_faulted_call_changes_no_state(sim, client):
    sim.faults.add("spec_create", "503")
    assert client.create_spec(spec_for(client, sim.world.publisher_ids[0])).status_code == 503
    assert sim.stats()["saves"] == 0


def test_drop_closes_the_connection_without_an_answer(sim, client):
    sim.faults.add("login", "drop")
    with pytest.raises(requests.ConnectionError):
        client.login()
    assert client.login().status_code == 200


def test_truncated_body_fails_and_leaves_the_file_new(sim, client):
    file_id = client.run(make_spec(client, sim)).json()["reportRunID"]
    sim.faults.add("file_download", "truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.download(file_id)
    assert client.files().json()[0]["downloadStatus"] == "new"
    assert client.download(file_id).status_code == 200
    assert client.files().json()[0]["downloadStatus"] == "downloaded"


def test_corrupt_body_breaks_the_md5(sim, client):
    file_id = client.run(make_spec(client, sim)).json()["reportRunID"]
    expected = client.files().json()[0]["hash"]
    sim.faults.add("file_download", "corrupt")
    assert hashlib.md5(client.download(file_id).content).hexdigest() != expected
    assert hashlib.md5(client.download(file_id).content).hexdigest() == expected


def test_faults_apply_in_order_added(sim, client):
    sim.faults.add("spec_list", "500")
    sim.faults.add("*", "429", retry_after=0)
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 500
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 429
    assert sim.faults.pending() == []


def test_latency_is_added_to_each_request(sim, client):
    sim.configure(latency=0.2)
    started = time.monotonic()
    client.call("GET", f"{REPORTING}/report-specs/info")
    assert time.monotonic() - started >= 0.2


def test_runs_in_progress_limit(sim, client):
    sim.configure(run_delay=10, max_runs_in_progress=2)
    spec_id = make_spec(client, sim)
    assert client.run(spec_id).status_code == 201
    sim.advance_clock(4)
    assert client.run(spec_id).status_code == 201
    refused = client.run(spec_id)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "6"
    assert sim.stats()["runs_in_progress"] == 2
    sim.advance_clock(6)
    assert client.run(spec_id).status_code == 201
    stats = sim.stats()
    assert stats["peak_runs_in_progress"] == 2 and stats["runs"] == 3


def test_daily_save_limit(sim, client):
    sim.configure(max_saves_per_day=2)
    spec = spec_for(client, sim.world.publisher_ids[0])
    spec_id = client.create_spec(spec).json()["reportSpecID"]
    assert client.call("PATCH", f"{REPORTING}/report-specs/{spec_id}", json=spec).status_code == 200
    refused = client.create_spec(spec)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 16 * 3600  # until midnight UTC from 08:00
    assert sim.stats()["saves_today"] == 2
    sim.advance_clock(16 * 3600)
    client.login()
    assert client.create_spec(spec).status_code == 201
    assert sim.stats()["saves"] == 3 and sim.stats()["saves_today"] == 1


def test_knobs_change_while_running(sim, client):
    spec_id = make_spec(client, sim)
    sim.configure(run_delay=60)
    file_id = client.run(spec_id).json()["reportRunID"]
    assert client.download(file_id).status_code == 404
    sim.configure(run_delay=0)
    assert client.download(client.run(spec_id).json()["reportRunID"]).status_code == 200


def test_concurrent_clients_get_distinct_ids_and_exact_counts(sim):
    sim.configure(run_delay=5, max_runs_in_progress=50)
    threads, errors, results = [], [], []
    lock = threading.Lock()

    def worker(n):
        try:
            c = RawClient(sim)
            assert c.login().status_code == 200
            for k in range(5):
                spec_id = c.create_spec(spec_for(c, sim.world.publisher_ids[n % 4], f"Worker {n} {k}")).json()["reportSpecID"]
                run = c.run(spec_id)
                assert run.status_code == 201
                with lock:
                    results.append((spec_id, run.json()["reportRunID"]))
        except Exception as err:  # collected and reported by the main thread
            errors.append(err)

    for n in range(8):
        threads.append(threading.Thread(target=worker, args=(n,)))
        threads[-1].start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({s for s, _ in results}) == 40 and len({f for _, f in results}) == 40
    stats = sim.stats()
    assert stats["saves"] == 40 and stats["runs"] == 40 and stats["calls"]["login"] == 8
    assert stats["peak_runs_in_progress"] == 40
    sim.advance_clock(5)
    c = RawClient(sim)
    c.login()
    assert len(c.files().json()) == 40


def test_reset_stats(sim, client):
    client.call("GET", f"{REPORTING}/report-specs/info")
    sim.reset_stats()
    assert sim.stats()["calls"] == {}


def test_expire_fault_kills_tokens_just_before_the_call(sim, client):
    sim.faults.add("spec_list", "expire")
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 401
    client.login()
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 200
