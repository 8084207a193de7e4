"""The simulator's CAL API over real HTTP: token, listings, files, mappings, rates."""

import csv
import gzip
import hashlib
import io
import zlib

import pytest

from standins import ixsimdata
from simclient import CAL, CAL_TOKEN, RawClient


@pytest.fixture
def pub(sim):
    return sim.world.publisher_ids[0]


@pytest.fixture
def client(sim, pub):
    c = RawClient(sim)
    assert c.cal_token(pub).status_code == 200
    return c


def parse_cal(content):
    text = gzip.decompress(content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def all_files(listing):
    """Every file entry of a listing, bid parts flattened."""
    for entry in listing:
        yield from entry.get("parts", [entry])


# --- token --------------------------------------------------------------------------------

def test_token_for_a_good_key(sim, pub):
    response = RawClient(sim).cal_token(pub)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["refresh_expires_in"] == 0
    assert body["access_token"].count(".") == 2


def test_bad_key_is_401_unauthorized_client(sim):
    response = RawClient(sim).cal_token(api_key="bm90OmFrZXk=")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized_client"


def test_token_needs_form_content_type_and_grant(sim, pub):
    key = sim.world.api_keys[pub]
    c = RawClient(sim)
    as_json = c.session.post(sim.base_url + CAL_TOKEN, headers={"Authorization": f"Basic {key}"},
                             json={"grant_type": "client_credentials"}, timeout=5)
    assert as_json.status_code == 400
    wrong_grant = c.session.post(sim.base_url + CAL_TOKEN, headers={"Authorization": f"Basic {key}"},
                                 data={"grant_type": "password"}, timeout=5)
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"


def test_cal_token_expires_and_is_not_a_reporting_token(sim, client):
    assert client.call("GET", f"{CAL}/downloads").status_code == 200
    assert client.call("GET", "/api/reporting/agg/v1/report-specs/info").status_code == 401
    sim.advance_clock(3601)
    expired = client.call("GET", f"{CAL}/downloads")
    assert expired.status_code == 401 and "message" in expired.json()


def test_reporting_token_is_refused_by_cal(sim):
    c = RawClient(sim)
    c.login()
    assert c.call("GET", f"{CAL}/downloads").status_code == 401


# --- listings and files ---------------------------------------------------------------------

def test_impression_listing_covers_the_window(sim, client):
    listing = client.call("GET", f"{CAL}/downloads").json()["availableDownloads"]
    assert [e["hour"] for e in listing] == ["2026-06-05T05:00:00Z", "2026-06-05T06:00:00Z", "2026-06-05T07:00:00Z"]
    for entry in listing:
        assert set(entry) == {"subscriptionID", "subscriptionName", "hour", "dateCreated", "expires", "fileSize",
                              "downloadURL", "md5sum", "downloadStatus"}
        assert entry["downloadStatus"] == "new"
        assert entry["downloadURL"].startswith(sim.base_url + f"{CAL}/files/")


def test_files_match_md5_and_columns(sim, client):
    listing = client.call("GET", f"{CAL}/downloads").json()["availableDownloads"]
    for entry in listing:
        response = client.session.get(entry["downloadURL"], headers={"Authorization": f"Bearer {client.token}"})
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert "Content-Encoding" not in response.headers
        assert hashlib.md5(response.content).hexdigest() == entry["md5sum"]
        assert len(response.content) == entry["fileSize"]
        rows = parse_cal(response.content)
        assert list(rows[0]) == ixsimdata.CAL_IMPRESSION_COLUMNS
        assert len(rows) == sim.config.cal_rows_per_file
        assert all(r["event_type"] == "impression" for r in rows)
        assert all(r["timestamp"].startswith(entry["hour"][:10] + " " + entry["hour"][11:13]) for r in rows)
    statuses = {e["downloadStatus"] for e in client.call("GET", f"{CAL}/downloads").json()["availableDownloads"]}
    assert statuses == {"downloaded"}


def test_bid_listing_has_parts_and_several_bids_per_auction(sim, client):
    sim.configure(cal_max_bid_parts=3, cal_window_hours=6)
    listing = client.call("GET", f"{CAL}/downloads/bidevents").json()["availableDownloads"]
    assert any("parts" in e for e in listing), "some bid entries should come in parts"
    assert any("parts" not in e for e in listing), "an entry without parts is one file"
    counts = {}
    for item in all_files(listing):
        rows = parse_cal(client.call("GET", item["downloadURL"][len(sim.base_url):]).content)
        assert all(r["event_type"] == "bid" for r in rows)
        for r in rows:
            counts[r["auction_id"]] = counts.get(r["auction_id"], 0) + 1
    assert max(counts.values()) > 1 and max(counts.values()) <= 5


def test_log_ids_exist_in_the_mappings(sim, client, pub):
    def mapping(name):
        return client.call("GET", f"{CAL}/mappings/{name}").json()["data"]

    sites = {m["site_id"] for m in mapping("sites")}
    partners = {m["partner_id"] for m in mapping("partners")}
    buyers = {(m["dsp_id"], m["trading_desk_id"]) for m in mapping("buyers")}
    dsps = {m["dsp_id"] for m in mapping("dsps")}
    campaigns = mapping("campaigns")
    campaign_ids = {c["campaign_id"] for c in campaigns}
    creative_ids = {x["creative_id"] for c in campaigns for x in c["creatives"]}
    deals = {(d["deal_id"], d["internal_deal_id"]) for d in mapping("deals")}
    masked = 0
    for path in ("downloads", "downloads/bidevents"):
        for item in all_files(client.call("GET", f"{CAL}/{path}").json()["availableDownloads"]):
            for r in parse_cal(client.call("GET", item["downloadURL"][len(sim.base_url):]).content):
                assert int(r["site_id"]) in sites
                assert int(r["partner_id"]) in partners
                assert (int(r["dsp_id"]), int(r["trading_desk_id"])) in buyers
                assert int(r["dsp_id"]) in dsps
                assert int(r["creative_id"]) in creative_ids
                if r["campaign_id"] == "-1":
                    masked += 1
                else:
                    assert int(r["campaign_id"]) in campaign_ids
                if r["deal_id"]:
                    assert (r["deal_id"], int(r["internal_deal_id"])) in deals
                if r["dma"] == ixsimdata.MASKED:
                    masked += 1
    assert masked > 0, "masked values (-1, XXXX) should occur now and then"


def test_file_of_another_publisher_is_403_unknown_is_404(sim, client):
    other = sim.world.publisher_ids[1]
    other_file = sim.cal_file_ids(other)[0]
    assert client.call("GET", f"{CAL}/files/{other_file}").status_code == 403
    assert client.call("GET", f"{CAL}/files/12345").status_code == 404
    assert client.call("GET", f"{CAL}/files/abc").status_code == 404


def test_files_leave_the_window_as_the_clock_moves(sim, client, pub):
    first = sim.cal_file_ids(pub)[0]
    sim.advance_clock(3600)
    client.cal_token(pub)
    assert first not in sim.cal_file_ids(pub)
    assert client.call("GET", f"{CAL}/files/{first}").status_code == 404
    hours = [e["hour"] for e in client.call("GET", f"{CAL}/downloads").json()["availableDownloads"]]
    assert hours[-1] == "2026-06-05T08:00:00Z"


def test_late_data_flips_a_downloaded_file_to_updated(sim, client, pub):
    file_id = sim.cal_file_ids(pub)[0]
    before = client.call("GET", f"{CAL}/files/{file_id}").content
    sim.add_late_data(file_id)
    entry = next(e for e in client.call("GET", f"{CAL}/downloads").json()["availableDownloads"]
                 if e["downloadURL"].endswith(f"/{file_id}"))
    assert entry["downloadStatus"] == "updated"
    after = client.call("GET", f"{CAL}/files/{file_id}").content
    assert hashlib.md5(after).hexdigest() == entry["md5sum"] != hashlib.md5(before).hexdigest()
    old_rows, new_rows = parse_cal(before), parse_cal(after)
    assert new_rows[: len(old_rows)] == old_rows
    assert len(new_rows) == len(old_rows) + sim.config.cal_late_rows
    assert sim.cal_file_status(file_id) == "downloaded"


def test_late_data_on_a_new_file_keeps_it_new(sim, client, pub):
    file_id = sim.cal_file_ids(pub)[0]
    sim.add_late_data(file_id)
    assert sim.cal_file_status(file_id) == "new"


def test_broken_file_has_matching_md5_but_truncated_gzip(sim, client, pub):
    file_id = sim.cal_file_ids(pub)[0]
    sim.publish_broken_cal_file(file_id)
    entry = next(e for e in client.call("GET", f"{CAL}/downloads").json()["availableDownloads"]
                 if e["downloadURL"].endswith(f"/{file_id}"))
    content = client.call("GET", f"{CAL}/files/{file_id}").content
    assert hashlib.md5(content).hexdigest() == entry["md5sum"]
    with pytest.raises((EOFError, zlib.error)):
        gzip.decompress(content)


def test_extra_columns_knob(sim, client, pub):
    sim.configure(cal_extra_columns=["floor_price", "ad_unit"])
    rows = parse_cal(client.call("GET", f"{CAL}/files/{sim.cal_file_ids(pub)[0]}").content)
    assert list(rows[0])[-2:] == ["floor_price", "ad_unit"]


def test_public_base_url_knob_changes_download_urls(sim, client):
    sim.configure(public_base_url="http://files.elsewhere.example")
    listing = client.call("GET", f"{CAL}/downloads").json()["availableDownloads"]
    assert all(e["downloadURL"].startswith("http://files.elsewhere.example/api/cal/v1/files/") for e in listing)


def test_same_seed_same_cal_files(sim, pub):
    from standins.ixsimulator import IXSimulator
    from conftest import SIM_START
    with IXSimulator(seed=1, start_time=SIM_START, cal_window_hours=3) as twin:
        a = RawClient(sim)
        b = RawClient(twin)
        a.cal_token(pub)
        b.cal_token(pub)
        assert (a.call("GET", f"{CAL}/downloads").json()["availableDownloads"][0]["md5sum"]
                == b.call("GET", f"{CAL}/downloads").json()["availableDownloads"][0]["md5sum"])


# --- mappings and exchange rates ------------------------------------------------------------

def test_mappings_have_the_spec_keys(sim, client):
    expected = {
        "buyers": {"dsp_id", "trading_desk_id", "buyer_name"},
        "dsps": {"dsp_id", "dsp_name"},
        "partners": {"partner_id", "partner_name"},
        "sites": {"site_id", "site_name"},
        "deals": {"deal_id", "internal_deal_id", "deal_name", "dsp_id", "deal_type", "auction_type", "rate",
                  "section_id", "status", "start_date", "end_date", "priority"},
        "campaigns": {"brand_id", "brand_name", "campaign_id", "campaign_name", "creatives"},
    }
    for name, keys in expected.items():
        data = client.call("GET", f"{CAL}/mappings/{name}").json()["data"]
        assert data and all(set(item) == keys for item in data), name
    deals = client.call("GET", f"{CAL}/mappings/deals").json()["data"]
    assert all(isinstance(d["section_id"], list) and d["status"] in "ADN" and 1 <= d["priority"] <= 10
               for d in deals)
    assert client.call("GET", f"{CAL}/mappings/advertisers").status_code == 404


def test_per_publisher_mappings_differ_shared_ones_do_not(sim):
    a, b = (RawClient(sim) for _ in range(2))
    a.cal_token(sim.world.publisher_ids[0])
    b.cal_token(sim.world.publisher_ids[1])
    for name, same in (("sites", False), ("campaigns", False), ("deals", False), ("dsps", True), ("buyers", True)):
        left = a.call("GET", f"{CAL}/mappings/{name}").json()
        right = b.call("GET", f"{CAL}/mappings/{name}").json()
        assert (left == right) is same, name


def test_exchange_rates(client):
    everything = client.call("GET", f"{CAL}/exchange-rates").json()["data"]
    assert {r["currency"] for r in everything} >= {"EUR", "GBP", "SEK"}
    assert all(r["base"] == "USD" and r["date"] == "2026-06-05" for r in everything)
    one = client.call("GET", f"{CAL}/exchange-rates", params={"date": "2026-06-01", "currency": "EUR"}).json()["data"]
    assert len(one) == 1 and one[0]["date"] == "2026-06-01" and one[0]["currency"] == "EUR"
    assert client.call("GET", f"{CAL}/exchange-rates", params={"date": "June"}).status_code == 400
    assert client.call("GET", f"{CAL}/exchange-rates", params={"currency": "euro"}).status_code == 400
