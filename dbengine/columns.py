"""Column types and the "does this value fit" rules, the same on every engine: what a
strict MySQL server refuses, said in Python (SQLite checks every batch with them; MySQL
uses them to name the row and column of a batch the server refused)."""

import dataclasses
import datetime as dt
import decimal
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


class Unfit(ValueError):
    """A value a strict MySQL/MariaDB server refuses for its column (the reason)."""


# Whitespace MariaDB skips around a number or a date (not other scripts' spaces).
_SPACE = " \t\n\r\x0b\x0c"
# A number as MariaDB reads one into a numeric column: sign, digits with a point and
# an exponent, and no more ('1e3', '.5', '5.', '+1'; not '0x10', '1,5', '٣', '1_000').
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A date, time optional, with any punctuation between its parts ('2026-06-01',
# '2026/6/1', '2026-06-01T10:11:12.5', '26-06-01 1:2:3').
_DELIMITED = re.compile(r"([0-9]{4}|[0-9]{2})[^0-9A-Za-z\s]([0-9]{1,2})[^0-9A-Za-z\s]([0-9]{1,2})"
                        r"(?:(?:T|\s+)([0-9]{1,2})(?:[^0-9A-Za-z\s]([0-9]{1,2})"
                        r"(?:[^0-9A-Za-z\s]([0-9]{1,2})(?:\.([0-9]+))?)?)?)?")
_DIGITS_ONLY = {8: "%Y%m%d", 14: "%Y%m%d%H%M%S", 6: "%y%m%d", 12: "%y%m%d%H%M%S"}


def stored_value(column, value):
    """What a strict MySQL/MariaDB server stores for `value` (a string or None) in
    `column`, as the text SQLite stores (integers, numbers with the column's decimal
    places, 'YYYY-MM-DD HH:MM:SS' dates), so both engines keep the same values and the
    same keys; Unfit(reason) where the server refuses it. Measured on MariaDB 10.11:
    integers and decimals are rounded half away from zero, surrounding spaces and an
    exponent are taken, a date may use any punctuation or none ('20260601'), a time's
    fraction beyond the column's is cut, a DATE column drops the time of day."""
    if value is None:
        if not column.nullable and not column.has_default:
            raise Unfit("column is NOT NULL")
        return None
    kind = column.data_type
    if kind in _INT_RANGES:
        number = _number(value, f"not an integer, column is {kind}")
        bits = _INT_RANGES[kind]
        if number.adjusted() > 20:        # '1e999999999' is out of range, not a billion digits to make
            raise Unfit(f"out of range for {kind}{' unsigned' if column.unsigned else ''}")
        whole = int(number.to_integral_value(rounding=decimal.ROUND_HALF_UP))
        low, high = (0, 2 ** bits - 1) if column.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not low <= whole <= high:
            raise Unfit(f"out of range for {kind}{' unsigned' if column.unsigned else ''}")
        return str(whole)
    if kind in ("decimal", "numeric"):
        declared = f"decimal({column.precision},{column.scale})"
        number = _number(value, f"not a decimal number, column is {declared}")
        scale = column.scale or 0
        whole_digits = (column.precision or 65) - scale
        if number.adjusted() + 1 > whole_digits:
            raise Unfit(f"too many digits for {declared}")
        rounded = number.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP,
                                  context=decimal.Context(prec=100))
        if rounded.adjusted() + 1 > whole_digits:
            raise Unfit(f"too many digits for {declared}")
        return format(rounded + 0, "f") if rounded else format(abs(rounded), "f")
    if kind in ("float", "double", "real"):
        number = float(_number(value, f"not a number, column is {kind}"))
        if number in (float("inf"), float("-inf")):
            raise Unfit(f"out of range for {kind}")
        return repr(number)
    if kind in TYPE_FAMILIES[TEXT]:
        if column.max_length is not None and len(value) > column.max_length:
            raise Unfit(f"{len(value)} characters, column is {kind}({column.max_length})")
        return value
    if kind in TYPE_FAMILIES[TIME]:
        moment, fraction = _moment(value, kind)
        if kind == "date":
            return moment.strftime("%Y-%m-%d")
        digits = column.precision or 0
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
        return text + "." + (fraction + "000000")[:digits] if digits else text
    return value


def _number(value, reason):
    text = value.strip(_SPACE)
    if not _NUMBER.fullmatch(text):
        raise Unfit(reason)
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise Unfit(reason) from None


def _moment(value, kind):
    """(datetime, fraction digits) of a date/time as MariaDB reads one."""
    reason = f"not a date/time (YYYY-MM-DD[ HH:MM:SS]), column is {kind}"
    text = value.strip(_SPACE)
    fraction = ""
    try:
        if text.isdigit() and len(text) in _DIGITS_ONLY and text.isascii():
            moment = dt.datetime.strptime(text, _DIGITS_ONLY[len(text)])
        else:
            match = _DELIMITED.fullmatch(text)
            if not match:
                raise Unfit(reason)
            year, month, day, hour, minute, second, fraction = match.groups()
            year = int(year) + (0 if len(year) == 4 else 2000 if int(year) < 70 else 1900)
            moment = dt.datetime(year, int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
            fraction = fraction or ""
    except ValueError:
        raise Unfit(f"not a valid date/time, column is {kind}") from None
    return moment, fraction


def value_problem(column, value):
    """Why `value` (a string or None) does not fit `column`, or None when it fits."""
    try:
        stored_value(column, value)
    except Unfit as refused:
        return str(refused)
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
    if kind in ("datetime", "timestamp", "time"):
        return kind, None, first or 0, None, False      # precision: digits of a second's fraction
    lengths = {"tinytext": 255, "text": 65535, "mediumtext": 16777215}
    return kind, lengths.get(kind), None, None, bool(unsigned)


def first_problem(batch, columns, first_row_number, table):
    for offset, row in enumerate(batch):
        for column, value in zip(columns, row):
            problem = value_problem(column, value)
            if problem:
                return ValueDoesNotFitError(table, column.name, first_row_number + offset, value, problem)
    return None
