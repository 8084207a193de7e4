#!/usr/bin/env python3
"""Benchmarks of the main program (not tests: they print figures, they assert nothing).

1. End to end, the real main program against the simulator (100 ms of API latency, 2 s and
   5 s run delay): 1 pair, 20 publishers x 2 reports, 100 x 3, against the bound that
   round trips, the run delay and Index Exchange's 50 runs in progress set. Target: 1.3x.
2. Several hosts: 500 publishers x 3 reports over 1, 2 and 4 copies (--shard K/N, the
   MySQL reportID store). Target: saves = pairs, never more than 50 runs in progress.
3. Loading a one-million-row report file into MariaDB, as new rows (bulk path), as
   updates and as new rows without LOAD DATA (upsert path): rows per second against LOAD
   DATA LOCAL INFILE of the same file into the same table (target: 0.5x), and the loader's
   peak memory (target: under 150 MB whatever the file's size); and the same file
   replacing its window, a million rows replacing a million (target: 0.8x).
4. Loading a one-million-row CAL impression file, new (target 0.7x) and updated (target
   0.4x), next to LOAD DATA LOCAL INFILE of the same rows into the same table.

Every ratio is measured within one run of this script, since these machines vary by
about 25% between runs. Needs root (or an installed MariaDB) for part 3.
"""

import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import cli
import mysql_db
import mysql_db_cal
import mysql_db_reporting
import readwrite
from indexExchangeToDBSupport import RUNS_LIMIT
from standins.ixsimulator import IXSimulator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tests"))
from importenv import summary_figure  # noqa: E402  (tests/ is the benchmark's harness too)

REPORT_NAMES = ["Generic Revenue Report", "Generic Revenue Report for today only", "Generic Revenue Report Last 7 days"]


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="one repeat, 200,000-row files, end to end at 2 s run delay only, no several-hosts scale")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each figure (min/median/max); default 3")
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument("--skip-several-hosts", action="store_true")
    parser.add_argument("--galera", action="store_true",
                        help="also the report loader on a 3-node Galera cluster against one server")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-cal", action="store_true")
    parser.add_argument("--skip-secure-reporter", action="store_true")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the load benchmark's file")
    return parser


# --- end to end ---------------------------------------------------------------------------

E2E_CASES = [("1x1", 1, 1), ("20x2", 20, 2), ("100x3", 100, 3)]
E2E_TARGET = 1.3
# Round trips on the critical path: a token and the list of active specs before any run;
# per round of runs, a spec save and a run request; after the last, the list call that
# sees the file ready and its download.
TRIPS_BEFORE, TRIPS_PER_ROUND, TRIPS_AFTER = 2, 2, 2


def e2e_bound(pairs, latency, run_delay):
    """The shortest time any program could take: Index Exchange's 50-runs limit forces
    ceil(pairs / 50) rounds of (save, run, run delay), after a token and the list of specs,
    and before the last file's list call and download."""
    rounds = math.ceil(pairs / RUNS_LIMIT)
    trips = TRIPS_BEFORE + TRIPS_PER_ROUND * rounds + TRIPS_AFTER
    return trips * latency + rounds * run_delay, trips, rounds


