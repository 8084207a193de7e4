"""The database engine behind mysql_db.py, one concern per module (mysql_db.py re-exports
what the rest of the suite uses, under the seed's name):

- errors.py          the database's error kinds (all SuiteErrors)
- columns.py         column types and the "does this value fit" rules: the one place the
                     type families and the integer rule live
- base.py            the engine base: transactions, whole-transaction retry, reconnect
                     waits, loading rows in batches, counting existing keys
- mysql_engine.py    the MySQL/MariaDB dialect (the only importer of the MySQL driver)
- mysql_literals.py  MySQL string literals for the upsert statements (the fast path)
- mysql_bulk.py      MySQL's bulk path: LOAD DATA LOCAL in savepoints, the named-pipe writer
- sqlite_engine.py   the SQLite dialect (the only importer of sqlite3)
- setup.py           creating tables, checking accounts, granting
- connecting.py      choosing an engine from settings, TLS options, a connection per thread
"""
