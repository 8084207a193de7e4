"""cal-downloads.py end to end: the simulator over HTTP, MariaDB and SQLite."""

import os
import signal
import time
import urllib.parse

import pytest

import mysql_db_cal
from calenv import CalEnv
from httpclient import HttpClient


@pytest.fixture
def cal(sim, database, tmp_path, http):
    sim.configure(cal_window_hours=2, cal_rows_per_file=30)
    return CalEnv(sim, database, tmp_path / "home", http)


def bid_keys(rows):
    return {(r["auction_id"], p, r["dsp_id"], r["trading_desk_id"]) for p, r in rows}


# --- mappings -----------------------------------------------------------------------------

def test_mappings_per_publisher_and_shared(cal, sim):
    summary = cal.run()
    assert summary.complete and summary.files_loaded == 0
    assert cal.count("prog_ix_dsp_mapping") == len(sim.world.dsps)
    assert cal.count("prog_ix_buyer_mapping") == len(sim.world.buyers)
    assert cal.count("prog_ix_partner_mapping") == len(sim.world.partners)
    assert cal.count("prog_ix_site_mapping") == sum(len(s) for s in sim.world.sites.values())
    creatives = [(p, c, x) for p, cs in sim.world.campaigns.items() for c in cs for x in c["creatives"]]
    assert cal.count("prog_ix_campaign_mapping") == len(creatives), "one row per creative, none lost"
    assert cal.count("prog_ix_creatives") == len({x["creative_id"] for _, _, x in creatives})
    deal = sim.world.deals[cal.publishers[0]][1]
    stored = cal.database.rows(f"SELECT section_id, publisher_id, deal_name FROM prog_ix_deal_mapping "
                               f"WHERE internal_deal_id = {deal['internal_deal_id']}")
    assert stored == [(",".join(map(str, deal["section_id"])), cal.publishers[0], deal["deal_name"])]
    assert cal.count("prog_ix_exchange_rates") == 7
    calls = sim.stats()["calls"]
    assert calls["cal_mapping"] == 3 + 3 * len(cal.publishers), "shared mappings fetched once"
    assert calls["cal_token"] == len(cal.publishers), "publisher 0 is a placeholder, skipped"


def test_exchange_rates_not_enabled_is_a_notice_not_a_failure(cal, sim):
    sim.configure(exchange_rates_enabled=False)
    summary = cal.run()
    assert summary.complete, summary.problems
    assert summary.problems == [] and "exchange rates: not enabled for these keys; skipped" in summary.text()
    assert cal.count("prog_ix_buyer_mapping") == len(sim.world.buyers)
    assert cal.count("prog_ix_exchange_rates") == 0
    assert sim.stats()["calls"]["exchange_rates"] == len(cal.publishers), "every key was asked once"


def test_each_shared_mapping_is_reported_on_its_own(cal, sim):
    sim.faults.add("exchange_rates", "500", count=1000)
    cal.http = HttpClient(timeout=5, max_wait=0.3, backoff_factor=0.05, backoff_max=0.1, jitter=0)
    try:
        summary = cal.run()
    finally:
        cal.http.close()
    assert not summary.complete
    assert len(summary.problems) == 1 and summary.problems[0].startswith(
        "shared mapping exchange_rates: no key could fetch it: get CAL exchange rates")
    assert "buyers" not in summary.problems[0]
    assert cal.count("prog_ix_buyer_mapping") == len(sim.world.buyers)
    assert cal.count("prog_ix_dsp_mapping") == len(sim.world.dsps)


def test_mappings_rerun_updates_in_place(cal, sim):
    cal.run()
    before = cal.count("prog_ix_campaign_mapping")
    assert cal.run().complete and cal.count("prog_ix_campaign_mapping") == before


