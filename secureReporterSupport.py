"""Secure Reporter reports as the suite loads them: the token checked, parameters resolved
(relative dates in UTC), the answer fetched to a file and its records streamed into the
mapped table with the suite's loader (header checked against the table first, so a
record key cannot inject SQL; one transaction per report)."""

import base64
import binascii
import datetime as dt
import decimal
import itertools
import re

import secureReporterAPI
from errors import (AuthenticationError, BadRequestError, ConfigurationError, NotFoundError, PermissionDeniedError,
                    SuiteError)

RESERVED_TOKEN = "api.user"
PRESENTATION_COLUMNS = {"row_style"}
_RELATIVE = re.compile(r"(today|yesterday|month-start|last-month-start)(?:([+-])(\d+)d)?")


class RecordShapeError(SuiteError):
    """A record whose keys differ from the first record's."""


def token_name(token):
    """The name inside a token's Basic credential; ConfigurationError when it is not one,
    or is the reserved api.user (never to be used by other programs)."""
    try:
        name, _, secret = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ConfigurationError("SECUREREPORTERTOKEN is not a token's Basic credential (base64 of name:uuid); "
                                 "copy it from the Tokens page with the clipboard icon") from None
    if not name or not secret:
        raise ConfigurationError("SECUREREPORTERTOKEN is not a token's Basic credential (base64 of name:uuid)")
    if name == RESERVED_TOKEN:
        raise ConfigurationError("SECUREREPORTERTOKEN is the api.user token, which Secure Reporter reserves for its "
                                 "own duties: create a token of your own on the Tokens page")
    return name


def resolve_value(value, today):
    """A parameter value: literal, or a date relative to `today` (UTC) as YYYY-MM-DD."""
    if not isinstance(value, str):
        return str(value)
    match = _RELATIVE.fullmatch(value.strip())
    if not match:
        return value
    anchor, sign, days = match.groups()
    if anchor == "today":
        date = today
    elif anchor == "yesterday":
        date = today - dt.timedelta(days=1)
    elif anchor == "month-start":
        date = today.replace(day=1)
    else:
        last = today.replace(day=1) - dt.timedelta(days=1)
        date = last.replace(day=1)
    if days:
        date += dt.timedelta(days=int(days)) * (1 if sign == "+" else -1)
    return date.isoformat()


def resolve_params(entry_params, overrides, today):
    """The report's parameters: the mapping's, then --param overrides; relative dates resolved."""
    params = dict(entry_params or {})
    params.update(overrides or {})
    return {name: resolve_value(value, today) for name, value in params.items()}


def parse_param_options(texts):
    """{NAME: VALUE} from --param NAME=VALUE options."""
    params = {}
    for text in texts or ():
        name, sep, value = text.partition("=")
        if not sep or not re.fullmatch(r"\w+", name):
            raise ConfigurationError(f"--param takes NAME=VALUE, got {text!r}")
        params[name] = value
    return params


def _token_refused(err):
    return AuthenticationError(err.endpoint, err.status, f"{err.server_message}: the token is unknown or expired "
                               f"(tokens cannot be edited: delete it and create a new one on the Tokens page, "
                               f"then set SECUREREPORTERTOKEN)", err.path)


def report_parameters(http, base_url, token, report):
    """The names of the parameters a report takes (its definition's report fields), or
    None when its definition cannot be had (Secure Reporter gives definitions by id)."""
    try:
        definition = secureReporterAPI.report_definition(http, base_url, token, report)
    except AuthenticationError as err:
        raise _token_refused(err) from None
    except (NotFoundError, BadRequestError, PermissionDeniedError):
        return None
    fields = definition.get("fields")
    if not isinstance(fields, list):
        return None
    return [f["name"] for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]


def unknown_parameters(given, taken):
    """The names of `given` a report does not take (`taken` None: cannot tell, none)."""
    return [] if taken is None else [name for name in given if name not in taken]


def fetch_answer(http, base_url, token, report, params, path):
    """The report's answer into `path`; 401/403 explained."""
    try:
        with open(path, "wb") as target:
            secureReporterAPI.call_report(http, base_url, token, report, params, target)
    except AuthenticationError as err:
        raise _token_refused(err) from None
    except PermissionDeniedError as err:
        raise PermissionDeniedError(err.endpoint, err.status, f"{err.server_message}: the token's groups do not "
                                    f"include this report's (tokens cannot be edited: re-create it with the group)",
                                    err.path) from None
    except BadRequestError as err:
        raise secureReporterAPI.ReportRefusedError(err.endpoint, err.status, err.server_message, err.path) from None


def load_answer(db, path, table, report):
    """Stream the answer's records into `table` (upsert on its key), one transaction, run
    again from the file if the server ends it. Returns mysql_db.LoadResult."""
    return db.run_transaction(lambda: _load_once(db, path, table, report), what=f"loading report {report}")


def _load_once(db, path, table, report):
    import mysql_db
    with open(path, "rb") as answer:
        records = secureReporterAPI.read_records(answer, report)
        first = next(records, None)
        if first is None:
            return mysql_db.LoadResult()
        header = [k for k in first if k not in PRESENTATION_COLUMNS]
        rows = _rows(itertools.chain([first], records), list(first), header, report)
        return db.load_rows(table, header, rows)


def _rows(records, keys, header, report):
    expected = set(keys)
    for number, record in enumerate(records, start=1):
        if set(record) != expected:
            missing, extra = sorted(expected - set(record)), sorted(set(record) - expected)
            raise RecordShapeError(f"report {report}, record {number}: its keys differ from the first record's"
                                   + (f" (lacks {', '.join(missing)})" if missing else "")
                                   + (f" (has {', '.join(extra)} as well)" if extra else ""))
        yield [_text(record[k]) for k in header]


def _text(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def today_utc(clock=None):
    """Today's date in UTC (clock: a datetime, for tests)."""
    return (clock or dt.datetime.now(dt.timezone.utc)).date()

