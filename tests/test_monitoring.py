"""The monitoring hooks (issue 23): a ping URL in the healthchecks.io convention and a
node_exporter textfile, told by every run, never holding up or failing one."""

import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import settings as settings_module
from importenv import REPORTS, ImportEnv


class PingReceiver:
    """A stand-in for healthchecks.io on 127.0.0.1: records each (path, body)."""

    def __init__(self):
        self.pings = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                receiver.pings.append((self.path, self.rfile.read(length).decode("utf-8")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ping/{{program}}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = PingReceiver()
    yield r
    r.close()


def with_settings(ix, **env):
    ix.env.update(env)
    ix.settings = settings_module.load_settings(environ=ix.env)
    return ix


@pytest.fixture
def ix(sim, database, tmp_path, http):
    return ImportEnv(sim, database, tmp_path / "home", http)


def test_pings_start_success_and_failure_with_the_problems(ix, sim, receiver):
    with_settings(ix, PROGSALESPINGURL=receiver.url)
    assert ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]]).complete
    assert receiver.pings == [("/ping/index-exchange-to-db/start", ""), ("/ping/index-exchange-to-db", "")]
    sim.configure(run_delay=10 ** 6)
    failed = ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]], retries=0)
    path, body = receiver.pings[-1]
    assert path == "/ping/index-exchange-to-db/1" and "not ready after 0 s" in body
    assert body.splitlines() == failed.problems


def test_a_ping_receiver_that_is_down_never_touches_the_run(ix, sim):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]               # nobody listens there once closed
    with_settings(ix, PROGSALESPINGURL=f"http://127.0.0.1:{port}/ping")
    result = ix.script("-r", "1", "-l", str(ix.publishers[0]), REPORTS[0])
    assert result.returncode == 0 and result.stderr == "", "quiet as ever, exit 0"


def test_a_configuration_error_is_pinged_as_its_exit_code(ix, sim, receiver):
    with_settings(ix, PROGSALESPINGURL=receiver.url)
    ix.database.admin.execute_script(["DROP TABLE prog_ix_import_log"])
    result = ix.script(REPORTS[0])
    assert result.returncode == 2
    assert [p for p, _ in receiver.pings] == ["/ping/index-exchange-to-db/start", "/ping/index-exchange-to-db/2"]
    assert "prog_ix_import_log" in receiver.pings[-1][1]


def metrics(path):
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^ix_import_([a-z_]+)\{program="index-exchange-to-db.py",suite="ix-import-suite"\} (\S+)$',
        path.read_text(), re.M)}


def test_the_textfile_holds_the_last_run_and_keeps_the_last_success(ix, sim, tmp_path):
    folder = tmp_path / "textfile"
    folder.mkdir()
    with_settings(ix, PROGSALESTEXTFILEDIR=str(folder))
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    path = folder / "index-exchange-to-db.prom"
    first = metrics(path)
    assert first["last_exit_code"] == 0 and first["rows_loaded"] == 5 and first["files_pending"] == 0
    assert first["last_success_timestamp_seconds"] == first["last_run_timestamp_seconds"] > 0
    assert "# TYPE ix_import_last_exit_code gauge" in path.read_text()
    sim.configure(run_delay=10 ** 6)
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]], retries=0)
    second = metrics(path)
    assert second["last_exit_code"] == 1 and second["files_pending"] == 1
    assert second["last_success_timestamp_seconds"] == first["last_success_timestamp_seconds"], "kept"
    assert second["last_run_timestamp_seconds"] >= first["last_run_timestamp_seconds"]
    assert [p.name for p in folder.iterdir()] == ["index-exchange-to-db.prom"], "written atomically, nothing left"
