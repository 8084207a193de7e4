"""ix-sandbox.py as a user runs it: serves in the foreground, prints how to use it."""

import os
import signal
import subprocess
import sys

import requests

from conftest import ROOT


def start_sandbox(*args):
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "ix-sandbox.py"), "-p", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def read_until_ready(process):
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return lines
    raise AssertionError("sandbox ended before it was ready: " + process.stderr.read())


def test_sandbox_prints_settings_and_serves_until_stopped():
    process = start_sandbox("--publishers", "2")
    try:
        lines = read_until_ready(process)
        settings = dict(line.split("export ", 1)[1].split("=", 1) for line in lines if "export " in line)
        assert set(settings) == {"INDEXEXCHANGEBASEURL", "INDEXEXCHANGEIDENTITYURL",
                                 "INDEXEXCHANGEUSERNAME", "INDEXEXCHANGEPASSWORD"}
        base = settings["INDEXEXCHANGEBASEURL"]
        login = requests.post(base + "/api/authentication/v1/login", timeout=5, json={
            "username": settings["INDEXEXCHANGEUSERNAME"], "password": settings["INDEXEXCHANGEPASSWORD"]})
        assert login.status_code == 200
        publisher_lines = lines[lines.index("Publishers (account id, CAL API key, name):") + 1:]
        publisher_id, api_key = publisher_lines[0].split()[:2]
        token = requests.post(base + "/auth/realms/eventlog/protocol/openid-connect/token", timeout=5,
                              headers={"Authorization": f"Basic {api_key}"},
                              data={"grant_type": "client_credentials"})
        assert token.status_code == 200
        stripped = [line.strip() for line in lines]
        assert "1965885  Generic Revenue Report" in stripped
        assert not any("Hidden" in line for line in lines)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_sandbox_rejects_a_bad_option_with_exit_2():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "ix-sandbox.py"), "--publishers", "5001"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert "--publishers must be 1..5000" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sandbox_help():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "ix-sandbox.py"), "-h"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and "--run-delay" in result.stdout and "-D" in result.stdout
