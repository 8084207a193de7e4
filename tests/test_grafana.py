"""The Grafana dashboards proven without Grafana: the checked-in JSON is what dashboards.py
builds and fits Grafana's dashboard schema; every panel's SQL, with the macros expanded as
Grafana documents them and the variables set to All and to one value, runs on MariaDB as
a read-only user over data the suite itself loaded from the simulator, returns what its
format needs, and (one panel per dashboard at least) the numbers computed independently."""

import collections
import datetime as dt
import decimal
import json
import os
import time

import jsonschema
import pytest
import yaml

import dashboards
import grafanamacros
import mysql_db
import mysql_db_grafana
from calenv import CalEnv
from conftest import ROOT, SIM_START
from importenv import ImportEnv

READER, READER_PASSWORD = "grafana_reader", "reader-pw-for-tests"
# Report and CAL data are dated by the simulator's clock; the suite's own bookkeeping
# (runs, loads) by the real one.
TIME_FROM, TIME_TO = int(SIM_START) - 40 * 86400, int(SIM_START)
NOW = int(time.time())
RANGES = {"revenue": (TIME_FROM, TIME_TO), "cal": (TIME_FROM, TIME_TO), "import-health": (NOW - 86400, NOW + 3600)}
# Panels of the health dashboard over data dated by the simulator.
SIMULATED_DATA = {"CAL files per hour", "CAL hours missing (older than 5 h)",
                  "Newest data against Index Exchange's timing"}


def test_checked_in_dashboards_are_what_the_sources_build():
    for name, spec in dashboards.DASHBOARDS.items():
        path = os.path.join(ROOT, "grafana", "dashboards", f"{name}.json")
        assert open(path, encoding="utf-8").read() == dashboards.rendered(spec), \
            f"{path} is out of date: run grafana-build-dashboards.py"


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_dashboards_fit_grafanas_schema_and_point_at_the_provisioned_source(name):
    schema = json.load(open(os.path.join(ROOT, "tests", "data", "dashboard.jsonschema.json")))
    board = json.load(open(os.path.join(ROOT, "grafana", "dashboards", f"{name}.json")))
    jsonschema.Draft7Validator(schema).validate(board)
    assert "id" not in board and board["uid"] and board["timezone"] == "utc"
    source = yaml.safe_load(open(os.path.join(ROOT, "grafana", "provisioning", "datasources", "prog_stats.yaml")))
    [datasource] = source["datasources"]
    assert datasource["uid"] == dashboards.DATASOURCE_UID and datasource["jsonData"]["timezone"] == "+00:00"
    assert datasource["secureJsonData"]["password"].startswith("${")
    for panel in board["panels"]:
        [target] = panel["targets"]
        assert target["datasource"]["uid"] == datasource["uid"] and target["rawQuery"] is True
        assert "user()" not in target["rawSql"].lower() and "show grants" not in target["rawSql"].lower()
    provider = yaml.safe_load(open(os.path.join(ROOT, "grafana", "provisioning", "dashboards", "index-exchange.yaml")))
    assert provider["providers"][0]["type"] == "file"


# --- the SQL, on data the suite loaded ----------------------------------------------------

