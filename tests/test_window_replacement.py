"""Reports whose files replace their window (issue 24): Index Exchange restates a past day
(values changed, a site's rows gone, a row added) and the table then holds exactly its
latest answer for those days, other publishers and days untouched; through the bulk path
and the upsert path on MariaDB, and on SQLite; an older file never replaces a newer one's
days; the importing user without DELETE is named at --check."""

import csv
import io
import os
import subprocess
import sys

import pytest

import mysql_db
from conftest import ROOT
from errors import ConfigurationError
from importenv import ImportEnv

REPLACED = "Revenue by day, replaced"
LATER = "Revenue later days, replaced"
WINDOW = {"from": "2026-05-20", "to": "2026-05-27"}          # 7 days, `to` excluded


def mapping_text(extra=""):
    return ('REPORT_TO_DB_TABLE = {\n'
            f'    "{REPLACED}": {{"db_table": "prog_ix_stats", "replace": "day"}},\n'
            f'    "{LATER}": {{"db_table": "prog_ix_stats", "replace": "day"}},\n'
            f'    "Generic Revenue Report": {{"db_table": "prog_ix_stats"}},\n{extra}'
            '}\n')


def replacing_env(sim, database, tmp_path, http, **env):
    # Fewer rows a day than the publisher has sites, so a restatement can add one.
    sim.configure(report_rows_per_period=3)
    mapping = tmp_path / "mapping.py"
    mapping.write_text(mapping_text())
    ix = ImportEnv(sim, database, tmp_path / "home", http, extra_env={"PROGSALESREPORTMAPPINGFILE": str(mapping),
                                                                      **env})
    if database.engine != "sqlite":             # as the set-up script grants for a replacing report
        mysql_db.grant(database.admin, mysql_db.existing_accounts(database.admin, "iximport"), "DELETE",
                       ["prog_ix_stats"])
    template = ix.template("Generic Revenue Report")
    ix.write_template(REPLACED, dict(template, dateRange=WINDOW))
    ix.write_template(LATER, dict(template, dateRange={"from": "2026-05-25", "to": "2026-05-28"}))
    return ix


@pytest.fixture(params=["bulk", "upsert"])
def ix(request, sim, database, tmp_path, http):
    if database.engine == "sqlite" and request.param == "bulk":
        pytest.skip("SQLite has one path")
    env = {"PROGSALESMYSQLLOCALINFILE": "off"} if request.param == "upsert" else {}
    yield replacing_env(sim, database, tmp_path, http, **env)
    revoke_delete(database)


def revoke_delete(database):
    """The test server's importing user has no DELETE otherwise (other tests rely on it)."""
    if database.engine != "sqlite":
        database.admin.execute_script(["REVOKE DELETE ON prog_ix_stats FROM 'iximport'@'%'"])


def file_rows(sim, file_id):
    """{(day, site_id): impressions} of a file as the simulator serves it."""
    text = sim._run_content(sim._runs[file_id]).decode("utf-8")
    return {(r["day"][:10], int(r["site_id"])): int(r["impressions"])
            for r in csv.DictReader(io.StringIO(text, newline=""))}


def stored(ix, publisher, where="1 = 1"):
    return {(str(day)[:10], int(site)): int(imp) for day, site, imp in ix.rows(
        f"SELECT day, site_id, impressions FROM prog_ix_stats WHERE publisher_id = {publisher} AND {where}")}


def latest_file(ix, publisher):
    return ix.rows(f"SELECT MAX(file_id) FROM prog_ix_report_runs WHERE publisher_id = {publisher}")[0][0]


def test_a_restated_window_ends_as_index_exchanges_latest_answer(ix, sim, request):
    first_publisher, other = ix.publishers[:2]
    first = ix.run(reports=[REPLACED], publisher_ids=[first_publisher, other])
    assert first.complete and first.rows_removed == 0
    before = stored(ix, first_publisher)
    # A row of another day, loaded otherwise: a replacement never touches it.
    ix.database.admin.execute("INSERT INTO prog_ix_stats (day, publisher_id, site_id, impressions) "
                              "VALUES ('2026-05-19 00:00:00', %s, 42, 7)", (first_publisher,))
    others_before = stored(ix, other)
    sim.configure(restatement=1)
    again = ix.run(reports=[REPLACED], publisher_ids=[first_publisher])
    assert again.complete
    latest = file_rows(sim, latest_file(ix, first_publisher))
    assert stored(ix, first_publisher, "day < '2026-05-20'") == {("2026-05-19", 42): 7}
    assert stored(ix, first_publisher, "day >= '2026-05-20'") == latest, "exactly the latest file"
    assert set(before) - set(latest), "a site's rows were taken out by the restatement: gone from the table"
    assert set(latest) - set(before) and latest != {k: before.get(k) for k in latest}, "rows added, values changed"
    assert (again.rows_removed, again.rows_inserted, again.rows_updated) == (len(before), len(latest), 0)
    assert stored(ix, other) == others_before, "another publisher is untouched"
    statuses = dict(ix.rows("SELECT status, COUNT(*) FROM prog_ix_report_runs GROUP BY status"))
    assert statuses == {"loaded": 3}
    if ix.database.engine != "sqlite" and request.node.callspec.params["ix"] == "bulk":
        assert "removed from replaced windows" in again.text()


