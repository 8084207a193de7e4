"""The suite's Grafana dashboards as code (grafana-foundation-sdk), from the SQL of
mysql_db_grafana.py: Revenue, CAL and Import health. grafana-build-dashboards.py writes
them to grafana/dashboards/*.json; a test checks the checked-in files match.

Each panel is described once (PANELS), so the builder, the tests and grafana-preview.py
read the same SQL, format and layout.
"""

import dataclasses
import json
import warnings

import mysql_db_grafana as sql

DATASOURCE_UID = "prog_stats"
DATASOURCE = {"type": "mysql", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39


@dataclasses.dataclass(frozen=True)
class PanelSpec:
    kind: str            # timeseries, stat, table
    title: str
    sql: str
    x: int
    y: int
    w: int
    h: int
    unit: str = None
    description: str = ""

    @property
    def format(self):
        return "time_series" if self.kind == "timeseries" else "table"


@dataclasses.dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    variables: tuple     # (name, label, query, multi/includeAll)
    panels: tuple
    time_from: str = "now-30d"


PUBLISHER = ("publisher", "Publisher", sql.PUBLISHER_VARIABLE)
SITE = ("site", "Site", sql.SITE_VARIABLE)

REVENUE = DashboardSpec(
    "ix-revenue", "Index Exchange revenue",
    "Revenue, impressions and eCPM from prog_ix_stats (the starter table of report-create-db-tables.py). "
    "Another reporting table works if it has day (datetime), publisher_id, site_id, site_name, impressions, "
    "ad_spend and publisher_payment. Revenue is publisher_payment; eCPM is revenue per 1,000 impressions.",
    (PUBLISHER, SITE),
    (PanelSpec("stat", "Today (intraday, \"today only\" report)", sql.REVENUE["today"], 0, 0, 8, 4, "currencyUSD",
               "The day the dashboard's range ends on."),
     PanelSpec("stat", "Last 7 days vs the 7 before", sql.REVENUE["last_7_vs_previous_7"], 8, 0, 16, 4, "currencyUSD",
               "Whole days before the range's last day; change in percent."),
     PanelSpec("timeseries", "Revenue by day", sql.REVENUE["revenue_by_day"], 0, 4, 12, 8, "currencyUSD"),
     PanelSpec("timeseries", "Impressions by day", sql.REVENUE["impressions_by_day"], 12, 4, 12, 8, "short"),
     PanelSpec("timeseries", "eCPM by day", sql.REVENUE["ecpm_by_day"], 0, 12, 12, 8, "currencyUSD"),
     PanelSpec("table", "By publisher", sql.REVENUE["by_publisher"], 12, 12, 12, 8),
     PanelSpec("table", "By site", sql.REVENUE["by_site"], 0, 20, 24, 10)))

CAL = DashboardSpec(
    "ix-cal", "Index Exchange CAL",
    "Client audit logs: prog_ix_impression_log and prog_ix_bid_log with the mappings' names.",
    (PUBLISHER,),
    (PanelSpec("stat", "Win rate (impressions / auctions with bids)", sql.CAL["win_rate"], 0, 0, 8, 4, "percent"),
     PanelSpec("stat", "Bids per auction", sql.CAL["bids_per_auction"], 8, 0, 8, 4, "short"),
     PanelSpec("table", "Masked values", sql.CAL["masked_values"], 16, 0, 8, 8,
               description="-1 (masked by Index Exchange) or -9999 (not an integer); XXXX for text."),
     PanelSpec("timeseries", "Impressions by hour", sql.CAL["impressions_by_hour"], 0, 4, 8, 8, "short"),
     PanelSpec("timeseries", "Bids by hour", sql.CAL["bids_by_hour"], 8, 4, 8, 8, "short"),
     PanelSpec("table", "By DSP", sql.CAL["by_dsp"], 0, 12, 8, 10),
     PanelSpec("table", "By deal", sql.CAL["by_deal"], 8, 12, 8, 10),
     PanelSpec("table", "By site", sql.CAL["by_site"], 16, 12, 8, 10)),
    time_from="now-2d")

HEALTH = DashboardSpec(
    "ix-import-health", "Index Exchange import health",
    "The first thing to look at when cron mails: every run of every program (prog_ix_import_log), files "
    "pending, failed or expired, queued pairs, CAL hours missing, and how old the newest data is against "
    "Index Exchange's data timing (daily data lands ~12-13 UTC the next day, CAL within ~5 h).",
    (),
    (PanelSpec("stat", "Files and pairs waiting", sql.HEALTH["files_by_status"], 0, 0, 12, 4, "short"),
     PanelSpec("table", "Newest data against Index Exchange's timing", sql.HEALTH["data_age"], 12, 0, 12, 4),
     PanelSpec("table", "Runs that did not finish, or failed", sql.HEALTH["runs_not_finished_or_failed"],
               0, 4, 24, 7),
     PanelSpec("timeseries", "Rows per run", sql.HEALTH["rows_per_run"], 0, 11, 12, 8, "short"),
     PanelSpec("timeseries", "CAL files per hour", sql.HEALTH["cal_files_per_hour"], 12, 11, 12, 8, "short"),
     PanelSpec("table", "Last load per publisher and report", sql.HEALTH["last_load_per_pair"], 0, 19, 12, 8),
     PanelSpec("table", "CAL hours missing (older than 5 h)", sql.HEALTH["cal_hours_missing"], 12, 19, 12, 8),
     PanelSpec("table", "Files pending or expired", sql.HEALTH["problem_files"], 0, 27, 24, 8)),
    time_from="now-7d")

DASHBOARDS = {"revenue": REVENUE, "cal": CAL, "import-health": HEALTH}


def build(spec):
    """The dashboard's JSON (a dict), through grafana-foundation-sdk."""
    with warnings.catch_warnings():
        # The SDK prefers its v2 dashboards, which Grafana's file provisioning does not read yet.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _build(spec)


def _build(spec):
    from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries
    from grafana_foundation_sdk.cog import variants
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models.dashboard import GridPos, VariableRefresh

    class MySQLQuery(variants.Dataquery):
        """A raw-SQL target of Grafana's MySQL data source (the SDK has no MySQL type)."""

        def __init__(self, ref_id, raw_sql, result_format):
            self.ref_id, self.raw_sql, self.result_format = ref_id, raw_sql, result_format

        def to_json(self):
            return {"refId": self.ref_id, "datasource": DATASOURCE, "rawQuery": True, "editorMode": "code",
                    "format": self.result_format, "rawSql": self.raw_sql}

    class Target:
        def __init__(self, query):
            self.query = query

        def build(self):
            return self.query

    datasource = common.DataSourceRef(type_val="mysql", uid=DATASOURCE_UID)
    builders = {"timeseries": timeseries.Panel, "stat": stat.Panel, "table": table.Panel}
    board = (dashboard.Dashboard(spec.title).uid(spec.uid).description(spec.description)
             .tags(["index-exchange", "prog_stats"]).timezone("utc").time(spec.time_from, "now")
             .refresh("1h").editable())
    for name, label, query in spec.variables:
        board = board.with_variable(dashboard.QueryVariable(name).label(label).query(query).datasource(datasource)
                                    .multi(True).include_all(True)
                                    .refresh(VariableRefresh.ON_DASHBOARD_LOAD))
    for panel in spec.panels:
        built = (builders[panel.kind]().title(panel.title).datasource(datasource)
                 .grid_pos(GridPos(h=panel.h, w=panel.w, x=panel.x, y=panel.y))
                 .with_target(Target(MySQLQuery("A", panel.sql, panel.format))))
        if panel.description:
            built = built.description(panel.description)
        if panel.unit:
            built = built.unit(panel.unit)
        board = board.with_panel(built)
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    data = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    data.pop("id", None)     # provisioning inserts or updates by uid
    data["schemaVersion"] = SCHEMA_VERSION
    return data


def rendered(spec):
    """The JSON text written to grafana/dashboards/ (stable: sorted keys)."""
    return json.dumps(build(spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- alert rules --------------------------------------------------------------------------

ALERT_FOLDER = "Index Exchange import"


@dataclasses.dataclass(frozen=True)
class AlertSpec:
    uid: str
    title: str
    sql: str
    summary: str
    range_seconds: int = 3600       # the query's relative time range (what $__timeFrom() means)
    threshold: float = 0            # alert when the value is above this
    for_: str = "0s"


ALERTS = (
    AlertSpec("ix-no-success", "Index Exchange import: no successful run", sql.ALERTS["no_success"],
              "{{ $labels.program }} has had no successful run for {{ $values.B }} hours longer than its cron "
              "schedule allows: look at ix-status.py or the import-health dashboard."),
    AlertSpec("ix-files-pending", "Index Exchange import: report files pending over a day", sql.ALERTS["files_pending"],
              "{{ $values.B }} report files have been pending for more than 24 hours (pending-files.py lists them)."),
    AlertSpec("ix-cal-hours-missing", "Index Exchange import: CAL hours missing", sql.ALERTS["cal_hours_missing"],
              "Publisher {{ $labels.publisher_id }} lacks {{ $values.B }} hours of CAL impression files in the last "
              "day (older than CAL's 5 h delay).", range_seconds=86400, for_="1h"),
)


def alert_rules():
    """The provisioning file for Grafana's alerting (grafana/provisioning/alerting/), as a
    dict: each rule queries prog_stats (A), reduces each row to its last value (B) and
    fires when it is above the rule's threshold (C)."""
    rules = []
    for alert in ALERTS:
        rules.append({
            "uid": alert.uid, "title": alert.title, "condition": "C", "for": alert.for_,
            "noDataState": "OK", "execErrState": "Error",
            "annotations": {"summary": alert.summary},
            "labels": {"service": "index-exchange-import"},
            "data": [
                {"refId": "A", "datasourceUid": DATASOURCE_UID,
                 "relativeTimeRange": {"from": alert.range_seconds, "to": 0},
                 "model": {"refId": "A", "datasource": DATASOURCE, "rawQuery": True, "editorMode": "code",
                           "format": "table", "rawSql": alert.sql}},
                {"refId": "B", "datasourceUid": "__expr__", "relativeTimeRange": {"from": 0, "to": 0},
                 "model": {"refId": "B", "datasource": {"type": "__expr__", "uid": "__expr__"}, "type": "reduce",
                           "expression": "A", "reducer": "last", "settings": {"mode": "dropNN"}}},
                {"refId": "C", "datasourceUid": "__expr__", "relativeTimeRange": {"from": 0, "to": 0},
                 "model": {"refId": "C", "datasource": {"type": "__expr__", "uid": "__expr__"}, "type": "threshold",
                           "expression": "B",
                           "conditions": [{"evaluator": {"type": "gt", "params": [alert.threshold]}}]}},
            ]})
    return {"apiVersion": 1, "groups": [{"orgId": 1, "name": "index-exchange-import", "folder": ALERT_FOLDER,
                                         "interval": "5m", "rules": rules}]}


def rendered_alerts():
    """The YAML text written to grafana/provisioning/alerting/ (stable; SQL as blocks a
    person can read)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return True

    def text(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return ("# Written by grafana-build-dashboards.py from dashboards.py and mysql_db_grafana.py: edit those.\n"
            + yaml.dump(alert_rules(), Dumper=Dumper, sort_keys=False, allow_unicode=True, width=110))
