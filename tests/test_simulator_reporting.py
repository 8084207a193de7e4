"""The simulator's reporting API over real HTTP: login, specs, runs, files, errors."""

import csv
import gzip
import hashlib
import io
import zipfile

import pytest

from standins.ixsimulator import IXSimulator
from simclient import REPORTING, RawClient, spec_for
from conftest import SIM_START


@pytest.fixture
def client(sim):
    c = RawClient(sim)
    assert c.login().status_code == 200
    return c


def rows_of(csv_bytes):
    return list(csv.reader(io.StringIO(csv_bytes.decode("utf-8"), newline="")))


# --- authentication -----------------------------------------------------------------------

def test_login_returns_tokens_with_lifetime(sim):
    sim.configure(access_token_lifetime=120)
    response = RawClient(sim).login()
    assert response.status_code == 200
    auth = response.json()["loginResponse"]["authResponse"]
    assert auth["expires_in"] == 120
    assert auth["token_type"] == "Bearer"
    assert auth["access_token"] and auth["refresh_token"] and auth["id_token"]


def test_login_with_bad_credentials_is_401_with_error_list(sim):
    response = RawClient(sim).login(password="wrong")
    assert response.status_code == 401
    assert response.json()["error"][0]["code"] == "INVALID_CREDENTIALS"


def test_login_with_malformed_body_is_400(sim):
    c = RawClient(sim)
    response = c.session.post(sim.base_url + "/api/authentication/v1/login", data=b"{not json", timeout=5)
    assert response.status_code == 400
    assert "message" in response.json()


def test_refresh_rotates_the_refresh_token(client):
    old_refresh = client.auth["refresh_token"]
    response = client.session.post(client.base + "/api/authentication/v1/refresh",
                                   json={"refreshToken": old_refresh}, timeout=5)
    assert response.status_code == 200
    fresh = response.json()
    assert set(fresh) >= {"access_token", "refresh_token", "expires_in", "token_type"}
    assert fresh["refresh_token"] != old_refresh
    assert client.call("GET", f"{REPORTING}/report-specs/info", token=fresh["access_token"]).status_code == 200
    again = client.session.post(client.base + "/api/authentication/v1/refresh",
                                json={"refreshToken": old_refresh}, timeout=5)
    assert again.status_code == 401


def test_expired_refresh_token_is_401(client, sim):
    sim.expire_refresh_tokens()
    response = client.session.post(client.base + "/api/authentication/v1/refresh",
                                   json={"refreshToken": client.auth["refresh_token"]}, timeout=5)
    assert response.status_code == 401


@pytest.mark.parametrize("token", [None, "", "garbage-token"])
def test_missing_or_garbage_token_is_401(client, token):
    response = client.call("GET", f"{REPORTING}/report-specs/info", token=token or "")
    assert response.status_code == 401
    assert "message" in response.json()


def test_access_token_expires_on_the_simulator_clock(client, sim):
    sim.configure(access_token_lifetime=60)
    client.login()
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 200
    sim.advance_clock(61)
    response = client.call("GET", f"{REPORTING}/report-specs/info")
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_expire_tokens_knob_expires_current_tokens_only(client, sim):
    sim.expire_tokens()
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 401
    client.login()
    assert client.call("GET", f"{REPORTING}/report-specs/info").status_code == 200


# --- report specs ---------------------------------------------------------------------------

def test_templates_are_listed_without_the_hidden_account(client, sim):
    items = client.call("GET", f"{REPORTING}/report-specs/info").json()
    titles = {i["title"] for i in items}
    assert "Generic Revenue Report" in titles
    assert "Hidden account report" not in titles
    assert all(i["reportStatus"] == "saved" for i in items)


