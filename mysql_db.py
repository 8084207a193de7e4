"""The database layer, under the seed's name: a facade over the engine package
`dbengine/` (one concern per module: error kinds, column rules, the engine base, the
MySQL and SQLite dialects, MySQL's literals and bulk path, set-up, connecting). With
the suite's table modules (mysql_db_reporting.py, mysql_db_cal.py, ...), the only code
that speaks SQL. The rest of the suite imports from here, never from dbengine directly.

Two engines behind one interface: MySQL/MariaDB (production, mysql-connector-python) and
SQLite (stdlib, the embedded default for machines without a MySQL server). connect()
picks one from settings.
"""

from dbengine.base import DEFAULT_BATCH_SIZE, Database, LoadResult, now_text
from dbengine.columns import (DECIMAL, INTEGER, INTEGER_TYPES, TEXT, TIME, TYPE_FAMILIES, Column,
                              is_integer_text, value_problem)
from dbengine.connecting import ConnectionPerThread, connect, tls_options
from dbengine.errors import (DatabaseConnectionError, DatabaseConnectionLostError, DatabaseDeadlockError,
                             DatabaseError, DatabaseLoginError, DatabasePermissionError, DatabaseReadOnlyError,
                             InvalidColumnsError,
                             MalformedRowError, MissingColumnsError, NoSuchTableError, TransientDatabaseError,
                             ValueDoesNotFitError)
from dbengine.mysql_engine import MySQLDatabase
from dbengine.setup import (access_problem, add_missing_columns, create_tables, existing_accounts, grant, grant_import_rights,
                            grant_read_rights, keep_keys_distinct, merging_keys_problem)
from dbengine.sqlite_engine import SQLiteDatabase

__all__ = [
    "DEFAULT_BATCH_SIZE", "Database", "LoadResult", "now_text", "INTEGER_TYPES", "Column", "value_problem",
    "TIME", "INTEGER", "DECIMAL", "TEXT", "TYPE_FAMILIES", "is_integer_text",
    "ConnectionPerThread", "connect", "tls_options", "DatabaseConnectionError", "DatabaseConnectionLostError",
    "DatabaseDeadlockError", "DatabaseError", "DatabaseLoginError", "DatabasePermissionError", "DatabaseReadOnlyError",
    "InvalidColumnsError", "MalformedRowError", "MissingColumnsError", "NoSuchTableError", "TransientDatabaseError",
    "ValueDoesNotFitError", "MySQLDatabase", "create_tables", "existing_accounts", "grant", "grant_import_rights",
    "grant_read_rights", "SQLiteDatabase", "keep_keys_distinct", "merging_keys_problem", "add_missing_columns", "access_problem",
]
