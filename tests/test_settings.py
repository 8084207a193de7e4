"""settings.py: ~/.env-secrets, environment overrides, defaults, stores, checks."""

import logging
import os
import subprocess
import sys

import pytest

import settings
from errors import ConfigurationError
from conftest import ROOT


def write_secrets(home, text, mode=0o600):
    path = home / ".env-secrets"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_file_values_environment_wins_defaults_fill_in(tmp_path):
    write_secrets(tmp_path, 'INDEXEXCHANGEUSERNAME="file@example.com"\nPROGSALESMYSQLUSERNAME="fileuser"\n')
    s = settings.load_settings(environ={"HOME": str(tmp_path), "PROGSALESMYSQLUSERNAME": "envuser"})
    assert s.get("INDEXEXCHANGEUSERNAME") == "file@example.com"
    assert s.get("PROGSALESMYSQLUSERNAME") == "envuser"
    assert s.get("PROGSALESMYSQLHOSTNAME") == "localhost"
    assert s.get("INDEXEXCHANGEBASEURL") == "https://app.indexexchange.com"
    assert s.get("INDEXEXCHANGEIDENTITYURL") == "https://identity.indexexchange.com"
    assert s.integer("PROGSALESMYSQLPORT") == 3306 and s.get("PROGSALESMYSQLDATABASE") == "prog_stats"
    assert s.origin("PROGSALESMYSQLUSERNAME") == "environment"
    assert s.origin("INDEXEXCHANGEUSERNAME") == str(tmp_path / ".env-secrets")


def test_missing_required_setting_names_variable_and_both_places(tmp_path):
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    with pytest.raises(ConfigurationError) as caught:
        s.require("INDEXEXCHANGEPASSWORD")
    message = str(caught.value)
    assert "INDEXEXCHANGEPASSWORD" in message and str(tmp_path / ".env-secrets") in message
    assert "environment variable" in message


def test_group_readable_file_warns(tmp_path, caplog):
    write_secrets(tmp_path, 'INDEXEXCHANGEPASSWORD="x"\n', mode=0o644)
    with caplog.at_level(logging.WARNING, logger="settings"):
        settings.load_settings(environ={"HOME": str(tmp_path)})
    assert "chmod 600" in caplog.text


def test_private_file_does_not_warn(tmp_path, caplog):
    write_secrets(tmp_path, 'INDEXEXCHANGEPASSWORD="x"\n')
    with caplog.at_level(logging.WARNING, logger="settings"):
        settings.load_settings(environ={"HOME": str(tmp_path)})
    assert caplog.text == ""


def test_secrets_are_masked_when_described(tmp_path):
    s = settings.load_settings(environ={"HOME": str(tmp_path), "INDEXEXCHANGEPASSWORD": "Very-Secret-1",
                                        "PROGSALESMYSQLPASSWORD": "Also-Secret-2"})
    shown = repr(s.described())
    assert "Very-Secret-1" not in shown and "Also-Secret-2" not in shown and "********" in shown


def test_stores_are_created_on_first_use(tmp_path):
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert not (tmp_path / "INDEX-TEMPLATES").exists()
    for store, name in ((s.templates_store, "INDEX-TEMPLATES"), (s.settings_store, "INDEX-SETTINGS"),
                        (s.data_download_store, "INDEX-DATA-DOWNLOAD")):
        path = store()
        assert path == tmp_path / name and path.is_dir()
        assert oct(path.stat().st_mode & 0o777) == oct(0o700)


def test_sqlite_path_default_is_in_the_settings_store(tmp_path):
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert s.sqlite_path() == tmp_path / "INDEX-SETTINGS" / "prog_stats.sqlite3"


@pytest.mark.parametrize("url,ok", [
    ("https://app.indexexchange.com", True), ("http://127.0.0.1:8480", True), ("http://localhost:1", True),
    ("http://app.indexexchange.com", False), ("ftp://x", False), ("not a url", False)])
