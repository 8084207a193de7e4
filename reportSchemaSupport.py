"""Does a report template fit its table? The seed left coordinating the two to be done by
hand; this compares a template's fields with the mapped table's columns, types and key,
and writes a CREATE TABLE that fits a template.

Field kinds come from the field names seen in real reports (docs/ix-api.md);
other names are guessed from their form and marked so.
"""

import mysql_db
import mysql_db_reporting
from mysql_db import DECIMAL, INTEGER, TEXT, TIME, TYPE_FAMILIES

KNOWN_FIELDS = {
    "day": TIME, "hour": TIME, "month": TIME,
    "impressions": INTEGER, "slot_request": INTEGER, "bid_request": INTEGER, "site_id": INTEGER,
    "partner_id": INTEGER,
    "ecpm": DECIMAL, "ad_spend": DECIMAL, "publisher_payment": DECIMAL,
    "creative_type": TEXT, "domain": TEXT, "site_name": TEXT, "size": TEXT, "partner_name": TEXT,
    "dsp_name": TEXT, "deal_id": TEXT, "deal_name": TEXT, "country": TEXT, "device_type": TEXT,
}
_DECIMAL_HINTS = ("revenue", "spend", "payment", "cost", "ecpm", "cpm", "rate", "price", "amount")
_INTEGER_HINTS = ("impressions", "request", "count", "clicks", "views", "bids")
# A blank dimension arrives as this word, so a text column must hold at least its length.
BLANK = "omitted"
# Names that describe an id of the same row: with the id in the key they need not be.
NAME_OF_ID = {"site_name": "site_id", "domain": "site_id", "partner_name": "partner_id", "deal_name": "deal_id"}

COLUMN_TYPES = TYPE_FAMILIES
CREATE_TYPES = {TIME: "datetime NOT NULL", INTEGER: "bigint NOT NULL DEFAULT 0",
                DECIMAL: "decimal(24,8) NOT NULL DEFAULT 0", TEXT: "varchar(255) NOT NULL DEFAULT ''"}


def field_kind(name):
    """(kind, guessed) of a report field."""
    if name in KNOWN_FIELDS:
        return KNOWN_FIELDS[name], False
    lowered = name.lower()
    if any(h in lowered for h in _DECIMAL_HINTS):
        return DECIMAL, True
    if any(h in lowered for h in _INTEGER_HINTS) or lowered.endswith("_id"):
        return INTEGER, True
    return TEXT, True


def is_dimension(name):
    return field_kind(name)[0] in (TEXT,) or (name.endswith("_id") and field_kind(name)[0] == INTEGER)


def _type_text(column):
    if column.data_type in ("char", "varchar"):
        return f"{column.data_type}({column.max_length})"
    if column.data_type in ("decimal", "numeric"):
        return f"{column.data_type}({column.precision},{column.scale})"
    return column.data_type


def column_problem(field, column):
    """What is wrong with `column` for report field `field`, or None."""
    kind, guessed = field_kind(field)
    note = " (kind guessed from the name)" if guessed else ""
    if column.data_type not in COLUMN_TYPES[kind]:
        wanted = {TIME: "datetime", INTEGER: "an integer type (bigint for counts)", DECIMAL: "decimal",
                  TEXT: "varchar"}[kind]
        return f"column {column.name} is {_type_text(column)}, but field {field} holds {kind} values{note}: use {wanted}"
    if kind == TIME and column.data_type == "date" and field == "hour":
        return f"column {column.name} is date, but field hour holds a time of day: use datetime"
    if kind == TEXT and column.max_length is not None and column.max_length < len(BLANK):
        return (f"column {column.name} is {_type_text(column)}: too short for '{BLANK}', which Index Exchange "
                f"writes for a blank {field}")
    if kind == DECIMAL and column.data_type in ("decimal", "numeric") and (column.scale or 0) < 2:
        return f"column {column.name} is {_type_text(column)}: money and rates need decimal places"
    return None


def check_report(db, table, fields):
    """Every problem of `table` for a template with `fields` (empty when it fits)."""
    try:
        columns = {c.name.lower(): c for c in db.table_columns(table)}
    except mysql_db.NoSuchTableError:
        return [f"table {table} does not exist"]
    problems = []
    missing = set(db.missing_columns(table, list(fields) + ["publisher_id"]))
    for field in list(fields) + ["publisher_id"]:
        column = columns.get(field.lower())
        if field in missing:
            kind = field_kind(field)[0] if field != "publisher_id" else INTEGER
            problems.append(f"no column {field} (add: `{field}` {CREATE_TYPES[kind].replace(' DEFAULT 0', '')})")
        elif field == "publisher_id":
            if column.data_type not in COLUMN_TYPES[INTEGER]:
                problems.append(f"column publisher_id is {_type_text(column)}: use int")
        else:
            problem = column_problem(field, column)
            if problem:
                problems.append(problem)
    merging = mysql_db.merging_keys_problem(db, table)
    if merging:
        problems.append(merging)
    key = [c.name.lower() for c in columns.values() if c.primary_key]
    if not key:
        problems.append(f"table {table} has no primary key: a rerun of a report adds its rows again")
    else:
        wanted = ["publisher_id"] + [f for f in fields if field_kind(f)[0] == TIME or is_dimension(f)]
        lacking = [f for f in wanted if f.lower() not in key
                   and not (f in NAME_OF_ID and NAME_OF_ID[f] in key)]
        if lacking:
            problems.append(f"primary key ({', '.join(key)}) lacks {', '.join(lacking)}: rows that differ only "
                            f"in those overwrite each other")
    return problems


def create_table_sql(table, fields):
    """A CREATE TABLE that fits a template: typed columns, keyed so reruns overwrite."""
    columns = [(field, CREATE_TYPES[field_kind(field)[0]]) for field in fields]
    # publisher_id right after the time fields, where a reader of the table looks for it.
    columns.insert(sum(1 for f in fields if field_kind(f)[0] == TIME), ("publisher_id", "int NOT NULL"))
    key = [f for f in fields if field_kind(f)[0] == TIME]
    key.append("publisher_id")
    key += [f for f in fields if is_dimension(f) and field_kind(f)[0] != TIME
            and not (f in NAME_OF_ID and NAME_OF_ID[f] in fields)]
    # Text columns in the key are shortened: InnoDB keys hold at most 3,072 bytes.
    columns = [(name, declared.replace("varchar(255)", "varchar(64)") if name in key else declared)
               for name, declared in columns]
    return mysql_db_reporting.create_table_sql(table, columns, key)
