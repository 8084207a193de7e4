"""add-api-key.py, delete-api-key.py and cal-create-db-tables.py as a user runs them."""

import os
import subprocess
import sys

import mysql_db
from conftest import ROOT

KEY = "c2ltLWNsaWVudC0xOjAzOWQyOThkOTA4N2JkNDc2N2UwYTliZmE5NjY3ZjNi"


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
    assert all(name in created.stdout for name in mysql_db.CAL_TABLES)
    assert dict(database.rows("SELECT api, data_table FROM prog_ix_api_to_db_table_mapping"))["bid_log"] == \
        "prog_ix_bid_log"
    assert "created: none" in run(env, "cal-create-db-tables.py", *admin, stdin=admin_pw).stdout

    added = run(env, "add-api-key.py", "180280", KEY, "180287", KEY + "x")
    assert added.returncode == 0, added.stderr
    assert KEY not in added.stdout and "c2lt…" in added.stdout
    assert run(env, "add-api-key.py", "180280", "replaced-key-value-123").returncode == 0
    listed = run(env, "add-api-key.py")
    assert "180280" in listed.stdout and "2 keys" in listed.stdout
    assert "replaced-key-value-123" not in listed.stdout and KEY not in listed.stdout
    assert dict(database.rows("SELECT publisher_id, api_key FROM prog_ix_apikeys"))[180280] == "replaced-key-value-123"

    deleted = run(env, "delete-api-key.py", *admin, "180280", "999", stdin=admin_pw)
    assert deleted.returncode == 0, deleted.stderr
    assert "180280: key deleted" in deleted.stdout and "999: had no key" in deleted.stdout
    assert database.rows("SELECT publisher_id FROM prog_ix_apikeys") == [(180287,)]
    assert "1 keys" in run(env, "delete-api-key.py").stdout


def test_the_importing_user_may_not_delete_keys(mariadb_database, tmp_path):
    mysql_db.create_tables(mariadb_database.admin, {mysql_db.APIKEYS_TABLE: mysql_db.CAL_TABLES[mysql_db.APIKEYS_TABLE][1]})
    env = env_for(mariadb_database, tmp_path)
    assert run(env, "add-api-key.py", "1", KEY).returncode == 0
    refused = run(env, "delete-api-key.py", "1")
    assert refused.returncode == 1 and "DELETE command denied" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_bad_arguments(database, tmp_path):
    env = env_for(database, tmp_path)
    assert run(env, "add-api-key.py", "180280").returncode == 2
    assert run(env, "add-api-key.py", "abc", KEY).returncode == 2


def test_group_flags_create_only_their_tables(database, tmp_path):
    env = env_for(database, tmp_path)
    admin = [] if database.engine == "sqlite" else ["-u", "ixadmin"]
    result = run(env, "cal-create-db-tables.py", "--auth", *admin,
                 stdin="" if database.engine == "sqlite" else "admin-pw-for-tests\n")
    assert result.returncode == 0 and "created: prog_ix_apikeys;" in result.stdout
    assert not database.admin.table_exists("prog_ix_bid_log")