def test_base_urls_must_be_https_except_to_this_machine(tmp_path, url, ok):
    s = settings.load_settings(environ={"HOME": str(tmp_path), "INDEXEXCHANGEBASEURL": url})
    if ok:
        assert s.url("INDEXEXCHANGEBASEURL") == url.rstrip("/")
    else:
        with pytest.raises(ConfigurationError, match="INDEXEXCHANGEBASEURL"):
            s.url("INDEXEXCHANGEBASEURL")


def test_bad_number_names_setting_and_origin(tmp_path):
    # Found when the settings are read, before any program starts its work.
    with pytest.raises(ConfigurationError, match=r"PROGSALESMYSQLPORT .*'33o6'.*environment"):
        settings.load_settings(environ={"HOME": str(tmp_path), "PROGSALESMYSQLPORT": "33o6"})


def test_nothing_is_read_at_import_time(tmp_path):
    # A broken secrets file must not break importing (and so `-h`).
    write_secrets(tmp_path, "\xff\xfe not text", mode=0o600)
    (tmp_path / ".env-secrets").write_bytes(b"\xff\xfe\x00 garbage")
    result = subprocess.run([sys.executable, "-c", "import settings, mysql_db, httpclient, authenticationSupport"],
                            cwd=ROOT, env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_unreadable_file_is_a_configuration_error(tmp_path):
    (tmp_path / ".env-secrets").write_bytes(b"\xff\xfe\x00 garbage")
    os.chmod(tmp_path / ".env-secrets", 0o600)
    with pytest.raises(ConfigurationError, match=".env-secrets"):
        settings.load_settings(environ={"HOME": str(tmp_path)})


def test_readme_lists_every_setting():
    readme = open(os.path.join(ROOT, "README.md")).read()
    missing = [s.name for s in settings.SETTINGS if f"`{s.name}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    readme = open(os.path.join(ROOT, "README.md")).read()
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    command = "./import-setup --dev && .venv/bin/python -m pytest"
    assert f"    {command}\n" in readme
    assert ci.strip().splitlines()[-1] == command


def test_a_value_a_setting_does_not_allow_is_refused_where_it_comes_from(tmp_path):
    with pytest.raises(ConfigurationError, match=r"PROGSALESMYSQLLOCALINFILE must be auto or off, got 'maybe' "
                                                 r"\(from environment\)"):
        settings.load_settings(environ={"HOME": str(tmp_path), "PROGSALESMYSQLLOCALINFILE": "maybe"})


def test_tls_on_verifies_a_remote_server_only(tmp_path):
    import mysql_db
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    remote = settings.load_settings(environ={"HOME": str(tmp_path), "PROGSALESMYSQLTLS": "on",
                                             "PROGSALESMYSQLHOSTNAME": "db.example.com",
                                             "PROGSALESMYSQLTLSCA": str(ca)})
    assert mysql_db.tls_options(remote) == {"ssl_disabled": False, "ssl_ca": str(ca), "ssl_verify_cert": True,
                                            "ssl_verify_identity": True}
    local = settings.load_settings(environ={"HOME": str(tmp_path), "PROGSALESMYSQLTLS": "on",
                                            "PROGSALESMYSQLHOSTNAME": "127.0.0.1"})
    assert mysql_db.tls_options(local) == {"ssl_disabled": False}
    assert mysql_db.tls_options(settings.load_settings(environ={"HOME": str(tmp_path)})) == {}
    missing_ca = settings.load_settings(environ={"HOME": str(tmp_path), "PROGSALESMYSQLTLS": "on",
                                                 "PROGSALESMYSQLHOSTNAME": "db.example.com",
                                                 "PROGSALESMYSQLTLSCA": str(tmp_path / "none.pem")})
    with pytest.raises(ConfigurationError, match="set PROGSALESMYSQLTLSCA"):
        mysql_db.tls_options(missing_ca)
