"""The suite on a 3-node MariaDB Galera cluster: two hosts on two nodes at once, a node
killed mid-run, conflicts resolved at commit run again and counted, write-set limits.
Opt-in (the `galera` marker): CI=true or IX_GALERA_TESTS=1."""


import pytest

import mysql_db
from calenv import CalEnv
from importenv import REPORTS, ImportEnv, run_at_once, summary_figure, wait_until

pytestmark = pytest.mark.galera

MYSQL_STORE = {"PROGSALESREPORTIDSTORE": "mysql"}



@pytest.mark.parametrize("round_number", range(2))
def test_two_hosts_on_two_nodes_share_the_pairs(sim, galera_nodes, tmp_path, http, round_number):
    sim.configure(run_delay=0.3, latency=0.02)
    one, two = galera_nodes
    first = ImportEnv(sim, one, tmp_path / "host-a", http, extra_env=MYSQL_STORE)
    second = ImportEnv(sim, two, tmp_path / "host-b", http, extra_env=MYSQL_STORE)
    pairs = len(first.publishers) * len(REPORTS)
    expected_rows = pairs * sim.config.report_rows_per_period
    total_loaded = 0
    for _ in range(2):            # the second time the specs exist: no saves
        loaded, left = run_at_once([first, second], "-r", "3", *REPORTS)
        assert loaded + left == 2 * pairs and loaded >= pairs
        total_loaded += loaded
        assert sim.stats()["saves"] == pairs, "one spec per pair across the hosts and nodes"
        for node in (one, two):
            assert dict(node.rows("SELECT status, COUNT(*) FROM prog_ix_report_runs GROUP BY status")) == \
                {"loaded": total_loaded}, "each file loaded once, seen alike on both nodes"
            assert node.rows("SELECT COUNT(*) FROM prog_ix_stats")[0][0] == expected_rows
    assert one.rows("SELECT COUNT(*), COUNT(DISTINCT reportID), COUNT(lease_holder) FROM prog_ix_report_ids")[0] \
        == (pairs, pairs, 0)