def test_a_stalled_server_holds_one_cal_file_not_every_file_of_the_publisher(cal, sim):
    """The first file drips: it is given up at the download's deadline, and the publisher's
    other files are left for the next run instead of each waiting as long (issue 22, item 6)."""
    publisher = cal.publishers[0]
    files = len(sim.cal_file_ids(publisher, "impression"))
    sim.faults.add("cal_file", "drip")
    cal.http = HttpClient(timeout=5, max_wait=1, backoff_factor=0.05, backoff_max=0.1, jitter=0, download_timeout=1)
    try:
        summary = cal.run(mappings=False, impressions=True, publisher_ids=[publisher])
        assert (summary.files_failed, summary.files_deferred, summary.files_loaded) == (1, files - 1, 0)
        assert "took longer than 1 s" in summary.problems[0]
        assert summary.problems[1] == (f"publisher {publisher}: {files - 1} more CAL files left for the next run, "
                                       f"since Index Exchange is not answering as it should")
        assert not summary.complete and sim.stats()["calls"]["cal_file"] == 1
        again = cal.run(mappings=False, impressions=True, publisher_ids=[publisher])
    finally:
        cal.http.close()
    assert again.complete and again.files_loaded == files


# --- logs ---------------------------------------------------------------------------------

def test_both_logs_every_bid_kept_and_rerun_doubles_nothing(cal, sim):
    summary = cal.run(mappings=False, impressions=True, bids=True)
    assert summary.complete
    impressions, bids = cal.served_rows("impression"), cal.served_rows("bid")
    assert cal.count("prog_ix_impression_log") == len(impressions)
    assert cal.count("prog_ix_bid_log") == len(bids) == len(bid_keys(bids)), "several bids per auction, all kept"
    files = sum(len(sim.cal_file_ids(p, k)) for p in cal.publishers for k in ("impression", "bid"))
    assert summary.files_loaded == files and cal.count("prog_ix_cal_download_log") == files
    assert summary.rows_loaded == len(impressions) + len(bids)
    origins = dict(cal.database.rows("SELECT origin, COUNT(*) FROM prog_ix_cal_download_log GROUP BY origin"))
    assert set(origins) == {"impressions_log", "bid_log"}
    downloads = sim.stats()["calls"]["cal_file"]

    again = cal.run(mappings=False, impressions=True, bids=True)
    assert again.complete and again.files_loaded == 0 and again.files_skipped == files
    assert sim.stats()["calls"]["cal_file"] == downloads, "nothing downloaded twice"
    assert cal.count("prog_ix_bid_log") == len(bids)


def test_publisher_id_added_and_masked_values_stored_as_sentinel(cal, sim):
    summary = cal.run(mappings=False, impressions=True)
    impressions = cal.served_rows("impression")
    masked = sum(1 for _, r in impressions if r["dma"] == "XXXX")
    assert masked > 0 and summary.sentinels == masked
    assert cal.count("prog_ix_impression_log", "WHERE dma = -9999") == masked
    pairs = {(r["auction_id"], p) for p, r in impressions}
    stored = set(cal.database.rows("SELECT auction_id, publisher_id FROM prog_ix_impression_log"))
    assert stored == pairs


def test_updated_file_is_loaded_again(cal, sim):
    cal.run(mappings=False, impressions=True)
    file_id = sim.cal_file_ids(cal.publishers[0])[0]
    before = cal.count("prog_ix_impression_log")
    sim.add_late_data(file_id)
    summary = cal.run(mappings=False, impressions=True)
    assert summary.files_loaded == 1 and summary.complete
    assert cal.count("prog_ix_impression_log") == before + sim.config.cal_late_rows
    new_md5 = sim._cal_content(file_id)[1]
    assert cal.database.rows(f"SELECT md5sum FROM prog_ix_cal_download_log WHERE fileid = {file_id}") == [(new_md5,)]


def test_md5_mismatch_is_retried_then_reported_never_loaded(cal, sim):
    sim.faults.add("cal_file", "corrupt", count=1)
    assert cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]]).complete
    sim.faults.add("cal_file", "corrupt", count=2)
    file_id = sim.cal_file_ids(cal.publishers[0])[0]
    sim.add_late_data(file_id)
    summary = cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]])
    assert summary.files_failed == 1 and not summary.complete
    assert "md5" in summary.problems[0] and str(file_id) in summary.problems[0]
    assert cal.count("prog_ix_impression_log") == 2 * sim.config.cal_rows_per_file, "the new version not loaded"


