"""add-api-key.py, delete-api-key.py and cal-create-db-tables.py as a user runs them."""

import os
import subprocess
import sys

import pytest

import mysql_db
import mysql_db_cal
import mysql_db_reporting
from conftest import ROOT

KEY = "c2ltLWNsaWVudC0xOjAzOWQyOThkOTA4N2JkNDc2N2UwYTliZmE5NjY3ZjNi"
OTHER_KEY = "c2ltLWNsaWVudC0yOnNlY29uZC1zZWNyZXQ="          # sim-client-2:second-secret
REPLACED_KEY = "cmVwbGFjZWQ6a2V5LXZhbHVlLTEyMw=="          # replaced:key-value-123


def run(env, script, *args, stdin=""):
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, input=stdin, timeout=60)


def env_for(database, home):
    return {"HOME": str(home), "PATH": os.environ["PATH"], **database.settings_env}


def test_create_tables_then_add_list_and_delete_keys(database, tmp_path):
    env = env_for(database, tmp_path)
    admin = [] if database.engine == "sqlite" else ["-u", "ixadmin"]
    admin_pw = "" if database.engine == "sqlite" else "admin-pw-for-tests\n"
    created = run(env, "cal-create-db-tables.py", *admin, stdin=admin_pw)
    assert created.returncode == 0, created.stderr
    assert all(name in created.stdout for name in mysql_db_cal.CAL_TABLES)
    assert dict(database.rows("SELECT api, data_table FROM prog_ix_api_to_db_table_mapping"))["bid_log"] == \
        "prog_ix_bid_log"
    assert "created: none" in run(env, "cal-create-db-tables.py", *admin, stdin=admin_pw).stdout
    add_publishers(database, 180280, 180287)

    added = run(env, "add-api-key.py", "180280", "180287", stdin=f"{KEY}\n{OTHER_KEY}\n")
    assert added.returncode == 0, added.stderr
    assert KEY not in added.stdout + added.stderr and "c2lt…" in added.stdout
    assert run(env, "add-api-key.py", "180280", stdin=REPLACED_KEY + "\n").returncode == 0
    listed = run(env, "add-api-key.py")
    assert "180280" in listed.stdout and "2 keys" in listed.stdout
    assert REPLACED_KEY not in listed.stdout and KEY not in listed.stdout
    assert dict(database.rows("SELECT publisher_id, api_key FROM prog_ix_apikeys"))[180280] == REPLACED_KEY

    deleted = run(env, "delete-api-key.py", *admin, "180280", "999", stdin=admin_pw)
    assert deleted.returncode == 0, deleted.stderr
    assert "180280: key deleted" in deleted.stdout and "999: had no key" in deleted.stdout
    assert database.rows("SELECT publisher_id FROM prog_ix_apikeys") == [(180287,)]
    assert "1 keys" in run(env, "delete-api-key.py").stdout


def add_publishers(database, *ids):
    mysql_db.create_tables(database.admin, {mysql_db_reporting.PUBLISHERS_TABLE: mysql_db_reporting.REPORTING_TABLES[mysql_db_reporting.PUBLISHERS_TABLE]})
    database.admin.load_rows(mysql_db_reporting.PUBLISHERS_TABLE, ["publisher_id"], [[str(i)] for i in ids])


def test_the_importing_user_may_not_delete_keys(mariadb_database, tmp_path):
    mysql_db.create_tables(mariadb_database.admin, {mysql_db_cal.APIKEYS_TABLE: mysql_db_cal.CAL_TABLES[mysql_db_cal.APIKEYS_TABLE][1]})
    add_publishers(mariadb_database, 1)
    env = env_for(mariadb_database, tmp_path)
    assert run(env, "add-api-key.py", "1", stdin=KEY + "\n").returncode == 0
    refused = run(env, "delete-api-key.py", "1")
    assert refused.returncode == 2, "the wrong user: configuration"
    assert "may not DELETE (the importing user has SELECT, INSERT, UPDATE only): give a user that may with -u " \
           "ADMINUSER; nothing was deleted" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    no_key = run(env, "delete-api-key.py", "2")
    assert no_key.returncode == 0 and "publisher 2: had no key" in no_key.stdout, "as the README says (issue 22, 22)"


def test_bad_arguments(database, tmp_path):
    mysql_db.create_tables(database.admin, {mysql_db_cal.APIKEYS_TABLE: mysql_db_cal.CAL_TABLES[mysql_db_cal.APIKEYS_TABLE][1]})
    add_publishers(database, 180280)
    env = env_for(database, tmp_path)
    no_key = run(env, "add-api-key.py", "180280", stdin="")
    assert no_key.returncode == 2 and "no CAL API key for publisher 180280 given" in no_key.stderr
    on_the_command_line = run(env, "add-api-key.py", "180280", KEY)
    assert on_the_command_line.returncode == 2 and "keys are not taken on the command line" in on_the_command_line.stderr
    assert KEY not in on_the_command_line.stderr
    for not_a_key in ("replaced-key-value-123", "bm90IGEga2V5", "a b", "x" * 256):
        refused = run(env, "add-api-key.py", "180280", stdin=not_a_key + "\n")
        assert refused.returncode == 2 and "publisher 180280: that is not a CAL API key (" in refused.stderr
        assert not_a_key not in refused.stderr, "the key is never shown"
    unknown = run(env, "add-api-key.py", "424242", stdin=KEY + "\n")
    assert unknown.returncode == 2 and "publisher 424242 not in prog_ix_publishers" in unknown.stderr
    assert database.rows("SELECT COUNT(*) FROM prog_ix_apikeys")[0][0] == 0


