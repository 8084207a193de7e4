"""An installation of the suite for one test: a home folder with templates, a database
with the reporting tables and the simulator's publishers, and settings pointing at the
simulator. Runs the main program in-process or as a user would, as a subprocess."""

import json
import os
import subprocess
import sys

import mysql_db
import mysql_db_health
import mysql_db_reporting
import readwrite
import settings as settings_module
from conftest import ROOT
from indexExchangeToDBSupport import ImportOptions, ImportRun

REPORTS = ["Generic Revenue Report", "Generic Revenue Report for today only"]


class ImportEnv:
    def __init__(self, sim, database, home, http, extra_env=None):
        self.sim, self.database, self.home, self.http = sim, database, home, http
        self.env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""),
                    "INDEXEXCHANGEBASEURL": sim.base_url, "INDEXEXCHANGEIDENTITYURL": sim.base_url,
                    "INDEXEXCHANGEUSERNAME": sim.world.username, "INDEXEXCHANGEPASSWORD": sim.world.password,
                    "INDEXEXCHANGEMAXRETRYWAIT": "20", **database.settings_env, **(extra_env or {})}
        self.settings = settings_module.load_settings(environ=self.env)
        mysql_db.create_tables(database.admin, mysql_db_reporting.REPORTING_TABLES)
        mysql_db.create_tables(database.admin, mysql_db_health.HEALTH_TABLES)
        database.admin.load_rows(mysql_db_reporting.PUBLISHERS_TABLE, ["publisher_id", "publisher"],
                                 [[str(p), sim.world.publisher_names[p]] for p in sim.world.publisher_ids])
        for spec_id, name in ((1965885, REPORTS[0]), (1965886, REPORTS[1])):
            readwrite.write_template(self.settings, sim.spec(spec_id)[0], name)

    @property
    def publishers(self):
        return self.sim.world.publisher_ids

    def run(self, reports=REPORTS, **options):
        """The main program's work in-process, with the test's fast HTTP client."""
        options.setdefault("retries", 1)
        return ImportRun(self.settings, ImportOptions(report_names=list(reports), **options), http=self.http).run()

    def script(self, *args, wait=True, **kwargs):
        command = [sys.executable, os.path.join(ROOT, "index-exchange-to-db.py"), *args]
        if not wait:
            return subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, **kwargs)
        return subprocess.run(command, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)

    def script_named(self, name, *args):
        """Another script of the suite, as a user runs it with this installation's settings."""
        return subprocess.run([sys.executable, os.path.join(ROOT, name), *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    def rows(self, sql):
        return self.database.rows(sql)

    def stats_rows(self):
        return self.rows("SELECT COUNT(*) FROM prog_ix_stats")[0][0]

    def run_statuses(self):
        return dict(self.rows("SELECT status, COUNT(*) FROM prog_ix_report_runs GROUP BY status"))

    def template(self, name):
        return readwrite.read_template(self.settings, name)

    def write_template(self, name, spec):
        path = readwrite.template_path(self.settings, name)
        path.write_text(json.dumps(spec))


def summary_figure(text, pattern, default=None):
    """A number of a -R summary (`pattern` has one group), or `default` when absent."""
    import re
    match = re.search(pattern, text)
    if match is None:
        if default is None:
            raise AssertionError(f"no {pattern!r} in the summary:\n{text}")
        return default
    return int(match.group(1))


def run_at_once(hosts, *args, timeout=180):
    """Start index-exchange-to-db.py -R on every host (ImportEnv) at once and wait for all:
    (files loaded, pairs left to other copies) summed over their summaries. Each must exit 0."""
    runs = [host.script("-R", *args, wait=False) for host in hosts]
    outputs = [p.communicate(timeout=timeout) for p in runs]
    assert [p.returncode for p in runs] == [0] * len(runs), outputs
    loaded = sum(summary_figure(out, r"files: (\d+) loaded") for out, _ in outputs)
    left = sum(summary_figure(out, r"pairs left to other copies: (\d+)", default=0) for out, _ in outputs)
    return loaded, left


def wait_until(condition, what, seconds=60):
    """Poll `condition` until true; fail the test naming `what` after `seconds`."""
    import time
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