@pytest.fixture(scope="module")
def loaded(request, tmp_path_factory):
    """MariaDB with reporting and CAL data loaded by the suite from the simulator, and a
    reader with Grafana's grants."""
    from httpclient import HttpClient
    from standins.ixsimulator import IXSimulator
    server = request.getfixturevalue("mariadb")
    from conftest import _empty_database, DatabaseUnderTest
    _empty_database(server)
    admin = mysql_db.MySQLDatabase("127.0.0.1", server.port, server.admin_user, server.admin_password, server.database)
    importer = mysql_db.MySQLDatabase("127.0.0.1", server.port, server.import_user, server.import_password,
                                      server.database)
    env = {"PROGSALESDBENGINE": "mysql", "PROGSALESMYSQLHOSTNAME": "127.0.0.1",
           "PROGSALESMYSQLPORT": str(server.port), "PROGSALESMYSQLUSERNAME": server.import_user,
           "PROGSALESMYSQLPASSWORD": server.import_password, "PROGSALESMYSQLDATABASE": server.database}
    database = DatabaseUnderTest("mariadb", importer, admin, env)
    http = HttpClient(timeout=5, max_wait=5, backoff_factor=0.05, backoff_max=0.2, jitter=0.01)
    home = tmp_path_factory.mktemp("home")
    with IXSimulator(seed=1, start_time=SIM_START, run_delay=0, cal_window_hours=3) as sim:
        ix = ImportEnv(sim, database, home, http)
        template = ix.template("Generic Revenue Report")
        template["dateRange"] = {"from": "2026-05-01", "to": "2026-06-05"}
        ix.write_template("Generic Revenue Report", template)
        summary = ix.run()
        assert summary.complete
        cal = CalEnv(sim, database, home, http)
        cal_summary = cal.run(mappings=True, impressions=True, bids=True)
        assert cal_summary.complete, cal_summary.problems
        served = cal.served_rows("impression")
        admin.execute_script([f"DROP USER IF EXISTS '{READER}'@'%'",
                              f"CREATE USER '{READER}'@'%' IDENTIFIED BY '{READER_PASSWORD}'"])
        mysql_db.grant_read_rights(admin, READER, mysql_db_grafana.GRAFANA_TABLES)
        reader = mysql_db.MySQLDatabase("127.0.0.1", server.port, READER, READER_PASSWORD, server.database)
        yield {"reader": reader, "admin": admin, "summary": summary, "cal_summary": cal_summary,
               "served": served, "publishers": sim.world.publisher_ids}
    reader.close()
    http.close()
    importer.close()
    admin.execute_script([f"DROP USER IF EXISTS '{READER}'@'%'"])
    admin.close()


def options(reader, query, variables):
    return [row[0] for row in reader.fetch_all(grafanamacros.expand(query, TIME_FROM, TIME_TO, variables))]


def choices(loaded, spec, one):
    """Variable values as Grafana would send them: every option (All), or the first one."""
    values = {}
    for name, _, query in spec.variables:
        found = options(loaded["reader"], query, values)
        assert found, f"variable {name} has no options"
        values[name] = found[:1] if one else found
    return values


def run_panel(loaded, panel, variables, dashboard="revenue"):
    span = (TIME_FROM, TIME_TO) if panel.title in SIMULATED_DATA else RANGES[dashboard]
    sql = grafanamacros.expand(panel.sql, *span, variables)
    return loaded["reader"].fetch_named(sql)


PANELS = [(name, panel) for name, spec in dashboards.DASHBOARDS.items() for panel in spec.panels]


@pytest.mark.parametrize("one", [False, True], ids=["All", "one value"])
@pytest.mark.parametrize("name,panel", PANELS, ids=[f"{n}: {p.title}" for n, p in PANELS])
def test_every_panel_runs_as_the_reader_and_returns_what_its_format_needs(loaded, name, panel, one):
    spec = dashboards.DASHBOARDS[name]
    columns, rows = run_panel(loaded, panel, choices(loaded, spec, one), name)
    if panel.format == "time_series":
        assert "time" in columns, columns
        assert rows, f"{panel.title}: no data in the range"
        assert all(isinstance(r[columns.index("time")], (int, decimal.Decimal)) for r in rows)
    else:
        assert columns and rows is not None


def by_name(spec, title):
    return next(p for p in spec.panels if p.title == title)


