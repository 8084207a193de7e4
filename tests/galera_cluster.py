"""A 3-node MariaDB Galera cluster on 127.0.0.1 for tests, as MariaDBServer is one
server: private ports and data directories, the same database and users (an admin, and
the importing user with SELECT, INSERT, UPDATE only). The recipe and its pitfalls are in
../shared/notes/galera.md: a template bootstrapped once as a 1-node cluster and copied,
so joiners need only IST; joiners started one after the other; a killed node rejoined
from its recovered position."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import mysql.connector

from mariadb_server import (ADMIN_PASSWORD, ADMIN_USER, DATABASE, IMPORT_PASSWORD, IMPORT_USER, MariaDBUnavailable,
                            find_binary)

PACKAGES = ["mariadb-server", "mariadb-backup", "galera-4", "socat", "rsync"]
PROVIDER = "/usr/lib/galera/libgalera_smm.so"
# Quick eviction of a dead node (measured in the notes: 1.1-1.6 s instead of 6.3 s), and
# never a false one under three big loads at once.
EVS = ("evs.suspect_timeout=PT1S;evs.inactive_timeout=PT2S;evs.install_timeout=PT2S;evs.keepalive_period=PT0.3S;"
       "evs.inactive_check_period=PT0.3S;evs.join_retrans_period=PT0.3S")


def ensure_installed():
    # mariadb-server brings the wsrep_sst_* scripts a joiner runs even for IST.
    if os.path.exists(PROVIDER) and find_binary("mariadbd") and all(
            shutil.which(tool) for tool in ("mariadb-backup", "wsrep_sst_mariabackup", "my_print_defaults", "socat")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise MariaDBUnavailable("Galera is not installed; as root run: apt-get install " + " ".join(PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def free_port_block(size):
    """A first port of `size` consecutive free ports on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + size >= 65000:
            continue
        sockets = []
        try:
            for port in range(first, first + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise MariaDBUnavailable("no block of free ports for the Galera cluster")


class GaleraCluster:
    """Three Galera nodes (1, 2, 3) started by `start()`; `port(i)` is node i's SQL port."""

    def __init__(self, nodes=3):
        self.nodes = nodes
        self.directory = None
        self.processes = {}
        self.database = DATABASE
        self.admin_user, self.admin_password = ADMIN_USER, ADMIN_PASSWORD
        self.import_user, self.import_password = IMPORT_USER, IMPORT_PASSWORD
        self._base = None

    # --- ports and files ---
    def port(self, node):
        return self._base + node                      # SQL ports base+0 (template) .. base+3

    def _gcomm(self, node):
        return self._base + 10 + 4 * node             # gcomm, then IST (+1) and SST (+2)

    def _folder(self, node):
        return os.path.join(self.directory, f"n{node}")

    def _write_config(self, node, cluster_address):
        folder = self._folder(node)
        os.makedirs(folder, exist_ok=True)
        g = self._gcomm(node)
        options = (f"base_port={g};gmcast.listen_addr=tcp://127.0.0.1:{g};ist.recv_addr=127.0.0.1:{g + 1};"
                   f"gcache.size=32M;{EVS}")
        with open(os.path.join(folder, "my.cnf"), "w") as f:
            f.write(f"""[mysqld]
user=root
datadir={folder}/data
socket={folder}/mysqld.sock
port={self.port(node)}
bind-address=127.0.0.1
pid-file={folder}/mysqld.pid
log-error={folder}/error.log
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit=2
local_infile=1
binlog_format=ROW
innodb_autoinc_lock_mode=2
default_storage_engine=InnoDB
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_cluster_name=ix-test
wsrep_cluster_address={cluster_address}
wsrep_node_name=n{node}
wsrep_node_address=127.0.0.1:{g}
wsrep_provider_options="{options}"
wsrep_sst_method=mariabackup
wsrep_sst_receive_address=127.0.0.1:{g + 2}
[sst]
sst-syslog=-1
sst-log-archive=0
sockopt=",bind=127.0.0.1"
""")

    # --- one node ---
    def _start_node(self, node, *extra):
        folder = self._folder(node)
        log = open(os.path.join(folder, "stderr.log"), "ab")
        # The defaults file first: the SST scripts read their options from it.
        self.processes[node] = subprocess.Popen(
            [find_binary("mariadbd"), f"--defaults-file={folder}/my.cnf", *extra], stdout=log, stderr=log)
        log.close()

    def _wait_ready(self, node, timeout=90):
        deadline = time.monotonic() + timeout
        while True:
            process = self.processes[node]
            if process.poll() is not None:
                raise MariaDBUnavailable(f"Galera node {node} exited:\n{self._log_tail(node)}")
            try:
                conn = mysql.connector.connect(host="127.0.0.1", port=self.port(node), user="root", password="",
                                               connection_timeout=2)
                try:
                    cursor = conn.cursor()
                    cursor.execute("SHOW STATUS LIKE 'wsrep_ready'")
                    row = cursor.fetchone()
                    if row and row[1] == "ON":
                        return
                finally:
                    conn.close()
            except mysql.connector.Error:
                pass
            if time.monotonic() > deadline:
                raise MariaDBUnavailable(f"Galera node {node} not ready after {timeout} s:\n{self._log_tail(node)}")
            time.sleep(0.1)

    def _log_tail(self, node):
        path = os.path.join(self._folder(node), "error.log")
        return open(path, errors="replace").read()[-3000:] if os.path.exists(path) else ""

    def _stop_node(self, node):
        process = self.processes.pop(node, None)
        if process and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)

    # --- the cluster ---
    def start(self):
        ensure_installed()
        self.directory = tempfile.mkdtemp(prefix="ix-galera-")
        self._base = free_port_block(30)
        template = self._folder(0)
        os.makedirs(template)
        init = os.path.join(self.directory, "init.sql")
        with open(init, "w") as f:
            f.write(f"""FLUSH PRIVILEGES;
CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;
CREATE USER '{ADMIN_USER}'@'%' IDENTIFIED BY '{ADMIN_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;
CREATE USER '{IMPORT_USER}'@'%' IDENTIFIED BY '{IMPORT_PASSWORD}';
GRANT SELECT, INSERT, UPDATE ON {DATABASE}.* TO '{IMPORT_USER}'@'%';
""")
        subprocess.run([find_binary("mariadb-install-db"), "--no-defaults", f"--datadir={template}/data",
                        "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
                        f"--extra-file={init}", "--user=root"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # A 1-node cluster once, stopped cleanly: the copies then share its state and
            # join by IST (a hand-made grastate.dat is refused).
            self._write_config(0, "gcomm://")
            self._start_node(0, "--wsrep-new-cluster")
            self._wait_ready(0)
            self._stop_node(0)
            for name in ("gvwstate.dat", "galera.cache"):
                with_path = os.path.join(template, "data", name)
                if os.path.exists(with_path):
                    os.unlink(with_path)
            everyone = ",".join(f"127.0.0.1:{self._gcomm(n)}" for n in range(1, self.nodes + 1))
            for node in range(1, self.nodes + 1):
                self._write_config(node, f"gcomm://{everyone}")
                shutil.copytree(os.path.join(template, "data"), os.path.join(self._folder(node), "data"))
            # One after the other: together they churn the membership for seconds.
            for node in range(1, self.nodes + 1):
                self._start_node(node, *(["--wsrep-new-cluster"] if node == 1 else []))
                self._wait_ready(node)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, node):
        """kill -9 of one node, as a crash."""
        process = self.processes.pop(node)
        process.kill()
        process.wait()

    def rejoin(self, node):
        """Start a killed node again from its recovered position (IST), and wait until Synced."""
        folder = self._folder(node)
        recovery_log = os.path.join(folder, "recover.log")
        subprocess.run([find_binary("mariadbd"), f"--defaults-file={folder}/my.cnf", "--wsrep-recover",
                        f"--log-error={recovery_log}"], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        found = re.findall(r"Recovered position: ([0-9a-f-]+:-?[0-9]+)", open(recovery_log).read())
        state = os.path.join(folder, "data", "gvwstate.dat")
        if os.path.exists(state):
            os.unlink(state)
        self._start_node(node, *([f"--wsrep-start-position={found[-1]}"] if found else []))
        self._wait_ready(node)

    def cluster_size(self, node):
        conn = self.connect_admin(node)
        try:
            cursor = conn.cursor()
            cursor.execute("SHOW STATUS LIKE 'wsrep_cluster_size'")
            return int(cursor.fetchone()[1])
        finally:
            conn.close()

    def connect_admin(self, node, **kw):
        return mysql.connector.connect(host="127.0.0.1", port=self.port(node), user=ADMIN_USER,
                                       password=ADMIN_PASSWORD, database=DATABASE, **kw)

    def stop(self):
        for node in list(self.processes):
            process = self.processes.pop(node)
            if process.poll() is None:
                process.kill()
                process.wait()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
