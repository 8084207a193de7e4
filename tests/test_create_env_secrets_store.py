"""create-env-secrets-store.py as a user runs it."""

import os
import stat
import subprocess
import sys

import settings
from conftest import ROOT

SCRIPT = os.path.join(ROOT, "create-env-secrets-store.py")


def run(home, *args, stdin=""):
    return subprocess.run([sys.executable, SCRIPT, *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, "HOME": str(home)}, cwd=ROOT, timeout=30)


def test_no_file_and_no_arguments(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 0 and "no settings" in result.stdout


def test_five_arguments_write_a_private_file_that_settings_read_back(tmp_path):
    result = run(tmp_path, "me@progsales.example", 'Ix "pass" \\1', "iximport", "Db-Secret-9", "db.local")
    assert result.returncode == 0, result.stderr
    path = tmp_path / ".env-secrets"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert 'Ix "pass"' not in result.stdout and "Db-Secret-9" not in result.stdout + result.stderr
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert s.get("INDEXEXCHANGEUSERNAME") == "me@progsales.example"
    assert s.get("INDEXEXCHANGEPASSWORD") == 'Ix "pass" \\1'
    assert (s.get("PROGSALESMYSQLUSERNAME"), s.get("PROGSALESMYSQLPASSWORD"), s.get("PROGSALESMYSQLHOSTNAME")) == \
        ("iximport", "Db-Secret-9", "db.local")
    shown = run(tmp_path)
    assert "me@progsales.example" in shown.stdout and "********" in shown.stdout
    assert "Db-Secret-9" not in shown.stdout and "pass" not in shown.stdout.replace("PASSWORD", "")


def test_passwords_left_off_or_dashed_are_prompted_for(tmp_path):
    result = run(tmp_path, "me@progsales.example", "-", "iximport", stdin="Typed-Ix-Pw\nTyped-Db-Pw\n")
    assert result.returncode == 0, result.stderr
    assert "Typed" not in result.stdout + result.stderr
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert s.get("INDEXEXCHANGEPASSWORD") == "Typed-Ix-Pw" and s.get("PROGSALESMYSQLPASSWORD") == "Typed-Db-Pw"


def test_other_settings_in_the_file_are_kept(tmp_path):
    path = tmp_path / ".env-secrets"
    path.write_text('PROGSALESMYSQLPORT="3307"\nINDEXEXCHANGEUSERNAME="old@example.com"\n')
    os.chmod(path, 0o600)
    assert run(tmp_path, "new@example.com", "pw").returncode == 0
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert s.get("PROGSALESMYSQLPORT") == "3307" and s.get("INDEXEXCHANGEUSERNAME") == "new@example.com"


def test_empty_prompted_password_is_refused_and_nothing_written(tmp_path):
    result = run(tmp_path, "me@example.com", stdin="\n")
    assert result.returncode == 2 and "no Index Exchange password" in result.stderr
    assert not (tmp_path / ".env-secrets").exists()


def test_too_many_arguments(tmp_path):
    result = run(tmp_path, *["x"] * 6)
    assert result.returncode == 2 and "at most 5" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_works_without_any_settings(tmp_path):
    result = run(tmp_path, "-h")
    assert result.returncode == 0 and "-D" in result.stdout


def test_any_setting_by_name_and_secrets_only_at_the_prompt(tmp_path):
    result = run(tmp_path, "PROGSALESMYSQLPORT=3307", "INDEXEXCHANGEBASEURL=http://127.0.0.1:8480",
                 "PROGSALESMYSQLPASSWORD", stdin="Typed-Db-Pw\n")
    assert result.returncode == 0, result.stderr
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert s.get("PROGSALESMYSQLPORT") == "3307" and s.get("INDEXEXCHANGEBASEURL") == "http://127.0.0.1:8480"
    assert s.get("PROGSALESMYSQLPASSWORD") == "Typed-Db-Pw" and "Typed" not in result.stdout
    on_the_line = run(tmp_path, "PROGSALESMYSQLPASSWORD=Visible-In-Ps")
    assert on_the_line.returncode == 2 and "give secrets at the prompt" in on_the_line.stderr
    assert "Visible-In-Ps" not in on_the_line.stderr
    assert settings.load_settings(environ={"HOME": str(tmp_path)}).get("PROGSALESMYSQLPASSWORD") == "Typed-Db-Pw"


def test_the_seed_form_and_names_mix(tmp_path):
    result = run(tmp_path, "me@example.com", "-", "PROGSALESMYSQLPORT=3307", stdin="Ix-Pw\n")
    assert result.returncode == 0, result.stderr
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert (s.get("INDEXEXCHANGEUSERNAME"), s.get("INDEXEXCHANGEPASSWORD"), s.get("PROGSALESMYSQLPORT")) == \
        ("me@example.com", "Ix-Pw", "3307")


def test_unknown_names_and_values_not_allowed_are_refused_and_nothing_written(tmp_path):
    unknown = run(tmp_path, "PROGSALESMYSQLPROT=3307")
    assert unknown.returncode == 2 and "unknown setting PROGSALESMYSQLPROT" in unknown.stderr
    bad = run(tmp_path, "PROGSALESMYSQLLOCALINFILE=maybe")
    assert bad.returncode == 2 and "PROGSALESMYSQLLOCALINFILE must be auto or off, got 'maybe'" in bad.stderr
    assert not (tmp_path / ".env-secrets").exists()


def test_a_symlinked_file_is_written_where_it_points(tmp_path):
    real = tmp_path / "vault" / "ix.env"
    real.parent.mkdir()
    real.write_text('PROGSALESMYSQLPORT="3306"\n')
    os.chmod(real, 0o600)
    (tmp_path / ".env-secrets").symlink_to(real)
    assert run(tmp_path, "PROGSALESMYSQLPORT=3307").returncode == 0
    assert (tmp_path / ".env-secrets").is_symlink()
    assert 'PROGSALESMYSQLPORT="3307"' in real.read_text()


def test_a_folder_where_the_file_should_be_is_named(tmp_path):
    (tmp_path / ".env-secrets").mkdir()
    result = run(tmp_path, "PROGSALESMYSQLPORT=3307")
    assert result.returncode == 2 and f"{tmp_path / '.env-secrets'} is a folder" in result.stderr


def test_a_secret_with_dollar_braces_stays_as_typed_through_later_changes(tmp_path):
    """"${...}" in a password is text, not a variable to expand (issue 22, item 5)."""
    typed = "pa${HOME}ss$USER${NOPE:-x}"
    result = run(tmp_path, "me@example.com", "-", stdin=typed + "\n")
    assert result.returncode == 0, result.stderr
    assert settings.load_settings(environ={"HOME": str(tmp_path)}).get("INDEXEXCHANGEPASSWORD") == typed
    assert run(tmp_path, "PROGSALESMYSQLPORT=3307").returncode == 0      # another setting changed
    s = settings.load_settings(environ={"HOME": str(tmp_path)})
    assert s.get("INDEXEXCHANGEPASSWORD") == typed and s.get("PROGSALESMYSQLPORT") == "3307"
    assert "${HOME}" in (tmp_path / ".env-secrets").read_text(), "written to disk as typed"


def test_a_number_setting_given_text_is_refused_and_blamed_on_where_it_was_given(tmp_path):
    """PROGSALESMYSQLPORT=abc would make every program fail; a value given now is not the
    file's fault (issue 22, item 21)."""
    result = run(tmp_path, "PROGSALESMYSQLPORT=abc")
    assert result.returncode == 2
    assert "PROGSALESMYSQLPORT must be a whole number of at least 1, got 'abc' (from what was given now)" \
        in result.stderr
    assert not (tmp_path / ".env-secrets").exists(), "nothing written"
    path = tmp_path / ".env-secrets"
    path.write_text('PROGSALESREPORTIDLEASE="1"\n')
    os.chmod(path, 0o600)
    other = run(tmp_path, "PROGSALESMYSQLPORT=3307")
    assert other.returncode == 2 and f"PROGSALESREPORTIDLEASE must be a whole number of at least 2, got '1' " \
                                      f"(from {path})" in other.stderr