def test_cal_on_two_nodes_at_once_loads_each_file_once(sim, galera_nodes, tmp_path, http):
    one, two = galera_nodes
    first = CalEnv(sim, one, tmp_path / "host-a", http)
    second = CalEnv(sim, two, tmp_path / "host-b", http)
    runs = [first.script("-M", "-l", wait=False), second.script("-M", "-l", wait=False)]
    outputs = [p.communicate(timeout=180) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    served_impressions = len(first.served_rows("impression"))
    files = sum(len(sim.cal_file_ids(p, kind)) for p in first.publishers for kind in ("impression", "bid"))
    for env in (first, second):
        assert env.count("prog_ix_cal_download_log") == files, "each file logged once"
        assert env.count("prog_ix_impression_log") == served_impressions, "each row once"


def test_a_node_killed_mid_run_then_the_rerun_completes_exactly(sim, galera, galera_nodes, tmp_path, http):
    one, two = galera_nodes
    sim.configure(run_delay=1.5, latency=0.01)
    # The program on the dead node cannot give its pairs back: its leases keep them from
    # every program until they run out (2 s here, 300 s by default).
    host = ImportEnv(sim, two, tmp_path / "host", http, extra_env={**MYSQL_STORE, "PROGSALESREPORTIDLEASE": "2"})
    pairs = len(host.publishers) * len(REPORTS)
    process = host.script("-R", "-r", "2", *REPORTS, wait=False)
    wait_until(lambda: one.rows("SELECT COUNT(*) FROM prog_ix_report_runs")[0][0] == pairs,
               "every run requested, seen on node 1")
    galera.kill(2)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 1, (out, err)       # failed at run time, picked up next run
    assert err.strip(), "a line on stderr"
    wait_until(lambda: galera.cluster_size(1) == 2, "the dead node evicted")
    galera.rejoin(2)
    wait_until(lambda: one.rows("SELECT COUNT(*) FROM prog_ix_report_ids WHERE lease_until >= "
                                "UNIX_TIMESTAMP(NOW(6))")[0][0] == 0, "the dead program's leases run out")
    rerun = host.script("-R", "-r", "3", *REPORTS)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for node in galera_nodes:
        statuses = dict(node.rows("SELECT status, COUNT(*) FROM prog_ix_report_runs GROUP BY status"))
        assert statuses.get("pending", 0) == 0 and sum(statuses.values()) >= pairs, (node.node, rerun.stdout)
        assert node.rows("SELECT COUNT(*) FROM prog_ix_stats")[0][0] == pairs * sim.config.report_rows_per_period
    assert sim.stats()["saves"] == pairs, "no second spec for any pair"
    assert galera.cluster_size(2) == 3


def test_a_conflict_at_commit_is_run_again_whole_and_counted(galera_nodes):
    one, two = galera_nodes
    one.admin.execute_script(["CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)"])
    one.admin.execute("INSERT INTO counter VALUES (1, 0)")
    first, other = one.importer(), two.importer()
    attempts = []

    def work():
        attempts.append(1)
        first.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
        if len(attempts) == 1:
            # Another node commits a change to the same row first: this transaction loses
            # at its commit (Galera's certification), and is run again from the start.
            other.execute("UPDATE counter SET n = n + 10 WHERE id = 1")
            wait_until(lambda: one.rows("SELECT n FROM counter")[0][0] == 10, "node 2's commit applied on node 1")

    first.run_transaction(work, what="the counter")
    assert len(attempts) == 2 and first.transactions_retried == 1
    assert one.rows("SELECT n FROM counter")[0][0] == 11, "both changes, neither lost nor doubled"
    first.close()
    other.close()


@pytest.fixture
def node_one_write_set_rows(galera):
    """Sets node 1's wsrep_max_ws_rows (GLOBAL, per node) for a test, and 0 (no limit) after."""
    admin = galera.connect_admin(1)
    cursor = admin.cursor()
    yield lambda rows: cursor.execute(f"SET GLOBAL wsrep_max_ws_rows = {int(rows)}")
    cursor.execute("SET GLOBAL wsrep_max_ws_rows = 0")
    admin.close()


def test_a_load_bigger_than_a_write_set_is_refused_naming_the_setting(galera_nodes, node_one_write_set_rows):
    one, _ = galera_nodes
    one.admin.execute_script(["CREATE TABLE t (id int PRIMARY KEY, v varchar(10))"])
    node_one_write_set_rows(500)
    db = one.importer()
    with pytest.raises(mysql_db.DatabaseError, match=r"wsrep_max_ws_rows = 500.*nothing of it was kept"):
        db.load_rows("t", ["id", "v"], [[str(i), "x"] for i in range(2000)])
    db.close()
    assert one.rows("SELECT COUNT(*) FROM t")[0][0] == 0, "never half-applied"


def test_a_file_bigger_than_a_write_set_is_refused_before_loading(galera_nodes, node_one_write_set_rows, tmp_path):
    from reportdownloadWrapper import load_report_file
    one, _ = galera_nodes
    one.admin.execute_script(["CREATE TABLE stats (day date NOT NULL, publisher_id int NOT NULL, site_id int NOT NULL, "
                              "impressions int, PRIMARY KEY (day, publisher_id, site_id))"])
    path = tmp_path / "f.csv"
    path.write_text("day,site_id,impressions\n" + "".join(f"2026-06-01,{i},5\n" for i in range(800)))
    node_one_write_set_rows(500)
    db = one.importer()
    with pytest.raises(mysql_db.DatabaseError, match=r"801 rows .*wsrep_max_ws_rows = 500\); refused before"):
        load_report_file(db, path, "stats", 7)
    node_one_write_set_rows(0)
    assert load_report_file(db, path, "stats", 7).rows == 800
    db.close()


def test_reads_wait_for_the_other_nodes_commits(galera_nodes):
    one, two = galera_nodes
    one.admin.execute_script(["CREATE TABLE seen (id int PRIMARY KEY)"])
    writer, reader = one.importer(), two.importer()
    assert reader.galera and reader.fetch_all("SELECT @@wsrep_sync_wait")[0][0] == 1
    for i in range(200):
        writer.execute("INSERT INTO seen VALUES (%s)" % i)
        assert reader.fetch_all("SELECT COUNT(*) FROM seen WHERE id = %s" % i)[0][0] == 1
    writer.close()
    reader.close()


def test_commits_stalled_while_a_dead_node_is_evicted_are_not_errors(sim, galera, galera_nodes, tmp_path, http):
    one, _ = galera_nodes
    sim.configure(run_delay=1.0, latency=0.01)
    host = ImportEnv(sim, one, tmp_path / "host", http, extra_env=MYSQL_STORE)
    pairs = len(host.publishers) * len(REPORTS)
    process = host.script("-R", "-r", "3", *REPORTS, wait=False)
    wait_until(lambda: one.rows("SELECT COUNT(*) FROM prog_ix_report_runs")[0][0] == pairs, "every run requested")
    galera.kill(3)          # the loads that follow wait until node 3 is evicted, then commit
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, out + err
    assert summary_figure(out, r"files: (\d+) loaded") == pairs
    galera.rejoin(3)
    third = galera.connect_admin(3)
    try:
        cursor = third.cursor()
        cursor.execute("SET SESSION wsrep_sync_wait = 1")
        cursor.execute("SELECT COUNT(*) FROM prog_ix_stats")
        assert cursor.fetchone()[0] == pairs * sim.config.report_rows_per_period, "the rejoined node has it all"
    finally:
        third.close()
