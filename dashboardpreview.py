"""A look at the dashboards without Grafana: each panel's SQL run with Grafana's macro
expansion (grafanamacros) and its variables set to All, drawn with matplotlib where
Grafana would put it (time series as lines, stats as numbers, tables as tables), one
PNG per dashboard. Used by grafana-preview.py."""

import datetime as dt
import decimal
import os

import dashboards
import grafanamacros

GRID_COLUMNS = 24
ROW_INCHES = 0.42          # one grid row of Grafana (30 px) at the figure's scale
WIDTH_INCHES = 20.0
TABLE_ROWS = 8


def panel_rows(db, sql, time_from, time_to, variables):
    """(column names, rows) of one panel's query."""
    return db.fetch_named(grafanamacros.expand(sql, time_from, time_to, variables))


def variable_values(db, spec, time_from, time_to):
    """Every option of each variable (as Grafana sends "All")."""
    values = {}
    for name, _, query in spec.variables:
        _, rows = panel_rows(db, query, time_from, time_to, values)
        values[name] = [row[0] for row in rows] or ["NULL"]
    return values


def render(db, spec, path, time_from, time_to):
    """Draw one dashboard to `path` (PNG); returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    time_from = spec_start(spec, time_to) if time_from is None else time_from
    variables = variable_values(db, spec, time_from, time_to)
    rows_high = max(p.y + p.h for p in spec.panels)
    figure = plt.figure(figsize=(WIDTH_INCHES, rows_high * ROW_INCHES + 1.0))
    top = 1 - 0.8 / (rows_high * ROW_INCHES + 1.0)
    span = f"{_day(time_from)} to {_day(time_to)} UTC"
    figure.suptitle(f"{spec.title}  ({span}; variables: All)", x=0.01, ha="left", fontsize=14, fontweight="bold")
    for panel in spec.panels:
        left, width = panel.x / GRID_COLUMNS, panel.w / GRID_COLUMNS
        bottom = top - (panel.y + panel.h) / rows_high * top
        height = panel.h / rows_high * top
        inset = 0.035 if panel.kind == "timeseries" else 0.01     # room for the value axis' labels
        axes = figure.add_axes([left + inset, bottom + 0.03, width - inset - 0.01, height - 0.06])
        axes.set_title(panel.title, loc="left", fontsize=10)
        try:
            columns, rows = panel_rows(db, panel.sql, time_from, time_to, variables)
        except Exception as err:  # a panel that fails shows why, as Grafana would
            _message(axes, f"error: {err}")
            continue
        {"timeseries": _lines, "stat": _numbers, "table": _table}[panel.kind](axes, columns, rows, panel.unit)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def spec_start(spec, time_to):
    """Where the dashboard's own default range starts (its time_from, "now-7d" say) when it
    ends at `time_to`: as Grafana shows it when it is opened."""
    amount, unit = int(spec.time_from[4:-1]), spec.time_from[-1]
    return time_to - amount * {"m": 60, "h": 3600, "d": 86400}[unit]


def render_all(db, folder, time_from, time_to):
    """Every dashboard to a PNG in `folder`, over [time_from, time_to] (seconds), or over
    its own default range ending at time_to when time_from is None."""
    os.makedirs(folder, exist_ok=True)
    return [render(db, spec, os.path.join(folder, f"{name}.png"), time_from, time_to)
            for name, spec in dashboards.DASHBOARDS.items()]


def _day(stamp):
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def _number(value, column="", unit=None):
    """A value as Grafana shows it with the panel's unit: "$1,234.56", "12.5%", "1,234"."""
    if value is None:
        return "-"
    if column.endswith("_id"):
        return str(value)
    if isinstance(value, decimal.Decimal) and "." not in str(value):   # a SUM of whole numbers
        value = int(value)
    if unit == "currencyUSD" and isinstance(value, (int, float, decimal.Decimal)) and not _is_change(column):
        return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"
    if (unit == "percent" or _is_change(column)) and isinstance(value, (int, float, decimal.Decimal)):
        return f"{value:,.1f}%"
    if isinstance(value, (float, decimal.Decimal)):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_change(column):
    """A column holding a change in percent (as the 7-days panel names it)."""
    return "change" in column or column.endswith(("_pct", "percent"))


def _message(axes, text):
    axes.axis("off")
    axes.text(0.5, 0.5, text[:200], ha="center", va="center", fontsize=9, wrap=True)


def _lines(axes, columns, rows, unit=None):
    if not rows:
        _message(axes, "No data")
        return
    at = columns.index("time") if "time" in columns else columns.index("time_sec")
    series = {}
    if "metric" in columns:
        value = [i for i, c in enumerate(columns) if c not in ("time", "time_sec", "metric")][0]
        for row in rows:
            series.setdefault(str(row[columns.index("metric")]), []).append((row[at], row[value]))
    else:
        for index, name in enumerate(columns):
            if index != at:
                series[name] = [(row[at], row[index]) for row in rows]
    for name, points in series.items():
        times = [dt.datetime.fromtimestamp(int(t), dt.timezone.utc) for t, _ in points]
        axes.plot(times, [float(v or 0) for _, v in points], marker=".", label=name)
    axes.legend(fontsize=8, loc="upper left")
    axes.tick_params(labelsize=8)
    axes.grid(alpha=0.3)
    # From zero, as Grafana draws counts and money: a small change must not look like a fall.
    axes.set_ylim(bottom=min(0, axes.get_ylim()[0]))
    axes.yaxis.set_major_formatter(lambda value, _: _number(float(value), "", unit) if unit == "currencyUSD"
                                   else f"{value:,.0f}")


def _numbers(axes, columns, rows, unit=None):
    axes.axis("off")
    values = rows[0] if rows else [None] * len(columns)
    for index, (name, value) in enumerate(zip(columns, values)):
        x = (index + 0.5) / len(columns)
        axes.text(x, 0.55, _number(value, name, _stat_unit(name, unit)), ha="center", va="center", fontsize=20, fontweight="bold", color="#1f77b4")
        axes.text(x, 0.12, name.replace("_", " "), ha="center", va="center", fontsize=9)


def _stat_unit(column, unit):
    """A stat panel's unit for one of its values: counts among money stay counts."""
    if unit == "currencyUSD" and any(word in column for word in ("impressions", "files", "pairs", "runs")):
        return None
    return unit


def _table(axes, columns, rows, unit=None):
    axes.axis("off")
    if not rows:
        _message(axes, "No data")
        return
    shown = [[_number(v, c)[:40] for c, v in zip(columns, row)] for row in rows[:TABLE_ROWS]]
    table = axes.table(cellText=shown, colLabels=columns, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    if len(rows) > TABLE_ROWS:
        axes.text(0, -0.02, f"... {len(rows) - TABLE_ROWS} more rows", fontsize=8, transform=axes.transAxes)