def test_create_get_update_list_deactivate(client, sim):
    account = sim.world.publisher_ids[1]
    spec = spec_for(client, account, "My report", myOwnKey={"kept": [1, 2]})
    created = client.create_spec(spec)
    assert created.status_code == 201
    spec_id = created.json()["reportSpecID"]
    assert isinstance(spec_id, int)

    fetched = client.call("GET", f"{REPORTING}/report-specs/json/{spec_id}")
    assert fetched.status_code == 200
    assert fetched.json()["reportDefinition"] == spec  # unknown keys come back as they went

    spec["reportTitle"] = "My report UPDATED"
    updated = client.call("PATCH", f"{REPORTING}/report-specs/{spec_id}", json=spec)
    assert updated.status_code == 200
    assert updated.json() == {"success": True, "reportSpecID": spec_id}
    assert sim.spec(spec_id)[0]["reportTitle"] == "My report UPDATED"

    listed = client.call("GET", f"{REPORTING}/report-specs/info", params={"accountIDs": str(account)}).json()
    assert [i["reportID"] for i in listed] == [spec_id]
    assert listed[0] == {"reportID": spec_id, "title": "My report UPDATED", "accounts": [account],
                         "reportStatus": "saved"}

    assert client.call("PUT", f"{REPORTING}/report-specs/{spec_id}/deactivate").status_code == 200
    assert spec_id not in [i["reportID"] for i in client.call("GET", f"{REPORTING}/report-specs/info").json()]
    assert client.call("PATCH", f"{REPORTING}/report-specs/{spec_id}", json=spec).status_code == 404
    assert client.run(spec_id).status_code == 404
    assert client.call("GET", f"{REPORTING}/report-specs/json/{spec_id}").status_code == 404
    assert client.call("PUT", f"{REPORTING}/report-specs/{spec_id}/deactivate").status_code == 404
    assert sim.stats()["saves"] == 2


def test_spec_deactivated_from_the_exchange_side(client, sim):
    spec_id = client.create_spec(spec_for(client, sim.world.publisher_ids[0])).json()["reportSpecID"]
    sim.deactivate_spec(spec_id)
    assert client.run(spec_id).status_code == 404


BAD_SPECS = [
    ("accounts two", {"accounts": [1, 2]}, "RSE-4001"),
    ("accounts string", {"accounts": ["180280"]}, "RSE-4001"),
    ("accounts bool", {"accounts": [True]}, "RSE-4001"),
    ("accounts missing", {"accounts": None}, "RSE-4001"),
    ("title comma", {"reportTitle": "Revenue, daily"}, "RSE-4002"),
    ("title colon", {"reportTitle": "Revenue 2026-06-05 08:00:00"}, "RSE-4002"),
    ("title non-ascii", {"reportTitle": "Intäkter"}, "RSE-4002"),
    ("title too long", {"reportTitle": "x" * 256}, "RSE-4002"),
    ("title empty", {"reportTitle": ""}, "RSE-4002"),
    ("file type", {"fileType": "csv.txt"}, "RSE-4003"),
    ("no fields", {"querySpec": {"fields": [], "filters": []}}, "RSE-4004"),
    ("no query spec", {"querySpec": None}, "RSE-4004"),
    ("date range empty", {"dateRange": {}}, "RSE-4010"),
    ("date range garbage", {"dateRange": {"from": "yesterday", "to": "today"}}, "RSE-4010"),
    ("date range from after to", {"dateRange": {"from": "2026-06-05", "to": "2026-06-05"}}, "RSE-4009"),
    ("previous zero", {"dateRange": {"previous": {"days": 0}}}, "RSE-4010"),
    ("current year", {"dateRange": {"current": "year"}}, "RSE-4010"),
]