class BenchDatabase:
    """The MariaDB of the benchmark, emptied for each case, as tests/conftest.py does."""

    def __init__(self, server):
        self.server = server
        self.admin = self._connect()
        self.settings_env = {
            "PROGSALESDBENGINE": "mysql", "PROGSALESMYSQLHOSTNAME": "127.0.0.1",
            "PROGSALESMYSQLPORT": str(server.port), "PROGSALESMYSQLUSERNAME": server.import_user,
            "PROGSALESMYSQLPASSWORD": server.import_password, "PROGSALESMYSQLDATABASE": server.database}

    def _connect(self):
        server = self.server
        return mysql_db.MySQLDatabase("127.0.0.1", server.port, server.admin_user, server.admin_password,
                                      server.database)

    def empty(self):
        for (name,) in self.admin.fetch_all(
                f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{self.server.database}'"):
            self.admin.execute_script([f"DROP TABLE `{name}`"])
        self.admin.close()          # a fresh connection: it remembers the tables it has seen
        self.admin = self._connect()

    def status_variable(self, name):
        return int(self.admin.fetch_all(f"SHOW GLOBAL VARIABLES LIKE '{name}'")[0][1])

    def status(self, name):
        return int(self.admin.fetch_all(f"SHOW GLOBAL STATUS LIKE '{name}'")[0][1])


def installation(sim, database, home, reports, extra_env=None):
    """A home with the report templates, for one copy of the main program."""
    from importenv import ImportEnv
    env = ImportEnv(sim, database, home, None, extra_env=extra_env)
    if reports > 2:
        readwrite.write_template(env.settings, sim.spec(1965887)[0], REPORT_NAMES[2])
    return env


def run_copies(database, publishers, reports, copies=1, latency=0.1, run_delay=2.0, store="shelve"):
    """Wall seconds of `copies` copies of index-exchange-to-db.py -R started at once (as
    hosts: a home each, --shard K/N when more than one) over publishers x reports, and
    what the simulator and MariaDB saw. Raises when any file is not loaded exactly once."""
    database.empty()
    with tempfile.TemporaryDirectory() as folder, \
            IXSimulator(seed=1, publishers=publishers, latency=latency, run_delay=run_delay) as sim:
        extra = {"PROGSALESREPORTIDSTORE": store}
        envs = [installation(sim, database, os.path.join(folder, f"host{n}"), reports, extra) for n in range(copies)]
        sim.reset_stats()
        waits_before = database.status("Innodb_row_lock_waits")
        started = time.monotonic()
        processes = []
        for n, env in enumerate(envs):
            shard = ["--shard", f"{n + 1}/{copies}"] if copies > 1 else []
            processes.append(env.script("-R", "-r", "6", *shard, *REPORT_NAMES[:reports], wait=False))
        outputs = [process.communicate() for process in processes]
        wall = time.monotonic() - started
        stats = sim.stats()
        loaded = dict(database.admin.fetch_all("SELECT status, COUNT(*) FROM prog_ix_report_runs GROUP BY status"))
        if any(p.returncode for p in processes) or loaded != {"loaded": publishers * reports}:
            raise RuntimeError(f"benchmark run incomplete ({loaded}):\n" + "\n".join(o + e for o, e in outputs))
        return {"wall": wall, "saves": stats["saves"], "peak": stats["peak_runs_in_progress"],
                "lock_waits": database.status("Innodb_row_lock_waits") - waits_before,
                "elsewhere": sum(summary_figure(o, r"pairs left to other copies: (\d+)", 0) for o, _ in outputs)}


def print_end_to_end(database, repeats, run_delays):
    print(f"end to end: index-exchange-to-db.py -R as a subprocess, MariaDB, simulator latency 0.1 s; bound = "
          f"round trips x latency + run delay, x the rounds of {RUNS_LIMIT} runs; target {E2E_TARGET}x")
    for run_delay in run_delays:
        for case, publishers, reports in E2E_CASES:
            bound, trips, rounds = e2e_bound(publishers * reports, 0.1, run_delay)
            walls = sorted(run_copies(database, publishers, reports, run_delay=run_delay)["wall"]
                           for _ in range(repeats))
            median = statistics.median(walls)
            label = case if run_delay == 2.0 else f"{case}-delay{run_delay:g}"
            print(f"e2e {label}: {median:.2f} s, {median / bound:.2f}x bound (bound {bound:.2f} s = {trips} trips "
                  f"+ {rounds} x {run_delay:g} s; run delay {run_delay:g} s; {repeats} repeats, min/median/max "
                  f"{walls[0]:.2f}/{median:.2f}/{walls[-1]:.2f} s; target {E2E_TARGET}x)")


def print_several_hosts(database, publishers=500, reports=3):
    """Issue 14's scale: 500 publishers x 3 reports over 1, 2 and 4 copies sharing one
    MariaDB and the reportID table; --shard K/N gives each copy 50 // N runs."""
    bound, _, _ = e2e_bound(publishers * reports, 0.1, 2.0)
    print(f"several hosts: {publishers} publishers x {reports} reports, PROGSALESREPORTIDSTORE=mysql, one "
          f"simulator (latency 0.1 s, run delay 2 s; bound {bound:.1f} s); each copy --shard K/N, so at most "
          f"{RUNS_LIMIT} // N runs each")
    for copies in (1, 2, 4):
        seen = run_copies(database, publishers, reports, copies=copies, store="mysql")
        print(f"hosts {copies}: {seen['wall']:.1f} s, {seen['wall'] / bound:.2f}x bound, saves {seen['saves']} "
              f"(pairs {publishers * reports}), peak runs in progress {seen['peak']} (limit {RUNS_LIMIT}, all "
              f"copies), row lock waits {seen['lock_waits']}, pairs left to other copies {seen['elsewhere']}")


# --- loading ------------------------------------------------------------------------------

LOAD_FIELDS = ["day", "site_id", "site_name", "domain", "size", "country", "device_type", "impressions",
               "ad_spend", "publisher_payment", "ecpm"]
LOAD_TABLE = """CREATE TABLE {name} (
  day datetime NOT NULL, publisher_id int NOT NULL, site_id int NOT NULL,
  site_name varchar(255) NOT NULL DEFAULT '', domain varchar(255) NOT NULL DEFAULT '',
  size varchar(16) NOT NULL DEFAULT '', country varchar(2) NOT NULL DEFAULT '',
  device_type varchar(32) NOT NULL DEFAULT '', impressions bigint NOT NULL DEFAULT 0,
  ad_spend decimal(24,8) NOT NULL DEFAULT 0, publisher_payment decimal(24,8) NOT NULL DEFAULT 0,
  ecpm decimal(24,8) NOT NULL DEFAULT 0,
  PRIMARY KEY (day, publisher_id, site_id, size, country, device_type))"""


def load_data_seconds(server, path, table, columns):
    """Seconds for LOAD DATA LOCAL INFILE of a CSV with a header into `table`: the ceiling."""
    conn = server.connect_admin(allow_local_infile=True)
    try:
        cursor = conn.cursor()
        started = time.monotonic()
        cursor.execute(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n' "
            f"IGNORE 1 LINES ({', '.join(columns)}) SET publisher_id = 180280")
        conn.commit()
        return time.monotonic() - started
    finally:
        conn.close()


def make_report_file(path, rows):
    """A report CSV of `rows` rows, made by the simulator's own generator: (rows written,
    (first day, day after the last) of the days it covers)."""
    from standins import ixsimdata
    world = ixsimdata.World(seed=1)
    per_day = 5 * 6 * 7 * 4   # sites x sizes x countries x device types
    days = math.ceil(rows / per_day)
    import datetime as dt
    start = dt.date(2024, 1, 1)
    spec = {"accounts": [world.publisher_ids[0]], "querySpec": {"fields": LOAD_FIELDS},
            "dateRange": {"from": start.isoformat(), "to": (start + dt.timedelta(days=days)).isoformat()}}
    import csv
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LOAD_FIELDS)
        for row in ixsimdata.report_rows(world, spec, start + dt.timedelta(days=days), per_day):
            writer.writerow(row)
            written += 1
            if written == rows:
                break
    return written, (start.isoformat(), (start + dt.timedelta(days=days)).isoformat())


