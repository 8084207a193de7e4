"""The suite's shape, checked so it cannot erode silently (README, "Architecture"):
which module may import which, SQL only in the database modules, the engine package's
own rules (drivers only in their dialects, no engine tests outside it), modules of a
size a person can read, and no import cycle."""

import ast
import glob
import os
import re
import sys

import pytest

from conftest import ROOT

STDLIB = set(sys.stdlib_module_names)
THIRD_PARTY = {"requests", "urllib3", "dotenv", "mysql", "_mysql_connector", "grafana_foundation_sdk", "matplotlib",
               "yaml", "jsonschema", "ijson"}
ENGINE_PACKAGE = "dbengine"
MAX_LINES = 600


def top_level(name):
    return name.split(".")[0]


def source_files():
    """{module or script name: path} of the suite's own Python files: the top level, and
    the engine package's modules as dbengine.<name>."""
    files = {os.path.basename(p)[:-3]: p for p in glob.glob(os.path.join(ROOT, "*.py"))}
    for path in glob.glob(os.path.join(ROOT, ENGINE_PACKAGE, "*.py")):
        name = os.path.basename(path)[:-3]
        files[ENGINE_PACKAGE if name == "__init__" else f"{ENGINE_PACKAGE}.{name}"] = path
    return files


LIBRARY = {name: path for name, path in source_files().items() if "-" not in name}
SCRIPTS = {name: path for name, path in source_files().items() if "-" in name}


def _module_name(dotted):
    """A library module's name for a dotted import (dbengine.base stays whole), else its top level."""
    return dotted if dotted in LIBRARY else top_level(dotted)


