"""Column types and the "does this value fit" rules, the same on every engine: what a
strict MySQL server refuses, said in Python (SQLite checks every batch with them; MySQL
uses them to name the row and column of a batch the server refused)."""

import dataclasses
import datetime as dt
import re

from dbengine.errors import ValueDoesNotFitError


@dataclasses.dataclass
class Column:
    name: str
    data_type: str            # lower case: int, bigint, varchar, decimal, datetime...
    nullable: bool = True
    primary_key: bool = False
    has_default: bool = False
    max_length: int = None    # characters, for char/varchar/text
    precision: int = None     # decimal digits in all, for decimal
    scale: int = None         # decimal digits after the point
    unsigned: bool = False
    collation: str = None     # how a text column compares on MySQL; None: bytes as they are (SQLite)

    @property
    def is_integer(self):
        return self.data_type in INTEGER_TYPES


_INT_RANGES = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
INTEGER_TYPES = frozenset(_INT_RANGES)

# The families of declared types, by what their values are: the schema check compares a
# report field's kind with these, and value_problem checks values by them.
TIME, INTEGER, DECIMAL, TEXT = "time", "integer", "decimal", "text"
TYPE_FAMILIES = {
    TIME: frozenset({"datetime", "timestamp", "date"}),
    INTEGER: INTEGER_TYPES,
    DECIMAL: frozenset({"decimal", "numeric", "double", "float", "real"}),
    TEXT: frozenset({"char", "varchar", "tinytext", "text", "mediumtext"}),
}

# The integer rule: an optional sign, then ASCII digits (no spaces, no exponent, no other
# scripts' digits). The same rule in SQL for the MySQL bulk path, which applies it on the
# server (\z: the very end, where $ would also match before a final newline).
_INTEGER = re.compile(r"[+-]?[0-9]+")
INTEGER_SQL_REGEXP = "^[+-]?[0-9]+\\z"


def is_integer_text(value):
    """Whether a text is an integer by the suite's rule (see INTEGER_SQL_REGEXP)."""
    return _INTEGER.fullmatch(value) is not None
_DECIMAL = re.compile(r"[+-]?(?:([0-9]*)\.?([0-9]*))")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?")


# Collations that keep every distinct text distinct: the bytes compared, trailing spaces
# included (MariaDB's NO PAD binary collation, MySQL 8's 0900 binary one).
DISTINCT_KEY_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")


def merging_collation(column):
    """How the column's collation makes distinct texts one key (a reason), or None when
    it keeps them apart. utf8mb4_general_ci takes 'IX-abc' and 'IX-ABC', 'dealé' and
    'deale', 'deal1' and 'deal1 ' for the same value; utf8mb4_bin still pads spaces."""
    collation = (column.collation or "").lower()
    if not collation or collation == "binary" or collation.endswith(("_nopad_bin", "_0900_bin")):
        return None
    if collation.endswith("_bin"):
        return f"{collation} ignores trailing spaces"
    return f"{collation} ignores case, accents and trailing spaces"


def value_problem(column, value):
    """Why `value` (a string or None) does not fit `column`, or None when it fits."""
    if value is None:
        if not column.nullable and not column.has_default:
            return "column is NOT NULL"
        return None
    kind = column.data_type
    if kind in _INT_RANGES:
        if not is_integer_text(value):
            return f"not an integer, column is {kind}"
        bits = _INT_RANGES[kind]
        low, high = (0, 2 ** bits - 1) if column.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not low <= int(value) <= high:
            return f"out of range for {kind}{' unsigned' if column.unsigned else ''}"
        return None
    if kind in ("decimal", "numeric"):
        match = _DECIMAL.fullmatch(value)
        if not match or not (match.group(1) or match.group(2)):
            return f"not a decimal number, column is decimal({column.precision},{column.scale})"
        whole = match.group(1).lstrip("0")
        if column.precision is not None and len(whole) > column.precision - (column.scale or 0):
            return f"too many digits for decimal({column.precision},{column.scale})"
        return None   # extra fractional digits are rounded, as MySQL does
    if kind in ("float", "double", "real"):
        try:
            float(value)
        except ValueError:
            return f"not a number, column is {kind}"
        return None
    if kind in TYPE_FAMILIES[TEXT]:
        if column.max_length is not None and len(value) > column.max_length:
            return f"{len(value)} characters, column is {kind}({column.max_length})"
        return None
    if kind in TYPE_FAMILIES[TIME]:
        if not _DATETIME.fullmatch(value):
            return f"not a date/time (YYYY-MM-DD[ HH:MM:SS]), column is {kind}"
        try:
            dt.date.fromisoformat(value[:10])
            if len(value) > 10:
                dt.time.fromisoformat(value[11:19] if len(value) >= 19 else value[11:16])
        except ValueError:
            return f"not a valid date/time, column is {kind}"
        if kind == "date" and len(value) > 10 and value[10:].strip("0: T"):
            return "has a time of day, column is date"
        return None
    return None


def parse_type(declared):
    """(data_type, max_length, precision, scale, unsigned) from a declared SQL type."""
    text = declared.strip().lower()
    match = re.match(r"([a-z]+)\s*(?:\(\s*([0-9]+)\s*(?:,\s*([0-9]+)\s*)?\))?\s*(unsigned)?", text)
    if not match:
        return text or "text", None, None, None, False
    kind, first, second, unsigned = match.groups()
    first = int(first) if first else None
    second = int(second) if second else None
    if kind in ("char", "varchar"):
        return kind, first, None, None, bool(unsigned)
    if kind in ("decimal", "numeric"):
        return kind, None, first or 10, second or 0, bool(unsigned)
    lengths = {"tinytext": 255, "text": 65535, "mediumtext": 16777215}
    return kind, lengths.get(kind), None, None, bool(unsigned)


def first_problem(batch, columns, first_row_number, table):
    for offset, row in enumerate(batch):
        for column, value in zip(columns, row):
            problem = value_problem(column, value)
            if problem:
                return ValueDoesNotFitError(table, column.name, first_row_number + offset, value, problem)
    return None
