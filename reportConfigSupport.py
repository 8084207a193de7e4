"""What the main program checks before its first call to Index Exchange: the templates,
the mapping, the tables and the importing user's rights on them, the publishers; and,
for a backfill (--from/--to), the window. Every problem is found and said at once, as
one ConfigurationError (exit 2, nothing sent).
"""

import mappingfile
import mysql_db
import mysql_db_reporting
import readwrite
from errors import ConfigurationError
from utility import listed, only_known


def check_configuration(settings, db, report_names, publisher_filter=None):
    """(publishers [(id, name)], templates {name: spec}, tables {name: table}), or one
    ConfigurationError listing every problem found."""
    publishers, templates, tables, problems = configuration_problems(settings, db, report_names, publisher_filter)
    refuse(problems)
    return publishers, templates, tables


def refuse(problems):
    """One ConfigurationError saying every problem, when there is one."""
    if problems:
        raise ConfigurationError("nothing was sent to Index Exchange:\n  " + "\n  ".join(problems))


def configuration_problems(settings, db, report_names, publisher_filter=None):
    """(publishers, templates, tables, problems): what check_configuration finds, the
    templates that could be read and the problem lines, for a caller that adds its own."""
    problems = []
    templates, tables = {}, {}
    mapping = mappingfile.report_mapping(settings)
    fix = set_up_command(settings, "report-create-db-tables.py")
    for table in (mysql_db_reporting.PUBLISHERS_TABLE, mysql_db_reporting.REPORT_RUNS_TABLE,
                  mysql_db_reporting.PAIR_QUEUE_TABLE, mysql_db_reporting.SPEC_SAVES_TABLE):
        problem = mysql_db.access_problem(db, table, fix=fix)
        lacking = [] if problem else db.missing_columns(table, mysql_db_reporting.columns_of(table))
        if problem:
            problems.append(problem)
        elif lacking:
            problems.append(f"table {table} was made by an older version (it lacks {listed(lacking)}): "
                            f"{fix.replace('it creates what is missing', 'it adds what is missing')}")
    for name in report_names:
        try:
            templates[name] = readwrite.read_template(settings, name)
        except ConfigurationError as err:
            problems.append(f"report {name!r}: {err}")
        try:
            entry = mapping.entry(name)
        except ConfigurationError as err:
            problems.append(f"report {name!r}: {err}")
            continue
        table = tables[name] = entry["db_table"]
        wanted = list(templates[name]["querySpec"]["fields"]) if name in templates else []
        # A report whose files replace their window deletes rows: DELETE is needed too.
        needed = ("SELECT", "INSERT", "UPDATE", "DELETE") if entry.get("replace") else ("SELECT", "INSERT", "UPDATE")
        access = mysql_db.access_problem(db, table, needed=needed, fix=fix)
        if access:
            problems.append(f"report {name!r}: {access}")
            continue
        if entry.get("replace"):
            problems += [f"report {name!r}: {p}" for p in replace_problems(db, table, entry["replace"], wanted)]
        missing = db.missing_columns(table, wanted + ["publisher_id"])
        if missing:
            problems.append(f"report {name!r}: table {table} has no column for {listed(missing)}")
        merging = mysql_db.merging_keys_problem(db, table)
        if merging and merging not in problems:
            problems.append(merging)
    publishers = []
    if db.table_exists(mysql_db_reporting.PUBLISHERS_TABLE):
        publishers = mysql_db_reporting.publishers(db)
        if not publishers:
            problems.append(f"table {mysql_db_reporting.PUBLISHERS_TABLE} is empty: add the publishers to import")
        try:
            publishers = only_known(publishers, publisher_filter, "-l", mysql_db_reporting.PUBLISHERS_TABLE)
        except ConfigurationError as err:
            problems.append(str(err))
    return publishers, templates, tables, problems


def replace_problems(db, table, column, fields):
    """Why a mapping entry's `"replace": column` cannot work, as lines ([] when it can)."""
    columns = {c.name.lower(): c for c in db.table_columns(table)}
    found = columns.get(column.lower())
    if found is None:
        return [f"\"replace\": {column!r}: table {table} has no such column"]
    problems = []
    if found.data_type not in mysql_db.TYPE_FAMILIES[mysql_db.TIME]:
        problems.append(f"\"replace\": {column!r} is {found.data_type} in {table}, not a date or time")
    if fields and column.lower() not in {f.lower() for f in fields}:
        problems.append(f"\"replace\": {column!r} is not a field of the template, so its files carry no such "
                        f"date")
    return problems


def set_up_command(settings, script):
    """The command an admin runs to create a table and grant the importing user on it."""
    user = settings.get("PROGSALESMYSQLUSERNAME") or "IMPORTUSER"
    return f"as the admin run: {script} -u ADMINUSER --grant-to {user} (it creates what is missing and grants on " \
           f"every table the mapping names)"