def test_truncated_gzip_is_reported_and_tried_again_next_run(cal, sim):
    file_id = sim.cal_file_ids(cal.publishers[0])[0]
    sim.publish_broken_cal_file(file_id)
    summary = cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]])
    assert summary.files_failed == 1 and summary.files_loaded == 1
    assert cal.count("prog_ix_cal_download_log") == 1
    assert cal.count("prog_ix_impression_log") == sim.config.cal_rows_per_file, "nothing of the broken file"
    with sim._lock:
        sim._cal_files[file_id].broken = False
    later = cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]])
    assert later.complete and later.files_loaded == 1
    assert cal.count("prog_ix_impression_log") == 2 * sim.config.cal_rows_per_file


def test_bad_key_fails_that_publisher_only(cal, sim):
    mysql_db_cal.set_api_keys(cal.database.admin, [(cal.publishers[1], "bm90OmFrZXk=")])
    summary = cal.run(impressions=True)
    assert summary.publishers_failed == 1 and not summary.complete
    assert f"publisher {cal.publishers[1]}" in summary.problems[0] and "bm90OmFrZXk=" not in summary.problems[0]
    loaded = {p for (p,) in cal.database.rows("SELECT DISTINCT publisher_id FROM prog_ix_impression_log")}
    assert loaded == set(cal.publishers) - {cal.publishers[1]}


def test_columns_the_table_lacks_go_into_other(cal, sim):
    sim.configure(cal_extra_columns=["floor_price", "ad_unit"])
    summary = cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]])
    assert summary.extra_columns == {"floor_price", "ad_unit"}
    others = [r[0] for r in cal.database.rows("SELECT other FROM prog_ix_impression_log")]
    parsed = [dict(urllib.parse.parse_qsl(o)) for o in others]
    assert all(set(p) == {"floor_price", "ad_unit"} and p["floor_price"].startswith("floor_price-") for p in parsed)


def test_a_non_integer_in_an_int_column_of_any_name(cal, sim):
    # A table column the spec's files fill with text now and then: stored as -9999, counted.
    sim.configure(cal_extra_columns=["seat_id"])
    cal.database.admin.execute_script(["ALTER TABLE prog_ix_impression_log ADD COLUMN seat_id int NOT NULL DEFAULT 0"])
    summary = cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]])
    rows = cal.served_rows("impression")
    assert summary.sentinels == sum(1 for p, r in rows if p == cal.publishers[0] and r["dma"] == "XXXX") + \
        sum(1 for p, r in rows if p == cal.publishers[0])
    assert cal.count("prog_ix_impression_log", "WHERE seat_id = -9999") == cal.count("prog_ix_impression_log")


def test_download_url_on_another_host_is_refused(cal, sim):
    sim.configure(public_base_url="http://203.0.113.9:9")
    summary = cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]])
    assert summary.files_failed == len(sim.cal_file_ids(cal.publishers[0]))
    assert "not followed" in summary.problems[0]
    assert sim.stats()["calls"].get("cal_file", 0) == 0


def test_token_renewed_when_it_dies_mid_run(cal, sim):
    sim.faults.add("cal_downloads", "expire", count=1)
    # One worker: when the fault fires, only the first publisher holds a token yet.
    summary = cal.run(mappings=False, impressions=True, workers=1)
    assert summary.complete
    assert sim.stats()["calls"]["cal_token"] == len(cal.publishers) + 1


# --- the script ---------------------------------------------------------------------------

def test_script_cron_forms_and_exit_codes(cal, sim):
    hourly = cal.script("-M", "-l")
    assert hourly.returncode == 0 and hourly.stdout == "" and hourly.stderr == "", "quiet when all is well"
    daily = cal.script("-R")
    assert daily.returncode == 0 and "mapping rows loaded" in daily.stdout
    mysql_db_cal.set_api_keys(cal.database.admin, [(cal.publishers[0], "bm90OmFrZXk=")])
    failing = cal.script("-M", "-l")
    assert failing.returncode == 2 and "CAL summary" in failing.stderr and "bm90OmFrZXk=" not in failing.stderr, \
        "a refused key is configuration (issue 22, item 16)"
    assert f"publisher {cal.publishers[0]}: its API key was refused" in failing.stderr
    assert f"replace it with add-api-key.py {cal.publishers[0]}" in failing.stderr