# Each loader runs in a process of its own that imports only what loading needs, and
# reports VmHWM, the high-water mark of its own memory (ru_maxrss would include the
# parent's pages at fork).
PEAK = """
def peak_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
"""

LOADER = PEAK + """
import sys, time
sys.path.insert(0, {here!r})
import mysql_db, reportdownloadWrapper
db = mysql_db.MySQLDatabase("127.0.0.1", {port}, {user!r}, {password!r}, "prog_stats",
                            local_infile_dir={folder!r} if {bulk} else None)
window = {window!r}
replace = reportdownloadWrapper.WindowReplacement("day", window, 1) if window else None
started = time.monotonic()
result = reportdownloadWrapper.load_report_file(db, {path!r}, {table!r}, 180280, replace=replace)
print(result.rows, time.monotonic() - started, peak_mb(), result.method, result.inserted, result.updated)
"""

CAL_LOADER = PEAK + """
import sys, time
sys.path.insert(0, {here!r})
import calSupport, mysql_db
db = mysql_db.MySQLDatabase("127.0.0.1", {port}, {user!r}, {password!r}, "prog_stats", local_infile_dir={folder!r})
cal_file = calSupport.CalFile({file_id}, 180280, "impressions_log", "2026-06-01 00:00:00", "http://x/1", "", {status!r})
started = time.monotonic()
result, shaped = calSupport.load_file(db, {path!r}, "prog_ix_impression_log", cal_file)
print(result.rows, time.monotonic() - started, peak_mb(), result.method, result.inserted, result.updated)
"""

