"""get-report-template.py, report-create-db-tables.py, run-sandbox.py and the progress bar."""

import io
import json
import os
import subprocess
import sys

import mysql_db_reporting
from conftest import ROOT
from cli import ProgressBar


def run(script, *args, env, stdin=""):
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, input=stdin, timeout=120)


def sim_env(sim, home):
    return {"HOME": str(home), "PATH": os.environ["PATH"], "INDEXEXCHANGEBASEURL": sim.base_url,
            "INDEXEXCHANGEUSERNAME": sim.world.username, "INDEXEXCHANGEPASSWORD": sim.world.password,
            "INDEXEXCHANGEMAXRETRYWAIT": "2"}


def test_get_report_template_by_title_and_by_number(sim, tmp_path):
    env = sim_env(sim, tmp_path)
    result = run("get-report-template.py", "1965885", env=env)
    assert result.returncode == 0, result.stderr
    stored = json.loads((tmp_path / "INDEX-TEMPLATES" / "Generic Revenue Report").read_text())
    assert stored == sim.spec(1965885)[0]
    again = run("get-report-template.py", "1965885", env=env)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert run("get-report-template.py", "-f", "1965885", env=env).returncode == 0
    by_number = run("get-report-template.py", "-n", "1965886", env=env)
    assert by_number.returncode == 0 and (tmp_path / "INDEX-TEMPLATES" / "1965886").exists()


def test_get_report_template_reports_unknown_and_forbidden_ids(sim, tmp_path):
    result = run("get-report-template.py", "42", "1965888", "1965887", env=sim_env(sim, tmp_path))
    assert result.returncode == 2, "ids Index Exchange will not give this user are the caller's to fix"
    assert "42: get report spec 42" in result.stderr and "HTTP 404" in result.stderr
    assert "1965888" in result.stderr and "HTTP 403" in result.stderr
    assert (tmp_path / "INDEX-TEMPLATES" / "Generic Revenue Report Last 7 days").exists()


def test_get_report_template_with_a_bad_password(sim, tmp_path):
    env = dict(sim_env(sim, tmp_path), INDEXEXCHANGEPASSWORD="Wrong-Pw-77")
    result = run("get-report-template.py", "1965885", env=env)
    assert result.returncode == 2 and "CredentialsRefusedError" in result.stderr, "a wrong password: configuration"
    assert "Wrong-Pw-77" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_report_create_db_tables_with_an_admin_user(mariadb, tmp_path):
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "PROGSALESMYSQLHOSTNAME": "127.0.0.1",
           "PROGSALESMYSQLPORT": str(mariadb.port), "PROGSALESMYSQLUSERNAME": mariadb.import_user,
           "PROGSALESMYSQLPASSWORD": mariadb.import_password}
    conn = mariadb.connect_admin()
    cursor = conn.cursor()
    for table in mysql_db_reporting.REPORTING_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    conn.close()
    as_importer = run("report-create-db-tables.py", env=env)
    assert as_importer.returncode == 2 and "CREATE command denied" in as_importer.stderr
    created = run("report-create-db-tables.py", "-u", mariadb.admin_user, env=env, stdin=mariadb.admin_password + "\n")
    assert created.returncode == 0, created.stderr
    assert "created: prog_ix_publishers, prog_ix_stats, prog_ix_report_runs, prog_ix_report_queue" in created.stdout
    again = run("report-create-db-tables.py", "-u", mariadb.admin_user, env=env, stdin=mariadb.admin_password + "\n")
    assert "created: none" in again.stdout


def test_report_create_db_tables_on_sqlite(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "PROGSALESDBENGINE": "sqlite"}
    result = run("report-create-db-tables.py", env=env)
    assert result.returncode == 0 and "prog_ix_report_runs" in result.stdout
    assert (tmp_path / "INDEX-SETTINGS" / "prog_stats.sqlite3").exists()


def test_run_sandbox_runs_the_main_job_and_prints_the_summary(tmp_path):
    result = run("run-sandbox.py", "--home", str(tmp_path / "sandbox"), "--run-delay", "0", "--runs", "2",
                 env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("Activity summary") == 2
    assert "8 created, 0 updated, 0 reused" in result.stdout
    assert "0 created, 0 updated, 8 reused" in result.stdout
    assert "40 loaded (0 inserted, 40 updated), 0 rejected" in result.stdout
    assert not (tmp_path / ".env-secrets").exists(), "the user's own home is not touched"


def test_run_sandbox_removes_only_a_home_it_made(tmp_path):
    """`--home ~` must never wipe a person's home (issue 22, item 13)."""
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    person = tmp_path / "person"
    person.mkdir()
    (person / "thesis.txt").write_text("years of work")
    refused = run("run-sandbox.py", "--home", str(person), "--run-delay", "0", env=env)
    assert refused.returncode == 2 and "was not made by run-sandbox.py" in refused.stderr
    assert (person / "thesis.txt").read_text() == "years of work", "nothing removed"
    sandbox = tmp_path / "sandbox"
    assert run("run-sandbox.py", "--home", str(sandbox), "--run-delay", "0", env=env).returncode == 0
    again = run("run-sandbox.py", "--home", str(sandbox), "--run-delay", "0", env=env)
    assert again.returncode == 0, "its own home is made anew"


def test_run_sandbox_with_secure_reporter(tmp_path):
    result = run("run-sandbox.py", "--home", str(tmp_path / "sandbox"), "--run-delay", "0", "--secure-reporter",
                 env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Secure Reporter summary" in result.stdout and "records: 28 (28 inserted, 0 updated)" in result.stdout


def test_progress_bar():
    out = io.StringIO()
    bar = ProgressBar(stream=out, width=10)
    bar.start(4)
    bar.step()
    bar.step()
    bar.finish()
    assert "\r[#####.....] 2/4 pairs" in out.getvalue()