def test_revenue_by_publisher_is_exact(loaded):
    spec = dashboards.REVENUE
    columns, rows = run_panel(loaded, by_name(spec, "By publisher"), choices(loaded, spec, one=False))
    expected = collections.defaultdict(decimal.Decimal)
    for publisher, day, payment in loaded["admin"].fetch_all(
            "SELECT publisher_id, day, publisher_payment FROM prog_ix_stats"):
        if TIME_FROM <= day.replace(tzinfo=__import__("datetime").timezone.utc).timestamp() <= TIME_TO:
            expected[publisher] += payment
    got = {row[0]: row[columns.index("revenue")] for row in rows}
    assert got == dict(expected) and set(got) == set(loaded["publishers"])


def test_revenue_by_day_for_one_publisher_is_exact(loaded):
    spec = dashboards.REVENUE
    variables = choices(loaded, spec, one=True)
    columns, rows = run_panel(loaded, by_name(spec, "Revenue by day"), variables)
    expected = collections.defaultdict(decimal.Decimal)
    for day, payment in loaded["admin"].fetch_all(
            f"SELECT day, publisher_payment FROM prog_ix_stats WHERE publisher_id = {variables['publisher'][0]} "
            f"AND site_id = {variables['site'][0]}"):
        stamp = int(day.replace(tzinfo=__import__("datetime").timezone.utc).timestamp())
        if TIME_FROM <= stamp <= TIME_TO:
            expected[stamp // 86400 * 86400] += payment
    assert {int(r[0]): r[1] for r in rows} == dict(expected)


def test_cal_impressions_by_hour_match_what_the_simulator_published(loaded):
    spec = dashboards.CAL
    columns, rows = run_panel(loaded, by_name(spec, "Impressions by hour"), choices(loaded, spec, one=False))
    published = collections.Counter()
    for _, row in loaded["served"]:
        stamp = int(__import__("datetime").datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
                    .replace(tzinfo=__import__("datetime").timezone.utc).timestamp())
        published[stamp // 3600 * 3600] += 1
    assert {int(r[0]): r[1] for r in rows} == dict(published)
    assert sum(published.values()) == loaded["admin"].fetch_all("SELECT COUNT(*) FROM prog_ix_impression_log")[0][0]


def test_import_health_rows_per_run_match_the_runs(loaded):
    spec = dashboards.HEALTH
    columns, rows = run_panel(loaded, by_name(spec, "Rows per run"), {}, "import-health")
    by_program = {row[columns.index("metric")]: row[columns.index("rows_loaded")] for row in rows}
    summary, cal_summary = loaded["summary"], loaded["cal_summary"]
    assert by_program == {"index-exchange-to-db.py": summary.rows_inserted + summary.rows_updated,
                          "cal-downloads.py": cal_summary.rows_loaded}
    columns, rows = run_panel(loaded, by_name(spec, "Last load per publisher and report"), {}, "import-health")
    assert len(rows) == len(loaded["publishers"]) * 2


@pytest.mark.parametrize("own_ranges", [False, True])
def test_preview_draws_every_dashboard(loaded, tmp_path, own_ranges):
    import dashboardpreview
    paths = dashboardpreview.render_all(loaded["reader"], str(tmp_path), None if own_ranges else TIME_FROM, TIME_TO)
    assert sorted(os.path.basename(p) for p in paths) == ["cal.png", "import-health.png", "revenue.png"]
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_previews_values_carry_their_units_and_dashboards_their_own_ranges():
    import dashboardpreview
    assert dashboardpreview._number(decimal.Decimal("1234.5"), "revenue_today", "currencyUSD") == "$1,234.50"
    assert dashboardpreview._number(12.345, "change_percent", "currencyUSD") == "12.3%"
    assert dashboardpreview._number(7, "win_rate", "percent") == "7.0%"
    assert dashboardpreview._stat_unit("impressions_today", "currencyUSD") is None
    assert dashboardpreview._number(1234567, "impressions_today", None) == "1,234,567"
    assert dashboardpreview.spec_start(dashboards.CAL, TIME_TO) == TIME_TO - 2 * 86400
    assert dashboardpreview.spec_start(dashboards.REVENUE, TIME_TO) == TIME_TO - 30 * 86400


def test_cal_hours_missing_counts_gaps_not_the_time_before_the_first_file(loaded):
    spec = dashboards.HEALTH
    panel = by_name(spec, "CAL hours missing (older than 5 h)")
    # The simulator published 05:00, 06:00 and 07:00; with the range ending at 13:00 the
    # hours up to 07:00 are due, and all are there.
    columns, rows = loaded["reader"].fetch_named(grafanamacros.expand(panel.sql, TIME_FROM, TIME_TO + 5 * 3600))
    assert rows and all(row[columns.index("hours_missing")] == 0 for row in rows)
    # Ending the range at 15:00, 08:00 and 09:00 are due too, and missing for everyone.
    columns, rows = loaded["reader"].fetch_named(grafanamacros.expand(panel.sql, TIME_FROM, TIME_TO + 7 * 3600))
    assert {row[0]: row[1] for row in rows} == {p: 2 for p in loaded["publishers"]}


# --- alert rules ------------------------------------------------------------------------------

def test_the_alert_rules_file_is_what_the_sources_build():
    path = os.path.join(ROOT, "grafana", "provisioning", "alerting", "index-exchange.yaml")
    assert open(path, encoding="utf-8").read() == dashboards.rendered_alerts(), \
        f"{path} is out of date: run grafana-build-dashboards.py"
    rules = yaml.safe_load(open(path))["groups"][0]["rules"]
    assert {r["uid"] for r in rules} == {"ix-no-success", "ix-files-pending", "ix-cal-hours-missing"}
    for rule in rules:
        query, reduce, threshold = rule["data"]
        assert query["datasourceUid"] == dashboards.DATASOURCE_UID and query["model"]["format"] == "table"
        assert (reduce["model"]["type"], threshold["model"]["type"], rule["condition"]) == ("reduce", "threshold", "C")


@pytest.mark.parametrize("alert", dashboards.ALERTS, ids=[a.uid for a in dashboards.ALERTS])
def test_each_alert_rules_sql_runs_for_grafanas_reader(loaded, alert):
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    columns, rows = loaded["reader"].fetch_named(grafanamacros.expand(alert.sql, now - alert.range_seconds, now))
    assert columns and all(isinstance(row[-1], (int, float, decimal.Decimal)) or row[-1] is None for row in rows)


def test_the_alert_rules_fire_exactly_on_what_needs_a_person(mariadb_database):
    import mysql_db_health
    import mysql_db_reporting
    admin = mariadb_database.admin
    mysql_db.create_tables(admin, mysql_db_health.HEALTH_TABLES)
    mysql_db.create_tables(admin, mysql_db_reporting.REPORTING_TABLES)

    def ago(hours):
        return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")

    for run_id, program, hours, code in (("a", "cal-downloads.py", 1, 0), ("b", "index-exchange-to-db.py", 100, 0),
                                         ("c", "index-exchange-to-db.py", 2, 1)):
        admin.execute("INSERT INTO prog_ix_import_log (run_id, program, host, started_at, finished_at, exit_code) "
                      "VALUES (%s, %s, 'h', %s, %s, %s)", (run_id, program, ago(hours), ago(hours), code))
    for file_id, hours in ((1, 30), (2, 2)):
        admin.execute("INSERT INTO prog_ix_report_runs (file_id, report_id, publisher_id, report_name, db_table, "
                      "status, requested_at) VALUES (%s, 1, 1, 'r', 't', 'pending', %s)", (file_id, ago(hours)))
    overdue = dict(admin.fetch_all(dashboards.ALERTS[0].sql))
    assert float(overdue["cal-downloads.py"]) < 0, "a success an hour ago: within its 3 h"
    assert 9 < float(overdue["index-exchange-to-db.py"]) < 11, "100 h since its last success, 90 allowed"
    assert admin.fetch_all(dashboards.ALERTS[1].sql) == [(1,)], "one file pending over a day"