def test_script_check_sends_nothing_and_records_nothing(cal, sim):
    result = cal.script("--check", "-l")
    assert result.returncode == 0, result.stderr
    assert f"CAL: {len(cal.publishers)} publishers' API keys" in result.stdout and "prog_ix_bid_log" in result.stdout
    assert sim.stats()["calls"] == {} and cal.count("prog_ix_import_log") == 0
    cal.database.admin.execute_script(["DROP TABLE prog_ix_bid_log"])
    missing = cal.script("--check", "-l")
    assert missing.returncode == 2 and "prog_ix_bid_log" in missing.stderr


def test_script_configuration_errors(cal, sim):
    cal.database.admin.execute_script(["DROP TABLE prog_ix_bid_log"])
    result = cal.script("-M", "-b")
    assert result.returncode == 2 and "prog_ix_bid_log" in result.stderr and "cal-create-db-tables.py" in result.stderr
    assert cal.script("-M", "-i", "-p", "5").returncode == 2
    assert sim.stats()["calls"] == {}


def test_crash_between_files_then_rerun(sim, mariadb_database, tmp_path, http):
    sim.configure(cal_window_hours=12, cal_rows_per_file=400, latency=0.02)
    cal = CalEnv(sim, mariadb_database, tmp_path / "home", http)
    process = cal.script("-M", "-i", "-P", "1", "-p", str(cal.publishers[0]), wait=False)
    deadline = time.monotonic() + 60
    while cal.count("prog_ix_cal_download_log") < 3:
        assert process.poll() is None, "finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    logged = cal.count("prog_ix_cal_download_log")
    assert 3 <= logged < 12
    assert cal.count("prog_ix_impression_log") == logged * 400, "every logged file whole, nothing unlogged"
    summary = cal.run(mappings=False, impressions=True, publisher_ids=[cal.publishers[0]])
    assert summary.complete and summary.files_skipped == logged and summary.files_loaded == 12 - logged
    assert cal.count("prog_ix_impression_log") == 12 * 400


def test_a_failing_mapping_does_not_keep_the_logs_away(cal, sim):
    sim.faults.add("cal_mapping", "corrupt", count=1000)   # an answer that is not JSON: not retried
    summary = cal.run(impressions=True, publisher_ids=[cal.publishers[0]])
    assert not summary.complete and summary.mappings_failed >= 1 and summary.publishers_failed == 0
    assert summary.files_loaded == len(sim.cal_file_ids(cal.publishers[0]))


def test_kill_in_the_middle_of_a_cal_load_then_rerun(sim, mariadb_database, tmp_path, http):
    sim.configure(cal_window_hours=1, cal_rows_per_file=60000)
    cal = CalEnv(sim, mariadb_database, tmp_path / "home", http)
    publisher = cal.publishers[0]
    admin = mariadb_database.admin

    def rows_written():
        # Rows written by open transactions too: the load's progress, seen from outside.
        return int(admin.fetch_all("SHOW GLOBAL STATUS LIKE 'Handler_write'")[0][1])

    before = rows_written()
    process = cal.script("-M", "-i", "-p", str(publisher), wait=False)
    deadline = time.monotonic() + 60
    while rows_written() - before < 10000:
        assert process.poll() is None, "the load finished before it could be killed: " + process.stderr.read()
        assert time.monotonic() < deadline, "no load in progress seen"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert cal.count("prog_ix_impression_log") == 0, "an interrupted load leaves nothing behind"
    assert cal.count("prog_ix_cal_download_log") == 0

    summary = cal.run(mappings=False, impressions=True, publisher_ids=[publisher])
    files = len(sim.cal_file_ids(publisher, "impression"))
    assert summary.complete and summary.files_loaded == files
    assert cal.count("prog_ix_impression_log") == files * 60000, "whole, once"
