"""Distinct text keys stay distinct (issue 22, item 1): deals that differ only in case,
accents or a trailing space are different deals, on every path and both engines; a table
whose key would merge them (one made by an older version, utf8mb4_general_ci) is named by
the checks and converted by the set-up scripts."""

import os
import subprocess
import sys

import pytest

import mysql_db
import tableSetupSupport
from conftest import ROOT
from reportdownloadWrapper import load_report_file
from test_load_guarantees import importer

TABLE = "prog_ix_deals_daily"
DDL = f"""CREATE TABLE {TABLE} (
  day datetime NOT NULL,
  publisher_id int NOT NULL,
  deal_id varchar(64) NOT NULL,
  impressions bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, publisher_id, deal_id))"""
DEALS = ["IX-abc", "IX-ABC", "deal1", "deal1 ", "dealé", "deale", "𝔡eal", "🎉", "🎊"]


def deals_file(path, impressions=1):
    lines = ["day,deal_id,impressions"] + [f"2026-06-01,{deal},{n * 10 + impressions}" for n, deal in enumerate(DEALS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored(database):
    return {deal: int(impressions) for deal, impressions in
            database.rows(f"SELECT deal_id, impressions FROM {TABLE}")}


@pytest.fixture
def deals(database, tmp_path):
    """The table made as the suite makes tables, and an importer that may bulk-load from tmp_path."""
    mysql_db.create_tables(database.admin, {TABLE: DDL})
    db = importer(database, tmp_path)
    yield db, database
    db.close()


def test_every_distinct_deal_is_its_own_row_on_the_bulk_and_upsert_paths(deals, tmp_path):
    db, database = deals
    first = load_report_file(db, deals_file(tmp_path / "a.csv"), TABLE, 180280)
    assert (first.rows, first.inserted, first.updated) == (len(DEALS), len(DEALS), 0)
    assert stored(database) == {deal: n * 10 + 1 for n, deal in enumerate(DEALS)}
    again = load_report_file(db, deals_file(tmp_path / "b.csv", impressions=2), TABLE, 180280)
    assert (again.method, again.inserted, again.updated) == ("upsert", 0, len(DEALS))
    assert stored(database) == {deal: n * 10 + 2 for n, deal in enumerate(DEALS)}
    assert database.db.merging_key_columns(TABLE) == []


def test_a_table_whose_key_merges_deals_is_named_then_converted_by_the_set_up(mariadb_database, tmp_path):
    database = mariadb_database
    database.create(DDL + " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci")    # as older versions made it
    merging = database.admin.merging_key_columns(TABLE)
    assert [name for name, _ in merging] == ["deal_id"] and "utf8mb4_general_ci" in merging[0][1]
    problem = mysql_db.merging_keys_problem(database.admin, TABLE)
    assert TABLE in problem and "CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin" in problem
    result = tableSetupSupport.set_up_tables(database.admin, {TABLE: DDL})
    assert result.converted == [TABLE] and any("converted prog_ix_deals_daily" in line for line in result.lines())
    database.admin._columns_cache.clear()
    assert database.admin.merging_key_columns(TABLE) == []
    load_report_file(database.db, deals_file(tmp_path / "a.csv"), TABLE, 180280)
    assert len(stored(database)) == len(DEALS)
    assert tableSetupSupport.set_up_tables(database.admin, {TABLE: DDL}).converted == [], "run again: nothing to do"


def test_the_checks_name_a_table_whose_key_merges_deals(mariadb_database, tmp_path):
    database = mariadb_database
    database.create(DDL + " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci")
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": os.environ["PATH"], **database.settings_env}
    mapping = tmp_path / "mapping.py"
    mapping.write_text('REPORT_TO_DB_TABLE = {"Deals": {"db_table": "%s"}}\n' % TABLE)
    env["PROGSALESREPORTMAPPINGFILE"] = str(mapping)
    templates = home / "INDEX-TEMPLATES"
    templates.mkdir(parents=True)
    (templates / "Deals").write_text('{"querySpec": {"fields": ["day", "deal_id", "impressions"]}}')
    result = subprocess.run([sys.executable, os.path.join(ROOT, "check-report-schema.py"), "Deals"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "its key would take distinct texts for one" in result.stdout
    assert "deal_id: utf8mb4_general_ci ignores case" in result.stdout
    proposed = subprocess.run([sys.executable, os.path.join(ROOT, "check-report-schema.py"), "--create-table",
                               "Deals"], env=env, capture_output=True, text=True, timeout=60)
    assert proposed.returncode == 0 and "COLLATE=utf8mb4_nopad_bin;" in proposed.stdout
