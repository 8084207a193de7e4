"""The database's error kinds. Every driver error becomes one of these (the dialects do
the mapping), so callers never see a driver's own exception."""

from errors import SuiteError
from utility import listed


class DatabaseError(SuiteError):
    """The database refused or failed an operation."""


class DatabaseConnectionError(DatabaseError):
    """No connection to the database server (down, unreachable): tried again next run."""


class DatabaseLoginError(DatabaseConnectionError):
    """The server refused the user, its password or the database: a configuration error."""
    exit_code = 2


class DatabaseReadOnlyError(DatabaseConnectionError):
    """The server takes no writes (read_only set, a replica, a read-only table): like a
    database out of reach, nothing more can be recorded this run; tried again next run."""


class DatabasePermissionError(DatabaseError):
    """The user may not do this (DELETE, CREATE, a table): a configuration error."""
    exit_code = 2


class TransientDatabaseError(DatabaseError):
    """The server ended the transaction through no fault of its statements: the connection
    was lost, or it was rolled back for a deadlock or a lock wait timeout. Worth running
    the whole transaction again (Database.run_transaction does, boundedly)."""


class DatabaseConnectionLostError(TransientDatabaseError):
    """The connection went away mid-work (server restarted, network blip, killed)."""


class DatabaseDeadlockError(TransientDatabaseError):
    """Deadlock or lock wait timeout (also a Galera certification failure, 1213)."""


class MissingColumnsError(DatabaseError):
    """Rows lack columns the table needs to tell them apart (its primary key)."""

    def __init__(self, table, missing, what=None):
        super().__init__(f"{what or 'rows for ' + table} lack{'s' if what else ''} "
                         f"{listed(missing)} (part of the primary key of {table}); nothing of it was loaded")
        self.table, self.missing = table, list(missing)


class NoSuchTableError(DatabaseError):
    exit_code = 2

    def __init__(self, table):
        super().__init__(f"table {table} does not exist (or this user may not see it)")
        self.table = table


class InvalidColumnsError(DatabaseError):
    def __init__(self, table, unknown, known):
        super().__init__(f"table {table} has no column {listed(repr(c) for c in unknown)}; "
                         f"its columns: {listed(known, limit=30)}")
        self.table, self.unknown = table, list(unknown)


class MalformedRowError(DatabaseError):
    def __init__(self, table, row_number, expected, got):
        super().__init__(f"loading {table}: row {row_number} has {got} fields, the header has {expected}")
        self.table, self.row_number = table, row_number


class ValueDoesNotFitError(DatabaseError):
    def __init__(self, table, column, row_number, value, reason):
        shown = value if value is None or len(str(value)) <= 80 else str(value)[:77] + "..."
        super().__init__(f"loading {table}: row {row_number}, column {column}: value {shown!r} does not fit ({reason})")
        self.table, self.column, self.row_number, self.value = table, column, row_number, value
