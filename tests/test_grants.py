"""Grants follow the mapping files (issue 23): the set-up scripts grant the importing user
and Grafana's reader on every table a mapping names, run again after a table is added;
--check tells a table the importing user may not use apart from one that does not exist,
with the command that mends it."""

import json
import os
import subprocess
import sys

import pytest

import mysql_db
from conftest import ROOT

USER, PASSWORD = "grant_test_import", "grant-test-pw"
READER, READER_PASSWORD = "grant_test_reader", "grant-reader-pw"
NEW_TABLE = "prog_ix_by_deal"
NEW_DDL = f"""CREATE TABLE {NEW_TABLE} (
  day datetime NOT NULL, publisher_id int NOT NULL, deal_id varchar(64) NOT NULL,
  impressions bigint NOT NULL DEFAULT 0, PRIMARY KEY (day, publisher_id, deal_id))"""


def script(env, name, *args, stdin=""):
    return subprocess.run([sys.executable, os.path.join(ROOT, name), *args], env=env, cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def accounts(mariadb_database):
    """An importing user and a reader with no grant at all, as the README's set-up makes them."""
    admin = mariadb_database.admin
    for user, password in ((USER, PASSWORD), (READER, READER_PASSWORD)):
        admin.execute_script([f"DROP USER IF EXISTS '{user}'@'%'", f"CREATE USER '{user}'@'%' IDENTIFIED BY "
                                                                    f"'{password}'"])
    yield mariadb_database
    for user in (USER, READER):
        admin.execute_script([f"DROP USER IF EXISTS '{user}'@'%'"])


def test_a_table_added_to_the_mapping_is_named_by_check_then_granted_by_the_set_up(accounts, tmp_path):
    database = accounts
    home = tmp_path / "home"
    mapping = tmp_path / "mapping.py"
    mapping.write_text('REPORT_TO_DB_TABLE = {\n'
                       '    "Generic Revenue Report": {"db_table": "prog_ix_stats"},\n'
                       f'    "By deal": {{"db_table": "{NEW_TABLE}"}},\n'
                       '}\n')
    templates = home / "INDEX-TEMPLATES"
    templates.mkdir(parents=True)
    (templates / "By deal").write_text(json.dumps({"querySpec": {"fields": ["day", "deal_id", "impressions"]}}))
    env = {"HOME": str(home), "PATH": os.environ["PATH"], **database.settings_env,
           "PROGSALESMYSQLUSERNAME": USER, "PROGSALESMYSQLPASSWORD": PASSWORD,
           "PROGSALESREPORTMAPPINGFILE": str(mapping), "INDEXEXCHANGEUSERNAME": "u", "INDEXEXCHANGEPASSWORD": "p"}
    admin_pw = "admin-pw-for-tests\n"
    first = script(env, "report-create-db-tables.py", "-u", "ixadmin", "--grant-to", USER, "--grafana-user", READER,
                   stdin=admin_pw)
    assert first.returncode == 0, first.stderr
    assert f"named in the mapping but not there, so not granted on: {NEW_TABLE}" in first.stdout
    database.admin.execute_script([NEW_DDL])              # the person makes the new table
    database.admin.load_rows("prog_ix_publishers", ["publisher_id"], [["180280"]])
    check = script(env, "index-exchange-to-db.py", "--check", "By deal")
    assert check.returncode == 2
    assert f"this MySQL user has no grant on table {NEW_TABLE} (it may exist" in check.stderr
    assert f"as the admin run: report-create-db-tables.py -u ADMINUSER --grant-to {USER}" in check.stderr
    again = script(env, "report-create-db-tables.py", "-u", "ixadmin", "--grant-to", USER, "--grafana-user", READER,
                   stdin=admin_pw)
    assert again.returncode == 0 and f"tables the mapping names: {NEW_TABLE}, prog_ix_stats" in again.stdout
    assert script(env, "index-exchange-to-db.py", "--check", "By deal").returncode == 0
    reader = mysql_db.MySQLDatabase("127.0.0.1", env["PROGSALESMYSQLPORT"], READER, READER_PASSWORD,
                                    env["PROGSALESMYSQLDATABASE"])
    assert reader.fetch_all(f"SELECT COUNT(*) FROM {NEW_TABLE}") == [(0,)], "Grafana's reader may read it"
    reader.close()


def test_a_table_the_importing_user_may_only_read_is_named_so(accounts):
    database = accounts
    admin = database.admin
    admin.execute_script([NEW_DDL, f"GRANT SELECT ON {NEW_TABLE} TO '{USER}'@'%'"])
    env = database.settings_env
    importer = mysql_db.MySQLDatabase("127.0.0.1", env["PROGSALESMYSQLPORT"], USER, PASSWORD,
                                      env["PROGSALESMYSQLDATABASE"])
    try:
        assert mysql_db.access_problem(importer, NEW_TABLE) == \
            f"table {NEW_TABLE} exists, but this MySQL user may not INSERT, UPDATE on it"
        assert mysql_db.access_problem(importer, "prog_ix_nothing_here").startswith(
            "this MySQL user has no grant on table prog_ix_nothing_here")
        assert mysql_db.access_problem(database.db, "prog_ix_nothing_here") == \
            "table prog_ix_nothing_here does not exist", "a user with the database's privileges can tell"
    finally:
        importer.close()