def test_an_empty_admin_password_is_never_tried(mariadb_database, tmp_path):
    mysql_db.create_tables(mariadb_database.admin, {mysql_db_cal.APIKEYS_TABLE: mysql_db_cal.CAL_TABLES[mysql_db_cal.APIKEYS_TABLE][1]})
    result = run(env_for(mariadb_database, tmp_path), "delete-api-key.py", "-u", "ixadmin", "1", stdin="")
    assert result.returncode == 2 and "no MySQL password for ixadmin given" in result.stderr


def test_group_flags_create_only_their_tables(database, tmp_path):
    env = env_for(database, tmp_path)
    admin = [] if database.engine == "sqlite" else ["-u", "ixadmin"]
    result = run(env, "cal-create-db-tables.py", "--auth", *admin,
                 stdin="" if database.engine == "sqlite" else "admin-pw-for-tests\n")
    assert result.returncode == 0 and "created: prog_ix_apikeys;" in result.stdout
    assert not database.admin.table_exists("prog_ix_bid_log")


# --- granting, and databases whose default is not utf8mb4 -------------------------------

def accounts(database, user):
    return database.rows(f"SELECT Host FROM mysql.user WHERE User = '{user}'")


@pytest.mark.parametrize("script", ["cal-create-db-tables.py", "report-create-db-tables.py"])
def test_grant_to_a_missing_account_is_refused_and_creates_none(mariadb_database, tmp_path, script):
    env = env_for(mariadb_database, tmp_path)
    result = run(env, script, "-u", "ixadmin", "--grant-to", "ghost", stdin="admin-pw-for-tests\n")
    assert result.returncode == 2
    assert "the MySQL account 'ghost' does not exist, and this program never creates one" in result.stderr
    assert accounts(mariadb_database, "ghost") == []
    on_a_host = run(env, script, "-u", "ixadmin", "--grant-to", "iximport@localhost", stdin="admin-pw-for-tests\n")
    assert on_a_host.returncode == 2 and "'iximport'@'localhost' does not exist" in on_a_host.stderr
    assert accounts(mariadb_database, "iximport") == [("%",)]


def test_grant_to_an_existing_account(mariadb_database, tmp_path):
    env = env_for(mariadb_database, tmp_path)
    mariadb_database.admin.execute_script(["CREATE USER 'reader'@'10.0.0.%' IDENTIFIED BY 'pw-reader'"])
    try:
        result = run(env, "cal-create-db-tables.py", "--auth", "-u", "ixadmin", "--grant-to", "reader",
                     stdin="admin-pw-for-tests\n")
        assert result.returncode == 0, result.stderr
        assert "granted SELECT, INSERT, UPDATE on them to 'reader'@'10.0.0.%'" in result.stdout
        grants = " ".join(r[0] for r in mariadb_database.rows("SHOW GRANTS FOR 'reader'@'10.0.0.%'"))
        assert "GRANT SELECT, INSERT, UPDATE ON `prog_stats`.`prog_ix_apikeys`" in grants
    finally:
        mariadb_database.admin.execute_script(["DROP USER 'reader'@'10.0.0.%'"])


def test_tables_are_utf8mb4_on_a_latin1_database(mariadb):
    admin = mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, mariadb.admin_user, mariadb.admin_password,
                                   mariadb.database)
    admin.execute_script(["DROP DATABASE IF EXISTS latin1_stats", "CREATE DATABASE latin1_stats CHARACTER SET latin1",
                          f"GRANT SELECT, INSERT, UPDATE ON latin1_stats.* TO '{mariadb.import_user}'@'%'"])
    admin.close()
    try:
        admin = mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, mariadb.admin_user, mariadb.admin_password,
                                       "latin1_stats")
        mysql_db.create_tables(admin, {"prog_ix_site_mapping": mysql_db_cal.CAL_TABLES["prog_ix_site_mapping"][1]})
        importer = mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, mariadb.import_user, mariadb.import_password,
                                          "latin1_stats")
        importer.load_rows("prog_ix_site_mapping", ["site_id", "site_name", "publisher_id"],
                           [["1", "Łódź Daily 🎉", "180280"]])
        assert importer.fetch_all("SELECT site_name FROM prog_ix_site_mapping") == [("Łódź Daily 🎉",)]
        importer.close()
    finally:
        admin.execute_script(["DROP DATABASE latin1_stats"])
        admin.close()
