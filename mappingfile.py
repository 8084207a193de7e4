"""Mapping files kept by hand (report_to_db_table_mapping.py, and the like): read as data,
never imported or executed, so a typo in one can never break `-h` or run code, and every
mistake is one ConfigurationError naming the file, the line and what is wrong.

A mapping file assigns a dictionary literal to one name:
    REPORT_TO_DB_TABLE = {"Report name": {"db_table": "prog_ix_stats", "reportID": 1965885}, ...}
"""

import ast
import difflib
import os
import re

from errors import ConfigurationError

HERE = os.path.dirname(os.path.abspath(__file__))
_TABLE_NAME = re.compile(r"[A-Za-z0-9_$]{1,64}")


class MappingFile:
    """The entries of one hand-kept mapping file: {name: {field: value}}, checked against
    `fields` ({field: (type, required)})."""

    def __init__(self, path, variable, fields):
        self.path, self.variable, self.fields = path, variable, fields
        self.entries, self.lines = _read(path, variable)
        for name, entry in self.entries.items():
            self._check_entry(name, entry)

    def _where(self, name=None):
        line = self.lines.get(name) if name is not None else None
        return f"{self.path}, line {line}" if line else str(self.path)

    def _check_entry(self, name, entry):
        where = self._where(name)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{where}: each key of {self.variable} must be a report name (a string)")
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where}: the entry {name!r} must be a dictionary such as "
                                     f"{{\"db_table\": \"prog_ix_stats\"}}, not {type(entry).__name__}")
        for key in entry:
            if key not in self.fields:
                close = difflib.get_close_matches(str(key), list(self.fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigurationError(f"{where}: the entry {name!r} has an unknown key {key!r}{hint}; "
                                         f"an entry may have {', '.join(self.fields)}")
        for field, (kind, required) in self.fields.items():
            if field not in entry:
                if required:
                    raise ConfigurationError(f"{where}: the entry {name!r} has no {field!r}")
                continue
            value = entry[field]
            if isinstance(value, bool) or not isinstance(value, kind):
                kinds = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
                raise ConfigurationError(f"{where}: the entry {name!r}: {field} must be a {kinds}, got {value!r}")

    def entry(self, name):
        """The entry for `name`; ConfigurationError (with the nearest names) when there is none."""
        if name in self.entries:
            return self.entries[name]
        close = difflib.get_close_matches(name, list(self.entries), n=2)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise ConfigurationError(f"no entry {name!r} in {self.path}{hint}")

    def get(self, name):
        """The entry for `name`, or None."""
        return self.entries.get(name)


def _read(path, variable):
    """({key: value}, {key: line}) of the dictionary literal assigned to `variable`."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise ConfigurationError(f"cannot read {path}: {err.strerror}") from None
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as err:
        raise ConfigurationError(f"{path}, line {err.lineno}: {err.msg} (a Python syntax error)") from None
    assignments = [node for node in tree.body if isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets)]
    if not assignments:
        raise ConfigurationError(f"{path}: no {variable} = {{...}} in it")
    node = assignments[0].value
    if not isinstance(node, ast.Dict):
        raise ConfigurationError(f"{path}, line {node.lineno}: {variable} must be a dictionary {{...}}")
    entries, lines = {}, {}
    for key_node, value_node in zip(node.keys, node.values):
        if key_node is None:
            raise ConfigurationError(f"{path}, line {value_node.lineno}: ** is not allowed in {variable}")
        try:
            key, value = ast.literal_eval(key_node), ast.literal_eval(value_node)
        except (ValueError, SyntaxError, TypeError):
            raise ConfigurationError(f"{path}, line {key_node.lineno}: only plain values (text, numbers, "
                                     f"dictionaries) may stand in {variable}") from None
        if key in entries:
            raise ConfigurationError(f"{path}, line {key_node.lineno}: {key!r} is in {variable} twice "
                                     f"(first on line {lines[key]})")
        entries[key], lines[key] = value, key_node.lineno
    _refuse_other_statements(path, variable, tree, assignments)
    return entries, lines


def _refuse_other_statements(path, variable, tree, assignments):
    """Only the one dictionary is read: anything else would be silently ignored (an entry
    added as `NAME["x"] = {...}` would be "no entry")."""
    for statement in tree.body:
        docstring = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
            and isinstance(statement.value.value, str)
        if statement is assignments[0] or docstring:
            continue
        if statement in assignments:
            raise ConfigurationError(f"{path}, line {statement.lineno}: {variable} is assigned a second time "
                                     f"(first on line {assignments[0].lineno}); keep one dictionary")
        raise ConfigurationError(f"{path}, line {statement.lineno}: only the dictionary {variable} = {{...}} is "
                                 f"read, and this line is not part of it; put every entry inside the dictionary")


# --- the reporting half's mapping ---------------------------------------------------------

REPORT_MAPPING_FILE = os.path.join(HERE, "report_to_db_table_mapping.py")
REPORT_MAPPING_FIELDS = {"db_table": (str, True), "reportID": (int, False), "replace": (str, False)}


def report_mapping(settings):
    """The report mapping file (PROGSALESREPORTMAPPINGFILE, by default
    report_to_db_table_mapping.py beside the programs), checked."""
    path = settings.get("PROGSALESREPORTMAPPINGFILE") or REPORT_MAPPING_FILE
    return _check_table_names(MappingFile(path, "REPORT_TO_DB_TABLE", REPORT_MAPPING_FIELDS))


def report_tables(mapping):
    """{table: privileges the importing user needs beyond SELECT, INSERT, UPDATE} of the
    tables a report mapping names."""
    tables = {}
    for entry in mapping.entries.values():
        tables.setdefault(entry["db_table"], set())
        if entry.get("replace"):
            tables[entry["db_table"]].add("DELETE")
    return {table: tuple(sorted(extra)) for table, extra in tables.items()}


def _check_table_names(mapping):
    """Every entry's db_table must be a plain table name (it is quoted later, but a mistake
    is best named with its line)."""
    for name, entry in mapping.entries.items():
        if not _TABLE_NAME.fullmatch(entry["db_table"]):
            raise ConfigurationError(f"{mapping._where(name)}: the entry {name!r}: db_table {entry['db_table']!r} "
                                     f"is not a table name")
    return mapping


# --- Secure Reporter's mapping ------------------------------------------------------------

SECURE_REPORTER_MAPPING_FILE = os.path.join(HERE, "secure_reporter_to_db_table_mapping.py")
SECURE_REPORTER_MAPPING_FIELDS = {"report": ((str, int), True), "db_table": (str, True), "params": (dict, False)}


def secure_reporter_mapping(settings):
    """secure_reporter_to_db_table_mapping.py (or SECUREREPORTERMAPPINGFILE), checked."""
    path = settings.get("SECUREREPORTERMAPPINGFILE") or SECURE_REPORTER_MAPPING_FILE
    mapping = _check_table_names(MappingFile(path, "SECURE_REPORTER_TO_DB_TABLE", SECURE_REPORTER_MAPPING_FIELDS))
    for name, entry in mapping.entries.items():
        for key, value in (entry.get("params") or {}).items():
            if not isinstance(key, str) or isinstance(value, (dict, list, tuple)):
                raise ConfigurationError(f"{mapping._where(name)}: the entry {name!r}: params must map names to "
                                         f"plain values, got {key!r}: {value!r}")
    return mapping
