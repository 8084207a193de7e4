"""--shard K/N: N hosts with the same crontab split the publishers by id, each exactly once."""

import pytest

from calenv import CalEnv
from cronrun import in_shard
from importenv import REPORTS, ImportEnv


def test_shards_cover_every_publisher_once():
    ids = list(range(180280, 180380, 7))
    for n in (1, 2, 3, 4):
        owners = [[k for k in range(1, n + 1) if in_shard(pid, (k, n))] for pid in ids]
        assert all(len(o) == 1 for o in owners)


def test_two_sharded_runs_load_every_pair_once(sim, database, tmp_path, http):
    ix = ImportEnv(sim, database, tmp_path / "home", http)
    first = ix.run(shard=(1, 2))
    second = ix.run(shard=(2, 2))
    assert first.complete and second.complete
    assert first.publishers + second.publishers == len(ix.publishers) and first.publishers and second.publishers
    assert first.files_loaded + second.files_loaded == len(ix.publishers) * len(REPORTS)
    assert sim.stats()["saves"] == len(ix.publishers) * len(REPORTS)
    loaded = ix.rows("SELECT DISTINCT publisher_id FROM prog_ix_stats")
    assert {r[0] for r in loaded} == set(ix.publishers)


def test_cal_shards_split_the_keys(sim, database, tmp_path, http):
    cal = CalEnv(sim, database, tmp_path / "home", http)
    first = cal.run(mappings=False, impressions=True, shard=(1, 2))
    second = cal.run(mappings=False, impressions=True, shard=(2, 2))
    assert first.publishers + second.publishers == len(cal.publishers)
    owners = {r[0] for r in cal.database.rows("SELECT DISTINCT publisher_id FROM prog_ix_cal_download_log")}
    assert owners == set(cal.publishers)


@pytest.mark.parametrize("text", ["3/2", "0/2", "x", "1-2"])
def test_a_bad_shard_is_a_usage_error(sim, database, tmp_path, http, text):
    ix = ImportEnv(sim, database, tmp_path / "home", http)
    result = ix.script("--shard", text, REPORTS[0])
    assert result.returncode == 2 and "--shard" in result.stderr
    assert sim.stats()["calls"] == {}
