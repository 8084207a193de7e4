"""A private MariaDB server for tests and benchmarks: its own data directory, a free port
on 127.0.0.1, no systemd. Installs Debian's MariaDB packages first when they are missing
and we are root (as in CI).

    with MariaDBServer() as server:
        server.port, server.admin_user, server.import_user ...

The admin user may do anything (it creates tables, as the seed's set-up does); the
import user has only SELECT, INSERT and UPDATE on the database, as the seed grants.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import mysql.connector

DATABASE = "prog_stats"
ADMIN_USER, ADMIN_PASSWORD = "ixadmin", "admin-pw-for-tests"
IMPORT_USER, IMPORT_PASSWORD = "iximport", "import-pw-for-tests"
PACKAGES = ["mariadb-server-core", "mariadb-client-core"]


class MariaDBUnavailable(RuntimeError):
    pass


def find_binary(name):
    for folder in (None, "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
        path = shutil.which(name, path=folder) if folder else shutil.which(name)
        if path:
            return path
    return None


def ensure_installed():
    """mariadbd and mariadb-install-db, installing Debian's packages when root."""
    if find_binary("mariadbd") and find_binary("mariadb-install-db"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise MariaDBUnavailable(
            "MariaDB is not installed; as root run: apt-get install " + " ".join(PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDBServer:
    def __init__(self, extra_options=()):
        self.extra_options = list(extra_options)
        self.process = None
        self.directory = None
        self.port = None
        self.database = DATABASE
        self.admin_user, self.admin_password = ADMIN_USER, ADMIN_PASSWORD
        self.import_user, self.import_password = IMPORT_USER, IMPORT_PASSWORD

    def start(self):
        ensure_installed()
        self.directory = tempfile.mkdtemp(prefix="ix-mariadb-")
        data = os.path.join(self.directory, "data")
        init = os.path.join(self.directory, "init.sql")
        with open(init, "w") as f:
            # FLUSH PRIVILEGES first, or CREATE USER fails during bootstrap.
            f.write(f"""FLUSH PRIVILEGES;
CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;
CREATE USER '{ADMIN_USER}'@'%' IDENTIFIED BY '{ADMIN_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;
CREATE USER '{IMPORT_USER}'@'%' IDENTIFIED BY '{IMPORT_PASSWORD}';
GRANT SELECT, INSERT, UPDATE ON {DATABASE}.* TO '{IMPORT_USER}'@'%';
""")
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run([find_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}",
                        "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
                        f"--extra-file={init}", *as_root],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.port = free_port()
        self.log_path = os.path.join(self.directory, "error.log")
        self.process = subprocess.Popen([
            find_binary("mariadbd"), "--no-defaults", *as_root, f"--datadir={data}",
            f"--socket={os.path.join(self.directory, 'mysqld.sock')}", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--pid-file={os.path.join(self.directory, 'mysqld.pid')}",
            f"--log-error={self.log_path}", "--skip-name-resolve", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci", "--local-infile=1", "--innodb-buffer-pool-size=256M",
            "--innodb-flush-log-at-trx-commit=2", *self.extra_options,
        ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.connect_admin().close()
                return self
            except mysql.connector.Error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = open(self.log_path).read()[-2000:] if os.path.exists(self.log_path) else ""
                    self.stop()
                    raise MariaDBUnavailable("MariaDB did not start:\n" + log)
                time.sleep(0.05)

    def connect_admin(self, **kw):
        return mysql.connector.connect(host="127.0.0.1", port=self.port, user=ADMIN_USER,
                                       password=ADMIN_PASSWORD, database=DATABASE, **kw)

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
