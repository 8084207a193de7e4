"""Grafana's MySQL macros and variables expanded as Grafana documents them, so a panel's
SQL can be run without Grafana: by the tests (on MariaDB, as Grafana's read-only user)
and by grafana-preview.py. Times are Unix seconds of the dashboard's range.
"""

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MACRO = re.compile(r"\$__(timeFilter|timeGroupAlias|timeGroup|time|unixEpochFilter)\(([^)]*)\)"
                    r"|\$__(timeFrom|timeTo|unixEpochFrom|unixEpochTo)\(\)"
                    r"|\$__(interval_ms|interval)\b")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _seconds(text):
    match = re.fullmatch(r"\s*'?(\d+)([smhdw])'?\s*", text)
    if not match:
        raise ValueError(f"not an interval: {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _interval_text(seconds):
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def expand(sql, time_from, time_to, variables=None, interval=3600):
    """`sql` with Grafana's macros and `variables` ({name: [values]}) in place. Several
    values are interpolated as Grafana does for a multi-value or All variable: strings
    quoted ('a','b', quotes doubled), numbers as they are."""
    time_from, time_to = int(time_from), int(time_to)

    def macro(match):
        name, argument, plain, interval_name = match.groups()
        if plain:
            return {"timeFrom": f"FROM_UNIXTIME({time_from})", "timeTo": f"FROM_UNIXTIME({time_to})",
                    "unixEpochFrom": str(time_from), "unixEpochTo": str(time_to)}[plain]
        if interval_name:
            return str(interval * 1000) if interval_name == "interval_ms" else _interval_text(interval)
        arguments = [a.strip() for a in argument.split(",")]
        column = arguments[0]
        if name == "timeFilter":
            return f"{column} BETWEEN FROM_UNIXTIME({time_from}) AND FROM_UNIXTIME({time_to})"
        if name == "time":
            return f"UNIX_TIMESTAMP({column}) as time_sec"
        if name == "unixEpochFilter":
            return f"{column} >= {time_from} AND {column} <= {time_to}"
        step = _seconds(arguments[1])
        group = f"UNIX_TIMESTAMP({column}) DIV {step} * {step}"
        return group + ' AS "time"' if name == "timeGroupAlias" else group

    expanded = _MACRO.sub(macro, sql)
    variables = variables or {}

    def variable(match):
        name = match.group(1) or match.group(2)
        if name not in variables:
            return match.group(0)
        return ",".join(_value(v) for v in variables[name]) or "NULL"

    return _VARIABLE.sub(variable, expanded)


def _value(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return text if re.fullmatch(r"-?\d+(\.\d+)?", text) else "'" + text.replace("'", "''") + "'"
