"""Connecting: the engine settings choose (MySQL by default, SQLite when
PROGSALESDBENGINE=sqlite), TLS options for MySQL, and a connection per worker thread."""

import os
import threading

from dbengine.mysql_engine import MySQLDatabase
from dbengine.sqlite_engine import SQLiteDatabase
from errors import ConfigurationError


def connect(settings, user=None, password=None, local_infile_dir=None):
    """A Database from settings: MySQL by default, SQLite when PROGSALESDBENGINE=sqlite.

    `user`/`password` override the importing user's, for the table-creating steps.
    `local_infile_dir` lets MySQL bulk-load files of that folder (unless
    PROGSALESMYSQLLOCALINFILE=off).
    """
    if settings.get("PROGSALESDBENGINE") == "sqlite":
        return SQLiteDatabase(settings.sqlite_path())
    return MySQLDatabase(
        host=settings.get("PROGSALESMYSQLHOSTNAME"), port=settings.integer("PROGSALESMYSQLPORT"),
        user=user or settings.require("PROGSALESMYSQLUSERNAME"),
        password=password if password is not None else settings.require("PROGSALESMYSQLPASSWORD"),
        database=settings.get("PROGSALESMYSQLDATABASE"),
        local_infile_dir=local_infile_dir if settings.get("PROGSALESMYSQLLOCALINFILE") != "off" else None,
        tls=tls_options(settings))


def tls_options(settings):
    """The connector's TLS options from PROGSALESMYSQLTLS: `on` requires TLS and, unless the
    host is this machine, verifies the server's certificate and name (against
    PROGSALESMYSQLTLSCA, or the system's CAs)."""
    mode = settings.get("PROGSALESMYSQLTLS")
    if mode == "off":
        return {"ssl_disabled": True}
    if mode == "auto":
        return {}
    options = {"ssl_disabled": False}
    if not settings.is_local_host("PROGSALESMYSQLHOSTNAME"):
        import ssl
        ca = settings.get("PROGSALESMYSQLTLSCA") or ssl.get_default_verify_paths().cafile \
            or "/etc/ssl/certs/ca-certificates.crt"
        if not os.path.isfile(ca):
            raise ConfigurationError(f"PROGSALESMYSQLTLS=on: no CA file {ca} to verify the server with "
                                     f"(set PROGSALESMYSQLTLSCA)")
        options.update(ssl_ca=ca, ssl_verify_cert=True, ssl_verify_identity=True)
    return options


class ConnectionPerThread:
    """A database connection for each worker thread (connections are not thread-safe)."""

    def __init__(self, settings, local_infile_dir=None):
        self._settings = settings
        self._local_infile_dir = local_infile_dir
        self._local = threading.local()
        self._all = []
        self._lock = threading.Lock()

    def get(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self._settings, local_infile_dir=self._local_infile_dir)
            with self._lock:
                self._all.append(db)
        return db

    def transactions_retried(self):
        """Transactions run again so far, over every thread's connection."""
        with self._lock:
            return sum(db.transactions_retried for db in self._all)

    def close(self):
        for db in self._all:
            db.close()
