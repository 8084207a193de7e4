"""Shared fixtures: the Index Exchange simulator over real HTTP on 127.0.0.1."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from standins.ixsimulator import IXSimulator  # noqa: E402

# A fixed simulator clock: 2026-06-05 08:00:00 UTC, so dates in tests never depend on
# the day the tests run.
SIM_START = 1780646400.0


@pytest.fixture
def http():
    """The suite's HTTP client with short waits, so retry tests are quick; same rules."""
    from httpclient import HttpClient
    client = HttpClient(timeout=5, max_wait=5, backoff_factor=0.05, backoff_max=0.2, jitter=0.01)
    yield client
    client.close()


@pytest.fixture
def sim():
    """A fresh simulator, files ready at once, clock fixed at SIM_START."""
    with IXSimulator(seed=1, start_time=SIM_START, run_delay=0, cal_window_hours=3) as simulator:
        yield simulator


# --- databases --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mariadb():
    """One private MariaDB server for the whole test session (installed if missing)."""
    from mariadb_server import MariaDBServer
    with MariaDBServer() as server:
        yield server


class DatabaseUnderTest:
    """A database for one test: `db` connected as the importing user (SELECT, INSERT,
    UPDATE only) and `admin` for creating tables, as a real set-up has."""

    def __init__(self, engine, db, admin, settings_env):
        self.engine, self.db, self.admin, self.settings_env = engine, db, admin, settings_env

    def create(self, ddl):
        self.admin.execute_script([ddl])

    def rows(self, sql):
        return self.admin.fetch_all(sql)


def _database_under_test(engine, request, tmp_path):
    import mysql_db
    if engine == "sqlite":
        path = tmp_path / "prog_stats.sqlite3"
        db = mysql_db.SQLiteDatabase(path)
        admin = mysql_db.SQLiteDatabase(path)
        env = {"PROGSALESDBENGINE": "sqlite", "PROGSALESSQLITEPATH": str(path)}
    else:
        server = request.getfixturevalue("mariadb")
        _empty_database(server)
        admin = mysql_db.MySQLDatabase("127.0.0.1", server.port, server.admin_user, server.admin_password,
                                       server.database)
        db = mysql_db.MySQLDatabase("127.0.0.1", server.port, server.import_user, server.import_password,
                                    server.database)
        env = {"PROGSALESDBENGINE": "mysql", "PROGSALESMYSQLHOSTNAME": "127.0.0.1",
               "PROGSALESMYSQLPORT": str(server.port), "PROGSALESMYSQLUSERNAME": server.import_user,
               "PROGSALESMYSQLPASSWORD": server.import_password, "PROGSALESMYSQLDATABASE": server.database}
    return DatabaseUnderTest(engine, db, admin, env)


@pytest.fixture(params=["mariadb", "sqlite"])
def database(request, tmp_path):
    """The same test against MariaDB and SQLite."""
    under_test = _database_under_test(request.param, request, tmp_path)
    yield under_test
    under_test.db.close()
    under_test.admin.close()


@pytest.fixture
def mariadb_database(request, tmp_path):
    """MariaDB only, for behaviour that only a MySQL server has."""
    under_test = _database_under_test("mariadb", request, tmp_path)
    yield under_test
    under_test.db.close()
    under_test.admin.close()


def _empty_database(server):
    """Drop every table a previous test made, so each test starts from nothing."""
    conn = server.connect_admin()
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                       (server.database,))
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE `{name}`")
        conn.commit()
    finally:
        conn.close()


# --- a Galera cluster (opt-in) ------------------------------------------------------------

def galera_enabled():
    """Galera tests run in CI (CI=true) and when IX_GALERA_TESTS=1: the cluster adds about
    a minute, which a developer's everyday run is spared."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("IX_GALERA_TESTS") == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "galera: needs the 3-node Galera cluster (CI=true or IX_GALERA_TESTS=1)")


def pytest_collection_modifyitems(config, items):
    if galera_enabled():
        return
    skip = pytest.mark.skip(reason="Galera tests run with CI=true or IX_GALERA_TESTS=1")
    for item in items:
        if "galera" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def galera():
    from galera_cluster import GaleraCluster
    with GaleraCluster() as cluster:
        yield cluster


class GaleraNode:
    """One node of the cluster as a test's database: `admin` and the importing user's
    settings pointing at that node (what DatabaseUnderTest is for one server)."""

    engine = "mariadb"

    def __init__(self, cluster, node):
        import mysql_db
        self.cluster, self.node = cluster, node
        self.admin = mysql_db.MySQLDatabase("127.0.0.1", cluster.port(node), cluster.admin_user,
                                            cluster.admin_password, cluster.database)
        self.settings_env = {
            "PROGSALESDBENGINE": "mysql", "PROGSALESMYSQLHOSTNAME": "127.0.0.1",
            "PROGSALESMYSQLPORT": str(cluster.port(node)), "PROGSALESMYSQLUSERNAME": cluster.import_user,
            "PROGSALESMYSQLPASSWORD": cluster.import_password, "PROGSALESMYSQLDATABASE": cluster.database}

    def importer(self, **kw):
        import mysql_db
        c = self.cluster
        return mysql_db.MySQLDatabase("127.0.0.1", c.port(self.node), c.import_user, c.import_password, c.database,
                                      **kw)

    def rows(self, sql):
        return self.admin.fetch_all(sql)

    def close(self):
        self.admin.close()


@pytest.fixture
def galera_nodes(galera):
    """Nodes 1 and 2 of an emptied cluster (DDL replicates: one DROP empties all nodes)."""
    conn = galera.connect_admin(1)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                       (galera.database,))
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE `{name}`")
        conn.commit()
    finally:
        conn.close()
    nodes = [GaleraNode(galera, 1), GaleraNode(galera, 2)]
    yield nodes
    for node in nodes:
        node.close()