def test_an_older_file_never_replaces_a_newer_ones_days(ix, sim):
    publisher = ix.publishers[0]
    sim.configure(run_delay=10 ** 6)
    older = ix.run(reports=[REPLACED], publisher_ids=[publisher], retries=0)
    assert older.files_pending == 1
    older_file = latest_file(ix, publisher)
    sim.configure(run_delay=0, restatement=1)
    # Asks for and loads the later days; the older file, not ready, is looked for once.
    newer = ix.run(reports=[LATER], publisher_ids=[publisher], retries=0)
    assert newer.files_loaded == 1
    newer_rows = file_rows(sim, latest_file(ix, publisher))
    sim.advance_clock(10 ** 6)                                    # the older file is ready now
    collected = ix.run(reports=[LATER], publisher_ids=[publisher])
    assert collected.files_superseded == 1
    assert ix.rows(f"SELECT status, last_error FROM prog_ix_report_runs WHERE file_id = {older_file}")[0][0] == \
        "superseded"
    assert {k: v for k, v in stored(ix, publisher).items() if k[0] >= "2026-05-25"} == {
        k: v for k, v in file_rows(sim, latest_file(ix, publisher)).items()}
    assert newer_rows


def test_the_importing_user_without_delete_is_named_at_check(mariadb_database, sim, tmp_path, http):
    database = mariadb_database
    user, password = "replace_test_import", "replace-pw"
    admin = database.admin
    admin.execute_script([f"DROP USER IF EXISTS '{user}'@'%'", f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"])
    try:
        ix = replacing_env(sim, database, tmp_path, http, PROGSALESMYSQLUSERNAME=user, PROGSALESMYSQLPASSWORD=password)
        for table in ("prog_ix_stats", "prog_ix_publishers", "prog_ix_report_runs", "prog_ix_report_queue",
                      "prog_ix_spec_saves", "prog_ix_import_log", "prog_ix_report_ids"):
            admin.execute_script([f"GRANT SELECT, INSERT, UPDATE ON {table} TO '{user}'@'%'"])
        check = ix.script("--check", REPLACED)
        assert check.returncode == 2
        assert "table prog_ix_stats exists, but this MySQL user may not DELETE on it" in check.stderr
        assert "report-create-db-tables.py -u ADMINUSER --grant-to" in check.stderr
        assert ix.script("--check", "Generic Revenue Report").returncode == 0, "upserting needs no DELETE"
        set_up = subprocess.run([sys.executable, os.path.join(ROOT, "report-create-db-tables.py"), "-u", "ixadmin",
                                 "--grant-to", user], env=ix.env, input="admin-pw-for-tests\n", capture_output=True,
                                text=True, timeout=120)
        assert set_up.returncode == 0 and "granted DELETE on prog_ix_stats" in set_up.stdout
        assert ix.script("--check", REPLACED).returncode == 0
    finally:
        admin.execute_script([f"DROP USER IF EXISTS '{user}'@'%'"])
        revoke_delete(database)


def test_a_replace_column_that_cannot_work_is_named(sim, database, tmp_path, http):
    ix = replacing_env(sim, database, tmp_path, http)
    try:
        (tmp_path / "mapping.py").write_text(
            mapping_text('    "Bad": {"db_table": "prog_ix_stats", "replace": "site_name"},\n'))
        ix.write_template("Bad", ix.template(REPLACED))
        with pytest.raises(ConfigurationError, match=r"\"replace\": 'site_name' is varchar in prog_ix_stats, not a "
                                                     r"date or time"):
            ix.run(reports=["Bad"])
    finally:
        revoke_delete(database)
