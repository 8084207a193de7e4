#!/usr/bin/env python3
"""Run the main program end to end against the Index Exchange simulator, with the embedded
(SQLite) database: no Index Exchange account and no MySQL server needed.

It starts the simulator, makes a sandbox home folder (./sandbox-home, or --home) holding
the settings, the templates (fetched with get-report-template.py) and the database with
its tables and the simulator's publishers, then runs
    index-exchange-to-db.py -R "Generic Revenue Report" "Generic Revenue Report for today only"
as cron would, and prints its summary. Your own ~/.env-secrets and stores are not touched.
"""

import os
import shutil
import subprocess
import sys

import cli
from errors import ConfigurationError
import mysql_db
import mysql_db_reporting
import mysql_db_securereporter
import tableSetupSupport
import settings as settings_module
from standins.ixsimulator import IXSimulator
from standins.securereporter import SecureReporterStandIn

HERE = os.path.dirname(os.path.abspath(__file__))
REPORTS = ["Generic Revenue Report", "Generic Revenue Report for today only"]


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--home", default=os.path.join(HERE, "sandbox-home"),
                        help="sandbox home folder, made anew each time (default ./sandbox-home); an existing folder "
                             "is removed only if the sandbox made it or it is empty")
    parser.add_argument("--runs", type=int, default=1, help="run the main program this many times (default 1)")
    parser.add_argument("--run-delay", type=float, default=2.0, help="simulator: seconds until a file is ready")
    parser.add_argument("--publishers", type=int, default=4, help="simulator: publisher accounts (default 4)")
    parser.add_argument("--secure-reporter", action="store_true",
                        help="then also run secure-reporter-to-db.py -R \"Direct revenue\" against the Secure "
                             "Reporter stand-in")
    return parser


def script(name, *args, env):
    return subprocess.run([sys.executable, os.path.join(HERE, name), *args], env=env, cwd=HERE)


# Written into every home the sandbox makes: only a folder holding it is ever removed.
MARK = ".ix-sandbox-home"


def fresh_home(home):
    """Make `home` anew. An existing folder is removed only when the sandbox made it (it
    holds MARK) or it is empty: `--home ~` must never wipe a person's home."""
    if os.path.islink(home):
        raise ConfigurationError(f"--home {home}: a symbolic link; give a folder of its own")
    if os.path.exists(home):
        if not os.path.isdir(home):
            raise ConfigurationError(f"--home {home}: not a folder")
        if os.listdir(home) and not os.path.isfile(os.path.join(home, MARK)):
            raise ConfigurationError(f"--home {home}: the folder holds files and was not made by run-sandbox.py "
                                     f"(it has no {MARK}); nothing was removed. Give a new or empty folder")
        shutil.rmtree(home)
    os.makedirs(home, mode=0o700)
    with open(os.path.join(home, MARK), "w") as mark:
        mark.write("made by run-sandbox.py; removed and made anew by its next run\n")


def main(args):
    fresh_home(args.home)
    with IXSimulator(seed=1, publishers=args.publishers, run_delay=args.run_delay) as sim:
        env = dict(os.environ, HOME=args.home, INDEXEXCHANGEBASEURL=sim.base_url,
                   INDEXEXCHANGEIDENTITYURL=sim.base_url, INDEXEXCHANGEUSERNAME=sim.world.username,
                   INDEXEXCHANGEPASSWORD=sim.world.password, PROGSALESDBENGINE="sqlite",
                   PROGSALESSQLITEPATH=os.path.join(args.home, "prog_stats.sqlite3"))
        print(f"sandbox: simulator at {sim.base_url}, home {args.home}, SQLite database "
              f"{env['PROGSALESSQLITEPATH']}", flush=True)
        settings = settings_module.load_settings(environ=env)
        db = mysql_db.connect(settings)
        try:
            tableSetupSupport.set_up_tables(db, mysql_db_reporting.REPORTING_TABLES)
            db.load_rows(mysql_db_reporting.PUBLISHERS_TABLE, ["publisher_id", "publisher"],
                         [[str(pid), sim.world.publisher_names[pid]] for pid in sim.world.publisher_ids])
        finally:
            db.close()
        fetched = script("get-report-template.py", "1965885", "1965886", env=env)
        if fetched.returncode:
            return fetched.returncode
        code = 0
        for number in range(1, args.runs + 1):
            print(f"\nsandbox: run {number}: index-exchange-to-db.py -R " + " ".join(f'"{r}"' for r in REPORTS),
                  flush=True)
            code = script("index-exchange-to-db.py", "-R", *REPORTS, env=env).returncode
        db = mysql_db.connect(settings)
        try:
            rows = mysql_db_reporting.stats_by_publisher(db)
        finally:
            db.close()
        print("\nsandbox: prog_ix_stats now holds (publisher_id, rows, impressions):")
        for row in rows:
            print(f"  {row[0]}  {row[1]}  {row[2]}")
    if args.secure_reporter and not code:
        code = secure_reporter_flow(env)
    return code


def secure_reporter_flow(env):
    """The Secure Reporter half: the stand-in, its starter table, one run of the program."""
    with SecureReporterStandIn(seed=1) as standin:
        env = dict(env, SECUREREPORTERBASEURL=standin.base_url, SECUREREPORTERTOKEN=standin.token)
        print(f"\nsandbox: Secure Reporter stand-in at {standin.base_url}", flush=True)
        db = mysql_db.connect(settings_module.load_settings(environ=env))
        try:
            tableSetupSupport.set_up_tables(db, mysql_db_securereporter.SECURE_REPORTER_TABLES)
        finally:
            db.close()
        print('sandbox: secure-reporter-to-db.py -v -R "Direct revenue"', flush=True)
        return script("secure-reporter-to-db.py", "-v", "-R", "Direct revenue", env=env).returncode


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