LOAD_TARGETS = {"report-new-bulk": 0.5, "report-upsert-updates": 0.5, "report-replace-window": 0.8,
                "report-upsert-new": 0.5, "cal-new": 0.7, "cal-updates": 0.4}
PEAK_TARGET_MB = 150


def run_loader(template, **fields):
    """(rows, seconds, peak MB, method, inserted, updated) of one loader in its own process."""
    out = subprocess.run([sys.executable, "-c", template.format(here=HERE, **fields)], capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f"loader failed:\n{out.stderr[-2000:]}")
    rows, seconds, peak, method, inserted, updated = out.stdout.split()
    return int(rows), float(seconds), float(peak), method, int(inserted), int(updated)


def print_load_figures(figures, repeats):
    """One line per loader path: median rows/s, median ratio to LOAD DATA within each
    repeat, the highest peak; with min/median/max of the ratio."""
    for path, runs in figures.items():
        ratios = sorted(r["ratio"] for r in runs)
        rates = sorted(r["rate"] for r in runs)
        peak = max(r["peak"] for r in runs)
        print(f"load {path}: {statistics.median(rates):,.0f} rows/s, {statistics.median(ratios):.2f}x LOAD DATA, "
              f"peak {peak:.0f} MB (target {LOAD_TARGETS[path]}x, under {PEAK_TARGET_MB} MB; {repeats} repeats, "
              f"ratio min/median/max {ratios[0]:.2f}/{statistics.median(ratios):.2f}/{ratios[-1]:.2f}; "
              f"{runs[0]['method']})")


def print_load(database, rows, repeats):
    """A report file: the bulk path, the upsert path on updates, the file replacing its
    window (the same rows already in the table: deleted, then loaded on the bulk path), and
    new rows with LOCAL INFILE off; each against LOAD DATA LOCAL of the same file in the
    same repeat."""
    server = database.server
    tables = ("bench_upsert", "bench_loaddata", "bench_plain")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "report.csv")
        written, window = make_report_file(path, rows)
        print(f"report file: {written} rows, {os.path.getsize(path) / 1e6:.0f} MB")
        figures = {"report-new-bulk": [], "report-upsert-updates": [], "report-replace-window": [],
                   "report-upsert-new": []}
        common = dict(port=server.port, user=server.import_user, password=server.import_password, folder=folder,
                      path=path)
        runs_table = mysql_db_reporting.REPORT_RUNS_TABLE
        for _ in range(repeats):
            database.admin.execute_script([f"DROP TABLE IF EXISTS {t}" for t in tables + (runs_table,)]
                                          + [LOAD_TABLE.format(name=t) for t in tables]
                                          + [mysql_db_reporting.REPORTING_TABLES[runs_table],
                                             f"GRANT DELETE ON {server.database}.bench_upsert TO "
                                             f"'{server.import_user}'@'%'"])
            reference = written / load_data_seconds(server, path, "bench_loaddata", LOAD_FIELDS)
            for name, table, bulk, replaces in [("report-new-bulk", "bench_upsert", True, None),
                                                ("report-upsert-updates", "bench_upsert", True, None),
                                                ("report-replace-window", "bench_upsert", True, window),
                                                ("report-upsert-new", "bench_plain", False, None)]:
                loaded, seconds, peak, method, inserted, updated = run_loader(LOADER, table=table, bulk=bulk,
                                                                              window=replaces, **common)
                figures[name].append({"rate": loaded / seconds, "ratio": loaded / seconds / reference, "peak": peak,
                                      "method": f"{method}, {inserted} new, {updated} updated"})
        print_load_figures(figures, repeats)