@pytest.mark.parametrize("name,change,code", BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_invalid_spec_is_400_on_create_and_update(client, sim, name, change, code):
    good = spec_for(client, sim.world.publisher_ids[0])
    spec_id = client.create_spec(good).json()["reportSpecID"]
    bad = dict(good, **change)
    for response in (client.create_spec(bad),
                     client.call("PATCH", f"{REPORTING}/report-specs/{spec_id}", json=bad)):
        assert response.status_code == 400
        assert response.json()["code"] == code
        assert response.json()["message"]
    assert sim.spec(spec_id)[0] == good
    assert sim.stats()["saves"] == 1


def test_body_that_is_not_a_json_object_is_400(client):
    response = client.call("POST", f"{REPORTING}/report-specs", data=b"[1, 2]",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("date_range", [
    {"from": "2026-06-01", "to": "2026-06-03"}, {"current": "day"}, {"current": "month"},
    {"previous": {"days": 3}}, {"previous": {"weeks": 1}}])
def test_valid_date_ranges_are_accepted(client, sim, date_range):
    assert client.create_spec(spec_for(client, sim.world.publisher_ids[0], dateRange=date_range)).status_code == 201


def test_objects_of_a_hidden_account_are_403(client, sim):
    hidden = sim.world.hidden_publisher_id
    assert client.create_spec(spec_for(client, hidden)).status_code == 403
    hidden_spec = 1965888
    assert client.call("GET", f"{REPORTING}/report-specs/json/{hidden_spec}").status_code == 403
    assert client.run(hidden_spec).status_code == 403
    assert client.call("PUT", f"{REPORTING}/report-specs/{hidden_spec}/deactivate").status_code == 403
    spec_id = client.create_spec(spec_for(client, sim.world.publisher_ids[0])).json()["reportSpecID"]
    moved = spec_for(client, hidden)
    assert client.call("PATCH", f"{REPORTING}/report-specs/{spec_id}", json=moved).status_code == 403


@pytest.mark.parametrize("path", [
    f"{REPORTING}/report-specs/json/999", f"{REPORTING}/report-specs/json/abc",
    f"{REPORTING}/report-files/download/123", f"{REPORTING}/no-such-thing"])
def test_unknown_ids_and_paths_are_404(client, path):
    response = client.call("GET", path)
    assert response.status_code == 404
    assert "message" in response.json()


def test_wrong_method_is_405(client):
    response = client.call("DELETE", f"{REPORTING}/report-specs/1965885")
    assert response.status_code == 405
    assert "PATCH" in response.headers["Allow"]


# --- runs and files -------------------------------------------------------------------------

def test_run_file_becomes_ready_after_the_delay(client, sim):
    sim.configure(run_delay=30)
    spec_id = client.create_spec(spec_for(client, sim.world.publisher_ids[0])).json()["reportSpecID"]
    created = client.run(spec_id)
    assert created.status_code == 201
    file_id = created.json()["reportRunID"]
    assert client.files().json() == []
    assert client.download(file_id).status_code == 404
    sim.advance_clock(30)
    items = client.files().json()
    assert [i["fileID"] for i in items] == [file_id]
    item = items[0]
    assert item["reportID"] == spec_id and item["downloadStatus"] == "new"
    assert item["downloadURL"] == f"{sim.base_url}{REPORTING}/report-files/download/{file_id}"
    body = client.download(file_id)
    assert body.status_code == 200
    assert hashlib.md5(body.content).hexdigest() == item["hash"]
    assert len(body.content) == item["fileSize"]
    assert body.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in body.headers["Content-Disposition"]
    assert "Content-Encoding" not in body.headers
    assert client.files().json()[0]["downloadStatus"] == "downloaded"
    assert [i["fileID"] for i in client.files(status="new").json()] == []
    assert [i["fileID"] for i in client.files(status="downloaded").json()] == [file_id]


def test_file_list_filters(client, sim):
    a, b = sim.world.publisher_ids[:2]
    spec_a = client.create_spec(spec_for(client, a)).json()["reportSpecID"]
    spec_b = client.create_spec(spec_for(client, b)).json()["reportSpecID"]
    file_a = client.run(spec_a).json()["reportRunID"]
    file_b = client.run(spec_b).json()["reportRunID"]
    assert [i["fileID"] for i in client.files(accountIDs=str(a)).json()] == [file_a]
    assert [i["fileID"] for i in client.files(reportIDs=str(spec_b)).json()] == [file_b]
    assert [i["fileID"] for i in client.files(fileIDs=f"{file_a},{file_b}").json()] == [file_a, file_b]
    assert client.files(fileIDs="x").status_code == 400
    assert client.files(status="old").status_code == 400


def test_files_expire_after_retention(client, sim):
    spec_id = client.create_spec(spec_for(client, sim.world.publisher_ids[0])).json()["reportSpecID"]
    file_id = client.run(spec_id).json()["reportRunID"]
    sim.advance_clock(30 * 86400 + 1)
    client.login()
    assert client.files().json() == []
    assert client.download(file_id).status_code == 404


def test_report_rows_follow_fields_and_date_range(client, sim):
    fields = ["day", "site_id", "site_name", "impressions", "ecpm", "ad_spend", "my_new_metric_revenue",
              "my_dimension", "account_owner_id"]
    spec = spec_for(client, sim.world.publisher_ids[0], querySpec={"fields": fields, "filters": []},
                    dateRange={"from": "2026-06-01", "to": "2026-06-04"})
    spec_id = client.create_spec(spec).json()["reportSpecID"]
    rows = rows_of(client.download(client.run(spec_id).json()["reportRunID"]).content)
    assert rows[0] == fields
    data = rows[1:]
    assert len(data) == 3 * sim.config.report_rows_per_period
    assert sorted({r[0] for r in data}) == ["2026-06-01 00:00:00", "2026-06-02 00:00:00", "2026-06-03 00:00:00"]
    site_names = {s["site_id"]: s["site_name"] for s in sim.world.sites[sim.world.publisher_ids[0]]}
    for row in data:
        assert len(row) == len(fields)
        assert site_names[int(row[1])] == row[2]
        int(row[3])
        float(row[4]), float(row[5]), float(row[6])
        assert row[7] and int(row[8]) >= 0
    keys = [(r[0], r[1], r[7], r[8]) for r in data]
    assert len(set(keys)) == len(keys), "dimension combinations repeat within a day"


def test_site_names_need_quoting_and_hold_non_ascii(client, sim):
    fields = ["hour", "site_name", "impressions"]
    spec = spec_for(client, sim.world.publisher_ids[0], querySpec={"fields": fields, "filters": []},
                    dateRange={"current": "day"})
    content = client.download(client.run(client.create_spec(spec).json()["reportSpecID"]).json()["reportRunID"]).content
    text = content.decode("utf-8")
    assert "\r\n" not in text
    names = {r[1] for r in rows_of(content)[1:]}
    assert any("," in n for n in names) and any('"' in n for n in names)
    assert any(not n.isascii() for n in names)
    hours = sorted({r[0] for r in rows_of(content)[1:]})
    assert hours[0] == "2026-06-05 00:00:00" and hours[-1] == "2026-06-05 23:00:00"


def test_report_of_the_future_is_the_header_alone(client, sim):
    fields = ["day", "impressions"]
    spec = spec_for(client, sim.world.publisher_ids[0], querySpec={"fields": fields, "filters": []},
                    dateRange={"from": "2026-07-01", "to": "2026-07-02"})
    content = client.download(client.run(client.create_spec(spec).json()["reportSpecID"]).json()["reportRunID"]).content
    assert content == b"day,impressions\n"


@pytest.mark.parametrize("file_type,content_type", [("csv.gz", "application/gzip"), ("csv.zip", "application/zip")])
def test_compressed_file_types(client, sim, file_type, content_type):
    plain_spec = spec_for(client, sim.world.publisher_ids[0], fileType="csv")
    packed_spec = dict(plain_spec, fileType=file_type)
    plain = client.download(client.run(client.create_spec(plain_spec).json()["reportSpecID"]).json()["reportRunID"])
    packed = client.download(client.run(client.create_spec(packed_spec).json()["reportSpecID"]).json()["reportRunID"])
    assert packed.headers["Content-Type"] == content_type
    if file_type == "csv.gz":
        unpacked = gzip.decompress(packed.content)
    else:
        with zipfile.ZipFile(io.BytesIO(packed.content)) as archive:
            assert len(archive.namelist()) == 1
            unpacked = archive.read(archive.namelist()[0])
    assert unpacked == plain.content


def test_run_uses_the_spec_as_it_was_when_run(client, sim):
    spec = spec_for(client, sim.world.publisher_ids[0])
    spec_id = client.create_spec(spec).json()["reportSpecID"]
    file_id = client.run(spec_id).json()["reportRunID"]
    client.call("PATCH", f"{REPORTING}/report-specs/{spec_id}",
                json=dict(spec, querySpec={"fields": ["day", "impressions"], "filters": []}))
    assert rows_of(client.download(file_id).content)[0] == spec["querySpec"]["fields"]


def test_run_of_unknown_spec_is_404_and_bad_body_400(client):
    assert client.run(424242).status_code == 404
    assert client.call("POST", f"{REPORTING}/report-runs", json={"reportID": "1965885"}).status_code == 400


def test_same_seed_same_data_other_seed_other_data(client, sim):
    spec = spec_for(client, sim.world.publisher_ids[0])
    first = client.download(client.run(client.create_spec(spec).json()["reportSpecID"]).json()["reportRunID"]).content
    with IXSimulator(seed=1, start_time=SIM_START, run_delay=0) as twin, \
            IXSimulator(seed=2, start_time=SIM_START, run_delay=0) as other:
        for other_sim, same in ((twin, True), (other, False)):
            c = RawClient(other_sim)
            c.login()
            s = spec_for(c, other_sim.world.publisher_ids[0])
            content = c.download(c.run(c.create_spec(s).json()["reportSpecID"]).json()["reportRunID"]).content
            assert (content == first) is same
