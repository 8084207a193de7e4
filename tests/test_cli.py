"""cli.py, what every script shares: a known condition is one line and its exit code,
never "unexpected" (issue 22, item 16)."""

import errno

import pytest

import cli
from errors import ConfigurationError


def run(main, capsys):
    code = cli.run(main, cli.make_parser("test"), argv=[])
    return code, capsys.readouterr().err


def test_another_users_file_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("HOME", "/root")

    def main(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/root/.env-secrets")

    code, err = run(main, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.strip().endswith(
        ": permission denied on /root/.env-secrets: run as the user who owns it (is HOME /root yours?)")


def test_a_full_disk_names_the_place_and_exits_1(capsys):
    def main(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/ix-reports-1/5000001.csv")

    code, err = run(main, capsys)
    assert code == 1 and "no space left on the device holding /tmp/ix-reports-1/5000001.csv" in err
    assert "unexpected" not in err


def test_a_missing_dev_requirement_says_how_to_install_it(capsys):
    def main(args):
        cli.require_packages("json", "no_such_package_for_this_test")

    code, err = run(main, capsys)
    assert code == 2 and "needs the Python package no_such_package_for_this_test (a dev requirement): " \
                          "run ./import-setup --dev" in err


def test_the_installed_dev_requirements_pass():
    cli.require_packages("matplotlib", "grafana_foundation_sdk")


def test_any_other_failure_is_still_one_line(capsys):
    def main(args):
        raise RuntimeError("boom")

    code, err = run(main, capsys)
    assert code == 1 and err.count("\n") == 1 and "unexpected RuntimeError: boom" in err


@pytest.mark.parametrize("raised", [ConfigurationError("x")])
def test_suite_errors_keep_their_codes(capsys, raised):
    def main(args):
        raise raised

    assert run(main, capsys)[0] == 2