def make_cal_file(folder, rows):
    import csv
    import datetime as dt
    import gzip
    from standins import ixsimdata
    world = ixsimdata.World(seed=1)
    plain, packed = os.path.join(folder, "log.csv"), os.path.join(folder, "log.csv.gz")
    with open(plain, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(ixsimdata.CAL_IMPRESSION_COLUMNS)
        writer.writerows(ixsimdata.cal_rows(world, world.publisher_ids[0], "impression", dt.datetime(2026, 6, 1), 1,
                                            0, rows, 0))
    with open(plain, "rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
        shutil.copyfileobj(source, target)
    return plain, packed


def print_cal_load(database, rows, repeats):
    """An impression log file (gzip, checked, -9999, `other`, logged): new keys (streamed
    into the bulk path) and the same file again as `updated` (upserted), each against
    LOAD DATA LOCAL of the plain CSV into a copy of the table in the same repeat."""
    from standins import ixsimdata
    server = database.server
    ddl = mysql_db_cal.CAL_TABLES["prog_ix_impression_log"][1]
    with tempfile.TemporaryDirectory() as folder:
        plain, packed = make_cal_file(folder, rows)
        print(f"CAL file: {rows} rows, {os.path.getsize(plain) / 1e6:.0f} MB "
              f"({os.path.getsize(packed) / 1e6:.0f} MB gzip)")
        figures = {"cal-new": [], "cal-updates": []}
        common = dict(port=server.port, user=server.import_user, password=server.import_password, folder=folder,
                      path=packed)
        for repeat in range(repeats):
            database.admin.execute_script(
                ["DROP TABLE IF EXISTS prog_ix_impression_log", "DROP TABLE IF EXISTS bench_cal_loaddata",
                 "DROP TABLE IF EXISTS prog_ix_cal_download_log", ddl,
                 ddl.replace("prog_ix_impression_log", "bench_cal_loaddata"),
                 mysql_db_cal.CAL_TABLES[mysql_db_cal.CAL_DOWNLOAD_LOG_TABLE][1]])
            reference = rows / load_data_seconds(server, plain, "bench_cal_loaddata", ixsimdata.CAL_IMPRESSION_COLUMNS)
            for name, file_id, status in [("cal-new", 1, "new"), ("cal-updates", 2, "updated")]:
                loaded, seconds, peak, method, inserted, updated = run_loader(
                    CAL_LOADER, file_id=file_id, status=status, **common)
                figures[name].append({"rate": loaded / seconds, "ratio": loaded / seconds / reference, "peak": peak,
                                      "method": f"{method}, {inserted} new, {updated} updated"})
        print_load_figures(figures, repeats)


SR_LOADER = PEAK + """
import sys, time
sys.path.insert(0, {here!r})
import mysql_db, secureReporterSupport
db = mysql_db.MySQLDatabase("127.0.0.1", {port}, {user!r}, {password!r}, "prog_stats")
started = time.monotonic()
result = secureReporterSupport.load_answer(db, {path!r}, "prog_sr_direct_revenue", "bench")
print(result.rows, time.monotonic() - started, peak_mb(), "upsert", result.inserted, result.updated)
"""


def write_secure_reporter_answer(path, records):
    """A Secure Reporter answer of `records` records, written record by record."""
    import datetime as dt
    import json
    start = dt.date(2020, 1, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"message": "", "ok": true, "records": [')
        for n in range(records):
            day, advertiser = divmod(n, 1000)
            record = {"day": (start + dt.timedelta(days=day)).isoformat(), "advertiser_id": 7000 + advertiser,
                      "advertiser": f"Advertiser {advertiser}", "bookings": n % 500,
                      "revenue": f"{n % 99991}.{n % 100:02d}" if n % 2 else (n % 99991) + 0.25,
                      "updated_at": "2026-06-01 23:00:00.123456", "row_style": None}
            f.write(("," if n else "") + json.dumps(record))
        f.write("]}")


def print_secure_reporter_load(database, rows):
    """A Secure Reporter answer of `rows` records: records/s and the loader's peak memory,
    against the main program's upsert path on the same number of rows."""
    import mysql_db_securereporter
    server = database.server
    with tempfile.TemporaryDirectory() as folder:
        answer, report = os.path.join(folder, "answer.json"), os.path.join(folder, "report.csv")
        write_secure_reporter_answer(answer, rows)
        make_report_file(report, rows)
        database.admin.execute_script(
            ["DROP TABLE IF EXISTS prog_sr_direct_revenue", "DROP TABLE IF EXISTS bench_plain",
             mysql_db_securereporter.SECURE_REPORTER_TABLES["prog_sr_direct_revenue"],
             LOAD_TABLE.format(name="bench_plain")])
        print(f"Secure Reporter answer: {rows} records, {os.path.getsize(answer) / 1e6:.0f} MB of JSON")
        common = dict(port=server.port, user=server.import_user, password=server.import_password)
        loaded, seconds, peak, _, _, _ = run_loader(SR_LOADER, path=answer, **common)
        upsert_rows, upsert_seconds, _, _, _, _ = run_loader(LOADER, table="bench_plain", bulk=False, folder=folder,
                                                             path=report, window=None, **common)
        rate, upsert_rate = loaded / seconds, upsert_rows / upsert_seconds
        print(f"secure-reporter loader: {loaded} records in {seconds:.1f} s = {rate:,.0f} records/s, "
              f"{rate / upsert_rate:.2f}x the main program's upsert path ({upsert_rate:,.0f} rows/s; target at "
              f"least 0.5x); peak memory {peak:.0f} MB (target under {PEAK_TARGET_MB} MB)")


def print_galera(database, rows):
    """The report loader into node 1 of a 3-node Galera cluster (tests/galera_cluster.py)
    against the single server, same file: each write set is certified and applied on
    the other two nodes before COMMIT returns."""
    from galera_cluster import GaleraCluster
    server = database.server
    with tempfile.TemporaryDirectory() as folder, GaleraCluster() as cluster:
        path = os.path.join(folder, "report.csv")
        written, _ = make_report_file(path, rows)
        print(f"Galera: 3 nodes on this machine, {written}-row report file loaded through node 1")
        targets = {"one server": (server.port, database.admin),
                   "galera": (cluster.port(1), mysql_db.MySQLDatabase(
                       "127.0.0.1", cluster.port(1), cluster.admin_user, cluster.admin_password, cluster.database))}
        rates = {}
        for label, (port, admin) in targets.items():
            admin.execute_script(["DROP TABLE IF EXISTS bench_galera_bulk", "DROP TABLE IF EXISTS bench_galera_upsert",
                                  LOAD_TABLE.format(name="bench_galera_bulk"),
                                  LOAD_TABLE.format(name="bench_galera_upsert")])
            common = dict(port=port, user=server.import_user, password=server.import_password, folder=folder,
                          path=path)
            for name, table, bulk in [("bulk", "bench_galera_bulk", True), ("upsert-new", "bench_galera_upsert", False),
                                      ("upsert-updates", "bench_galera_upsert", False)]:
                loaded, seconds, _, _, _, _ = run_loader(LOADER, table=table, bulk=bulk, window=None, **common)
                rates[(label, name)] = loaded / seconds
        targets["galera"][1].close()
        for name in ("bulk", "upsert-new", "upsert-updates"):
            one, cluster_rate = rates[("one server", name)], rates[("galera", name)]
            print(f"galera report-{name}: {cluster_rate:,.0f} rows/s on the cluster, {one:,.0f} on one server: "
                  f"{cluster_rate / one:.2f}x")


BUFFER_POOL = "2G"     # larger than any table the benchmark fills: the figures are not about paging


def main(args):
    from mariadb_server import MariaDBServer
    repeats = 1 if args.quick else args.repeats
    rows = 200_000 if args.quick else args.rows
    with MariaDBServer(extra_options=[f"--innodb-buffer-pool-size={BUFFER_POOL}"]) as server:
        database = BenchDatabase(server)
        pool = database.status_variable("innodb_buffer_pool_size")
        print(f"MariaDB {database.admin.fetch_all('SELECT VERSION()')[0][0]}, InnoDB buffer pool "
              f"{pool / 2**20:.0f} MB; {os.cpu_count()} cores")
        if not args.skip_end_to_end:
            print_end_to_end(database, repeats, [2.0] if args.quick else [2.0, 5.0])
        if not (args.skip_several_hosts or args.quick):
            print_several_hosts(database)
        if not args.skip_load:
            print_load(database, rows, repeats)
        if not args.skip_cal:
            print_cal_load(database, rows, repeats)
        if not (args.skip_secure_reporter or args.quick):
            print_secure_reporter_load(database, rows)
        if args.galera:
            print_galera(database, rows)
        database.admin.close()
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