def imports(path):
    """The modules a file imports (anywhere in it): library modules by their names here,
    the rest by their top-level names."""
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_module_name(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(_module_name(node.module))
            found |= {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in LIBRARY}
            if node.module == "standins":
                found.add("standins")
    return found


def own_imports(path):
    return imports(path) - STDLIB - THIRD_PARTY


def is_api(name):
    return name.endswith("API")


def in_engine(name):
    return name == ENGINE_PACKAGE or name.startswith(ENGINE_PACKAGE + ".")


def is_database(name):
    """The database layer: the facade mysql_db.py, the table modules mysql_db_*.py, and
    the engine package."""
    return name.startswith("mysql_db") or in_engine(name)


def is_support(name):
    return name.endswith(("Support", "Wrapper"))


def run_modules():
    """The modules that define a cron program's run: a class on cronrun.CronRun, or on
    another run class (BackfillRun on ImportRun)."""
    classes = {}
    for name, path in LIBRARY.items():
        tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = (name, [getattr(base, "id", None) for base in node.bases])
    runs = {"CronRun"}
    while True:
        more = {cls for cls, (_, bases) in classes.items() if runs & set(bases)} - runs
        if not more:
            break
        runs |= more
    return sorted({classes[cls][0] for cls in runs if cls in classes and cls != "CronRun"})


def test_run_modules_are_found_through_subclasses():
    assert {"indexExchangeToDBSupport", "backfillSupport", "calWrapper"} <= set(run_modules())


def test_the_layers_are_where_the_readme_says():
    assert {n for n in LIBRARY if is_api(n)} >= {"authenticationAPI", "calAPI", "reportdownloadAPI",
                                                "reportmanagementAPI"}
    assert {"mysql_db", "mysql_db_reporting", "dbengine.base", "dbengine.mysql_engine",
            "dbengine.sqlite_engine"} <= {n for n in LIBRARY if is_database(n)}
    assert "cronrun" in LIBRARY and os.path.isdir(os.path.join(ROOT, "standins"))
    assert {"indexExchangeToDBSupport", "calWrapper"} <= set(run_modules())


@pytest.mark.parametrize("name", sorted(n for n in LIBRARY if is_api(n)))
def test_api_modules_import_nothing_above_the_http_layer(name):
    allowed = {"errors", "httpclient", "utility"}
    assert own_imports(LIBRARY[name]) <= allowed, f"{name} may import only {sorted(allowed)}"


@pytest.mark.parametrize("name", sorted(n for n in LIBRARY if is_database(n) and not in_engine(n)))
def test_table_modules_import_only_the_facade_and_the_base(name):
    allowed = {"errors", "utility", "mysql_db"} | ({n for n in LIBRARY if in_engine(n)} if name == "mysql_db" else set())
    assert own_imports(LIBRARY[name]) <= allowed, f"{name} may import only {sorted(allowed)}"


@pytest.mark.parametrize("name", sorted(n for n in LIBRARY if in_engine(n)))
def test_the_engine_package_imports_only_itself_and_the_base(name):
    allowed = {"errors", "utility"} | {n for n in LIBRARY if in_engine(n)}
    assert own_imports(LIBRARY[name]) <= allowed, f"{name} may import only {sorted(allowed)}"


@pytest.mark.parametrize("name", sorted(n for n in {**LIBRARY, **SCRIPTS} if not is_database(n)))
def test_only_the_facade_is_imported_from_outside_the_database_layer(name):
    used = own_imports({**LIBRARY, **SCRIPTS}[name])
    assert not {m for m in used if in_engine(m)}, f"{name} imports the engine package: import mysql_db instead"


DRIVERS = {"mysql": "dbengine.mysql_engine", "_mysql_connector": "dbengine.mysql_engine",
           "sqlite3": "dbengine.sqlite_engine"}


@pytest.mark.parametrize("name", sorted({**LIBRARY, **SCRIPTS}))
def test_database_drivers_are_imported_only_by_their_dialect(name):
    used = imports({**LIBRARY, **SCRIPTS}[name])
    wrong = [driver for driver, dialect in DRIVERS.items() if driver in used and name != dialect]
    assert not wrong, f"{name} imports {wrong}: only {sorted(set(DRIVERS.values()))} may"


ENGINE_TEST = re.compile(r"\bengine\s*[!=]=|[!=]=\s*\S*\.engine\b")


@pytest.mark.parametrize("name", sorted(n for n in {**LIBRARY, **SCRIPTS} if not in_engine(n)))
def test_no_engine_test_outside_the_engine_package(name):
    """Engine differences are hooks on the engine, not `db.engine ==` branches."""
    text = open({**LIBRARY, **SCRIPTS}[name], encoding="utf-8").read()
    found = [line.strip() for line in text.splitlines() if ENGINE_TEST.search(line)]
    assert not found, f"{name} tests the engine: {found}"


def test_the_engine_test_finds_engine_tests():
    assert ENGINE_TEST.search('if db.engine == "sqlite":') and ENGINE_TEST.search('"mysql" != db.engine')
    assert not ENGINE_TEST.search("the engine's hooks")


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_modules_stay_readable(name):
    lines = sum(1 for _ in open(LIBRARY[name], encoding="utf-8"))
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concern (at most ~{MAX_LINES})"


@pytest.mark.parametrize("name", run_modules())
def test_orchestrators_call_support_never_an_api_module(name):
    assert not {m for m in own_imports(LIBRARY[name]) if is_api(m)}


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_modules_import_no_script_cli_or_stand_in(name):
    used = own_imports(LIBRARY[name])
    assert "cli" not in used or name == "cli", "cli.py serves the scripts only"
    assert "standins" not in used, "stand-ins are not what cron runs"
    assert used <= set(LIBRARY) | {ENGINE_PACKAGE}, f"{name} imports {sorted(used - set(LIBRARY))}"
    text = open(LIBRARY[name], encoding="utf-8").read()
    assert not re.search(r"(run_path|spec_from_file_location|import_module)\(", text), "no script loaded"


def test_the_library_has_no_import_cycle():
    graph = {name: own_imports(path) & set(LIBRARY) - {name} for name, path in LIBRARY.items()}
    visiting, done = set(), set()

    def visit(node, trail):
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join(trail + [node])
        visiting.add(node)
        for following in sorted(graph[node]):
            visit(following, trail + [node])
        visiting.discard(node)
        done.add(node)

    for name in sorted(graph):
        visit(name, [])


SQL = re.compile(r"^\s*(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|USER|DATABASE)|"
                 r"ALTER\s+TABLE|DROP\s+(TABLE|USER|DATABASE)|GRANT\s|LOAD\s+DATA|SAVEPOINT\s|SET\s+(SESSION|GLOBAL|@))",
                 re.DOTALL)


def string_texts(path):
    """(line, text) of every string literal, f-strings with their fixed parts joined."""
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


# The benchmark times LOAD DATA against the suite's loaders on a server of its own.
SQL_ALLOWED = {"run-benchmarks"}


@pytest.mark.parametrize("name", sorted(n for n in {**LIBRARY, **SCRIPTS} if not is_database(n) and n not in SQL_ALLOWED))
def test_no_sql_outside_the_database_modules(name):
    path = {**LIBRARY, **SCRIPTS}[name]
    found = [(line, text[:60]) for line, text in string_texts(path) if SQL.match(text)]
    assert not found, f"SQL in {name}.py: {found}"


def test_the_sql_check_finds_sql():
    assert SQL.match("SELECT publisher_id FROM prog_ix_stats")
    assert SQL.match("INSERT INTO t (a) VALUES ")
    assert not SQL.match("select the reports to run")
