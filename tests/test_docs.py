"""The README cannot drift from the programs: every script is documented there, and every
option of the two cron programs' --help appears in it; its database set-up runs as written."""

import glob
import os
import re
import subprocess
import sys

import pytest

import mysql_db

from conftest import ROOT

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def test_every_script_is_in_the_readme():
    scripts = [os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "*-*.py"))]
    assert [s for s in scripts if s not in README] == []
    assert "import-setup" in README


def test_every_option_of_the_cron_programs_is_in_the_readme():
    for script in ("index-exchange-to-db.py", "cal-downloads.py"):
        help_text = subprocess.run([sys.executable, os.path.join(ROOT, script), "-h"], capture_output=True,
                                   text=True, env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]}).stdout
        options = set(re.findall(r"^\s+(-[A-Za-z]|--[a-z-]+)", help_text, re.M)) - {"-h", "--help"}
        section = README.split(f"`{script}`", 1)[1][:6000]
        common = README.split("### Options, the same in every script", 1)[1].split("\n## ", 1)[0]
        missing = [o for o in sorted(options) if o not in section and o not in common]
        assert missing == [], f"{script}: {missing} not in the README"


def readme_sql():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    block = re.search(r"## Production set-up.*?```sql\n(.*?)```", text, re.DOTALL).group(1)
    lines = [line for line in block.splitlines() if not line.startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def test_the_readmes_database_set_up_works_as_written(mariadb, tmp_path):
    """The README's SQL, with names of this test's own (the server has the real ones), then
    the README's set-up scripts with the admin and importing users it makes."""
    names = {"prog_stats": "readme_stats", "'ixadmin'": "'readme_admin'", "'iximport'": "'readme_import'",
             "'grafana'": "'readme_grafana'", "'localhost'": "'127.0.0.1'"}
    conn = mariadb.connect_admin()
    cursor = conn.cursor()
    try:
        # An anonymous account for this host, as some MariaDB installs have: the README's
        # Grafana account must still log in from here.
        cursor.execute("CREATE USER IF NOT EXISTS ''@'127.0.0.1'")
        for statement in readme_sql():
            for old, new in names.items():
                statement = statement.replace(old, new)
            cursor.execute(statement)
        conn.commit()
        env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "PROGSALESMYSQLHOSTNAME": "127.0.0.1",
               "PROGSALESMYSQLPORT": str(mariadb.port), "PROGSALESMYSQLDATABASE": "readme_stats",
               "PROGSALESMYSQLUSERNAME": "readme_import", "PROGSALESMYSQLPASSWORD": "CHANGE-ME-import"}
        for script in ("report-create-db-tables.py", "cal-create-db-tables.py"):
            result = subprocess.run([sys.executable, os.path.join(ROOT, script), "-u", "readme_admin",
                                     "--grant-to", "readme_import", "--grafana-user", "readme_grafana"], env=env,
                                    cwd=ROOT, input="CHANGE-ME-admin\n", capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            assert "granted SELECT, INSERT, UPDATE on them to 'readme_import'@'127.0.0.1'" in result.stdout
            assert "granted SELECT on the tables Grafana charts to 'readme_grafana'@'%'" in result.stdout
        importer = mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, "readme_import", "CHANGE-ME-import",
                                          "readme_stats")
        importer.load_rows("prog_ix_site_mapping", ["site_id", "site_name", "publisher_id"],
                           [["1", "Łódź Daily 🎉", "180280"]])
        with pytest.raises(mysql_db.DatabasePermissionError):
            importer.execute("DELETE FROM prog_ix_site_mapping")
        importer.close()
        reader = mysql_db.MySQLDatabase("127.0.0.1", mariadb.port, "readme_grafana", "CHANGE-ME-grafana",
                                        "readme_stats")
        assert reader.fetch_all("SELECT site_name FROM prog_ix_site_mapping") == [("Łódź Daily 🎉",)]
        with pytest.raises(mysql_db.DatabasePermissionError):
            reader.fetch_all("SELECT api_key FROM prog_ix_apikeys")
        reader.close()
    finally:
        for statement in ("DROP DATABASE IF EXISTS readme_stats", "DROP USER IF EXISTS 'readme_admin'@'127.0.0.1'",
                          "DROP USER IF EXISTS 'readme_import'@'127.0.0.1'", "DROP USER IF EXISTS 'readme_grafana'@'%'",
                          "DROP USER IF EXISTS 'readme_grafana'@'127.0.0.1'", "DROP USER IF EXISTS ''@'127.0.0.1'"):
            cursor.execute(statement)
        conn.close()


def test_the_readmes_settings_table_names_every_setting_with_its_default():
    import settings
    section = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `([A-Z]+)` \| ([^|]*) \|", section, re.M)}
    assert sorted(rows) == sorted(s.name for s in settings.SETTINGS)
    for setting in settings.SETTINGS:
        shown = rows[setting.name]
        if setting.default:
            assert setting.default in shown, f"{setting.name}: README says {shown!r}, default {setting.default!r}"
        else:
            assert shown.startswith("(required") or shown == "(empty)", f"{setting.name}: README says {shown!r}"


def test_the_readmes_options_table_holds_for_every_script_it_names():
    """Same long names for the same things in every script (issue 22, item 23)."""
    section = README.split("### Options, the same in every script", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| [^|]+ \| ([^|]+) \| ([^|]+) \|$", section, re.M)[2:]
    assert len(rows) >= 7
    every = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "*-*.py")))
    helps = {}
    for options, scripts in rows:
        names = re.findall(r"(--[a-z-]+)", options)
        listed = every if scripts.strip() == "every script" else re.findall(r"[a-z-]+\.py", scripts)
        for script in listed:
            if script not in helps:
                helps[script] = subprocess.run([sys.executable, os.path.join(ROOT, script), "-h"], capture_output=True,
                                               text=True, env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]}).stdout
            missing = [n for n in names if not re.search(re.escape(n) + r"\b", helps[script])]
            assert missing == [], f"{script} -h lacks {missing}"


@pytest.mark.parametrize("script,groups", [
    ("report-create-db-tables.py", ["mysql_db_reporting.REPORTING_TABLES", "mysql_db_health.HEALTH_TABLES"]),
    ("cal-create-db-tables.py", ["mysql_db_cal.CAL_TABLES", "mysql_db_health.HEALTH_TABLES"]),
    ("secure-reporter-create-db-tables.py", ["mysql_db_securereporter.SECURE_REPORTER_TABLES",
                                             "mysql_db_health.HEALTH_TABLES"]),
])
def test_each_set_up_script_names_every_table_it_creates_in_its_help(script, groups):
    import importlib
    tables = set()
    for group in groups:
        module, name = group.split(".")
        tables |= set(getattr(importlib.import_module(module), name))
    help_text = subprocess.run([sys.executable, os.path.join(ROOT, script), "-h"], capture_output=True, text=True,
                               env={"HOME": "/nonexistent", "PATH": os.environ["PATH"]}).stdout
    assert sorted(t for t in tables if t not in help_text) == []
