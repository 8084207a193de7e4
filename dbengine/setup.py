"""Set-up: creating the suite's tables and granting on them, run as a user that may (never
the importing user). An account is never created: one that does not exist is refused."""

import contextlib
import re

from dbengine.errors import DatabaseError
from dbengine.mysql_literals import literal
from errors import ConfigurationError


def create_tables(db, ddl_by_name):
    """Create the tables that do not exist yet; returns the names created."""
    created = []
    for name, ddl in ddl_by_name.items():
        if db.table_exists(name):
            continue
        db.execute_script([db.table_ddl(ddl)])
        created.append(name)
    return created


_COLUMN_LINE = re.compile(r"^\s+`?([A-Za-z0-9_]+)`?\s+(.+?),?\s*$")
_NOT_A_COLUMN = ("PRIMARY", "KEY", "UNIQUE", "INDEX", "CONSTRAINT", "FOREIGN")


def add_missing_columns(db, ddl_by_name):
    """Add to the existing tables of `ddl_by_name` the columns their CREATE TABLE has and
    they lack (a table made by an older version of the suite); returns ["table.column"].
    Every column the suite adds later is nullable or has a default, so rows already there
    stay valid."""
    added = []
    for table, ddl in ddl_by_name.items():
        if not db.table_exists(table):
            continue
        have = {c.name.lower() for c in db.table_columns(table)}
        for line in ddl.splitlines()[1:]:
            match = _COLUMN_LINE.match(line)
            if not match or match.group(1).upper() in _NOT_A_COLUMN or match.group(1).lower() in have:
                continue
            db.execute_script([f"ALTER TABLE {db.quote(table)} ADD COLUMN {db.quote(match.group(1))} "
                               f"{db.column_ddl(match.group(2))}"])
            added.append(f"{table}.{match.group(1)}")
        db.forget_columns(table)
    return added


def keep_keys_distinct(db, tables):
    """Convert those of `tables` whose key compares distinct texts as one (a table made
    by an older version of the suite, utf8mb4_general_ci) to a collation that keeps them
    apart; returns the names converted. Rows an older load merged stay merged: their
    files must be loaded again to be told apart."""
    converted = []
    for table in tables:
        if db.table_exists(table) and db.merging_key_columns(table):
            db.keep_keys_distinct(table)
            converted.append(table)
    return converted


def access_problem(db, table, needed=("SELECT", "INSERT", "UPDATE"), fix=None):
    """A line saying why this user cannot use `table` as `needed` (it does not exist; it
    exists but lacks a privilege; no grant at all, so whether it exists cannot be seen),
    ending with `fix`, the command that mends it; None when all is well."""
    state = db.table_access(table, tuple(needed))
    if state is None:
        return None
    kind, privileges = state
    if kind == "missing":
        text = f"table {table} does not exist"
    elif kind == "lacks":
        text = f"table {table} exists, but this MySQL user may not {', '.join(privileges)} on it"
    else:
        text = (f"this MySQL user has no grant on table {table} (it may exist: a user sees only the tables it "
                f"has a grant on)")
    return f"{text}; {fix}" if fix else text


def merging_keys_problem(db, table):
    """A line naming the key columns of `table` under which distinct texts are one key,
    with the fix; None when the key keeps them apart."""
    merging = db.merging_key_columns(table)
    if not merging:
        return None
    by_reason = {}
    for name, reason in merging:
        by_reason.setdefault(reason, []).append(name)
    columns = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in by_reason.items())
    return (f"table {table}: its key would take distinct texts for one ({columns}), so two deals or sites "
            f"could share a row; run the set-up script again as the admin (it converts the table), or: "
            f"ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {db.distinct_collation()}")


_ACCOUNT = re.compile(r"([A-Za-z0-9_.\-]{1,80})(?:@([A-Za-z0-9_.%:\-]{1,255}))?")


def existing_accounts(db, account, option="--grant-to"):
    """[(user, host)] for `account` ("NAME" or "NAME@HOST") that exist on the server.
    NAME alone means every host NAME exists for. An account that does not exist is a
    ConfigurationError: the suite never creates one (a GRANT to a missing account makes
    it, with no password, on MariaDB)."""
    match = _ACCOUNT.fullmatch(account or "")
    if not match:
        raise ConfigurationError(f"{option}: {account!r} is not NAME or NAME@HOST (a plain MySQL account)")
    user, host = match.groups()
    try:
        hosts = [h.decode() if isinstance(h, bytes) else h
                 for (h,) in db.fetch_all("SELECT Host FROM mysql.user WHERE User = %s", (user,))]
    except DatabaseError as err:
        raise ConfigurationError(f"{option}: cannot check that the account {user} exists ({err}); "
                                 f"run this as a user that may read mysql.user") from None
    if host is not None:
        hosts = [h for h in hosts if h == host]
    if not hosts:
        named = f"'{user}'@'{host}'" if host is not None else f"'{user}'"
        raise ConfigurationError(
            f"{option}: the MySQL account {named} does not exist, and this program never creates one; "
            f"create it first: CREATE USER '{user}'@'{host or 'HOST'}' IDENTIFIED BY '...'")
    return [(user, h) for h in hosts]


def grant(db, accounts, privileges, tables):
    """GRANT `privileges` on `tables` to existing `accounts`; the session refuses to create
    an account implicitly (NO_AUTO_CREATE_USER; MySQL 8 never does)."""
    with contextlib.suppress(DatabaseError):      # MySQL 8 has no such mode, and needs none
        db.execute_script(["SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_CREATE_USER')"])
    for user, host in accounts:
        for table in tables:
            db.execute_script([f"GRANT {privileges} ON {db.quote(table)} TO {literal(user)}@{literal(host)}"])


def grant_import_rights(db, account, tables):
    """Give the importing account what the import path needs, and no more; returns the
    accounts granted to."""
    accounts = existing_accounts(db, account)
    grant(db, accounts, "SELECT, INSERT, UPDATE", tables)
    return accounts


def grant_read_rights(db, account, tables):
    """SELECT only, on those of `tables` that exist, for a reading account (Grafana's);
    returns the accounts granted to."""
    accounts = existing_accounts(db, account, option="--grafana-user")
    grant(db, accounts, "SELECT", [t for t in tables if db.table_exists(t)])
    return accounts
