"""A CAL installation for one test: tables, API keys, settings pointing at the simulator."""

import csv
import gzip
import io
import os
import subprocess
import sys

import mysql_db
import mysql_db_health
import mysql_db_cal
import settings as settings_module
from calWrapper import CalOptions, CalRun
from conftest import ROOT


class CalEnv:
    def __init__(self, sim, database, home, http):
        self.sim, self.database, self.home, self.http = sim, database, home, http
        self.env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""),
                    "INDEXEXCHANGEBASEURL": sim.base_url, "INDEXEXCHANGEIDENTITYURL": sim.base_url,
                    "INDEXEXCHANGEMAXRETRYWAIT": "5", **database.settings_env}
        self.settings = settings_module.load_settings(environ=self.env)
        mysql_db.create_tables(database.admin, {n: d for n, (_, d) in mysql_db_cal.CAL_TABLES.items()})
        mysql_db.create_tables(database.admin, mysql_db_health.HEALTH_TABLES)
        mysql_db_cal.fill_api_table_mapping(database.admin)
        mysql_db_cal.set_api_keys(database.admin, [(0, "placeholder-never-used")] +
                              [(p, k) for p, k in sim.world.api_keys.items()])

    @property
    def publishers(self):
        return self.sim.world.publisher_ids

    def run(self, **options):
        options.setdefault("workers", 4)
        return CalRun(self.settings, CalOptions(**options), http=self.http).run()

    def script(self, *args, wait=True, stdin=None):
        command = [sys.executable, os.path.join(ROOT, "cal-downloads.py"), *args]
        if not wait:
            return subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        return subprocess.run(command, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120,
                              input=stdin)

    def count(self, table, where=""):
        return self.database.rows(f"SELECT COUNT(*) FROM {table} {where}")[0][0]

    def served_rows(self, kind):
        """Every row the simulator publishes now, as (publisher, parsed row dict)."""
        result = []
        for publisher in self.publishers:
            for file_id in self.sim.cal_file_ids(publisher, kind):
                content, _ = self.sim._cal_content(file_id)
                text = gzip.decompress(content).decode("utf-8")
                result += [(publisher, row) for row in csv.DictReader(io.StringIO(text, newline=""))]
        return result
