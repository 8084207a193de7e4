"""Every setting of the suite, in one place.

Values come from ~/.env-secrets (NAME="value" lines, as create-env-secrets-store.py
writes them), and each may be overridden by the environment variable of the same name.
Nothing is read at import time: load_settings() reads when a program asks, so a missing
secret never breaks `-h`.

The stores of the seed (INDEX-TEMPLATES, INDEX-SETTINGS, INDEX-DATA-DOWNLOAD) are
folders in the home directory, created on first use.
"""

import dataclasses
import ipaddress
import logging
import os
import stat
import urllib.parse
from pathlib import Path

from errors import ConfigurationError
from utility import mask_secret

log = logging.getLogger("settings")

SECRETS_FILE_NAME = ".env-secrets"
TEMPLATES_STORE = "INDEX-TEMPLATES"
SETTINGS_STORE = "INDEX-SETTINGS"
DATA_DOWNLOAD_STORE = "INDEX-DATA-DOWNLOAD"


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: str          # None: no default (required where used)
    secret: bool
    choices: tuple = None  # the values allowed, when only a few are
    minimum: int = None    # a whole number at least this, when the setting is a number


# What each setting means is the README's "Settings" table (tests/test_docs.py checks that
# it names every setting here, with its default).
SETTINGS = [
    Setting("INDEXEXCHANGEUSERNAME", None, False),
    Setting("INDEXEXCHANGEPASSWORD", None, True),
    Setting("INDEXEXCHANGEBASEURL", "https://app.indexexchange.com", False),
    Setting("INDEXEXCHANGEIDENTITYURL", "https://identity.indexexchange.com", False),
    Setting("INDEXEXCHANGETIMEOUT", "60", False, minimum=1),
    Setting("INDEXEXCHANGEMAXRETRYWAIT", "300", False, minimum=0),
    Setting("INDEXEXCHANGEDOWNLOADTIMEOUT", "900", False, minimum=1),
    Setting("PROGSALESDBENGINE", "mysql", False, choices=("mysql", "sqlite")),
    Setting("PROGSALESMYSQLUSERNAME", None, False),
    Setting("PROGSALESMYSQLPASSWORD", None, True),
    Setting("PROGSALESMYSQLHOSTNAME", "localhost", False),
    Setting("PROGSALESMYSQLPORT", "3306", False, minimum=1),
    Setting("PROGSALESMYSQLDATABASE", "prog_stats", False),
    Setting("PROGSALESMYSQLLOCALINFILE", "auto", False, choices=("auto", "off")),
    Setting("PROGSALESMYSQLTLS", "auto", False, choices=("auto", "on", "off")),
    Setting("PROGSALESMYSQLTLSCA", "", False),
    Setting("PROGSALESSQLITEPATH", "~/INDEX-SETTINGS/prog_stats.sqlite3", False),
    Setting("SECUREREPORTERBASEURL", None, False),
    Setting("SECUREREPORTERTOKEN", None, True),
    Setting("SECUREREPORTERMAPPINGFILE", "", False),
    Setting("CXREPORTSBASEURL", None, False),
    Setting("CXREPORTSTOKEN", None, True),
    Setting("CXREPORTSWORKSPACE", None, False),
    Setting("CXREPORTSEXPORTWAIT", "300", False, minimum=0),
    Setting("PROGSALESREPORTIDSTORE", "shelve", False, choices=("shelve", "mysql")),
    Setting("PROGSALESREPORTIDLEASE", "300", False, minimum=2),
    Setting("PROGSALESREPORTMAPPINGFILE", "", False),
    Setting("INDEXEXCHANGESAVESPERDAY", "2000", False, minimum=0),
    Setting("INDEXEXCHANGEBACKFILLRESERVE", "500", False, minimum=0),
    Setting("PROGSALESPINGURL", "", False),
    Setting("PROGSALESTEXTFILEDIR", "", False),
]
_BY_NAME = {s.name: s for s in SETTINGS}


def secrets_path(home=None):
    return Path(home or Path.home()) / SECRETS_FILE_NAME


def read_secrets_file(path):
    """{NAME: value} of a .env-secrets file ({} when there is none)."""
    from dotenv import dotenv_values  # only programs that read settings need python-dotenv
    path = Path(path)
    if not path.exists():
        return {}
    if path.is_dir():
        raise ConfigurationError(f"{path} is a folder; it should be the settings file "
                                 f"(move it away, then run create-env-secrets-store.py)")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by group or others (mode %o); run: chmod 600 %s",
                    path, stat.S_IMODE(mode), path)
    try:
        # Not interpolated: a password may hold "${...}", which must stay as typed.
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigurationError(f"cannot read {path}: {err}") from None
    return {k: v for k, v in values.items() if v is not None}


def quote_value(value):
    """A value as python-dotenv reads it back unchanged from a double-quoted string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def update_secrets_file(path, updates, given_by="what was given now"):
    """Set `updates` ({NAME: value}) in the settings file, keeping the settings it does not
    name; written atomically with mode 0600. A symlinked file is written where the link
    points, and the link kept. Each value is checked as a setting first."""
    from utility import atomic_write
    unknown = [name for name in updates if name not in _BY_NAME]
    if unknown:
        raise ConfigurationError(f"unknown setting {', '.join(unknown)}")
    for name, value in updates.items():            # a value given now is blamed on where it was given
        check_value(_BY_NAME[name], value, given_by)
    target = Path(os.path.realpath(path))
    merged = dict(read_secrets_file(target))
    merged.update(updates)
    Settings(environ={}, home=target.parent, values=merged)    # what was in the file already, checked too
    text = "".join(f"{name}={quote_value(value)}\n" for name, value in merged.items())
    atomic_write(target, text.encode("utf-8"), mode=0o600)
    return target


def check_value(setting, value, origin):
    """ConfigurationError, naming the setting and where the value came from, unless the
    value is one the setting allows."""
    if value is None:
        return
    if setting.choices and value not in setting.choices:
        raise ConfigurationError(f"{setting.name} must be {' or '.join(setting.choices)}, got {value!r} "
                                 f"(from {origin})")
    if setting.minimum is not None:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < setting.minimum:
            raise ConfigurationError(f"{setting.name} must be a whole number of at least {setting.minimum}, got "
                                     f"{value!r} (from {origin})")


class Settings:
    """Resolved settings: environment first, then ~/.env-secrets, then the default."""

    def __init__(self, environ=None, home=None, values=None):
        environ = os.environ if environ is None else environ
        self.home = Path(home or environ.get("HOME") or Path.home())
        self.secrets_path = secrets_path(self.home)
        # `values` stand for the file's content (to check a file before it is written).
        self._file = read_secrets_file(self.secrets_path) if values is None else values
        self._values, self._origins = {}, {}
        for setting in SETTINGS:
            if environ.get(setting.name):
                self._values[setting.name], self._origins[setting.name] = environ[setting.name], "environment"
            elif self._file.get(setting.name):
                self._values[setting.name], self._origins[setting.name] = self._file[setting.name], str(self.secrets_path)
            else:
                self._values[setting.name], self._origins[setting.name] = setting.default, "default"
            check_value(setting, self._values[setting.name], self._origins[setting.name])

    def get(self, name):
        """The value, or None when neither set nor defaulted."""
        if name not in _BY_NAME:
            raise KeyError(f"unknown setting {name}")
        return self._values[name]

    def require(self, name):
        value = self.get(name)
        if not value:
            raise ConfigurationError(
                f"{name} is not set: add {name}=\"...\" to {self.secrets_path} "
                f"(create-env-secrets-store.py writes that file) or set the environment variable {name}")
        return value

    def integer(self, name, minimum=0):
        value = self.require(name)
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum:
            raise ConfigurationError(f"{name} must be a whole number >= {minimum}, got {value!r} "
                                     f"(from {self._origins[name]})")
        return number

    def is_local_host(self, name):
        """Whether the host a setting names is this machine (no TLS checks needed there)."""
        return _is_loopback(self.get(name) or "")

    def url(self, name):
        """A base URL: https, or plain http only to this machine (the simulator)."""
        value = self.require(name).rstrip("/")
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"{name} must be an http(s) URL, got {value!r}")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ConfigurationError(f"{name} must use https (plain http only for a local simulator), got {value!r}")
        return value

    def origin(self, name):
        return self._origins[name]

    def described(self):
        """(name, shown value, origin) for every setting, secrets masked."""
        rows = []
        for setting in SETTINGS:
            value = self._values[setting.name]
            shown = mask_secret(value) if setting.secret and value else (value if value is not None else "(not set)")
            rows.append((setting.name, shown, self._origins[setting.name]))
        return rows

    # --- stores --------------------------------------------------------------------------

    def store(self, folder):
        """A store folder in the home directory, created (mode 0700) on first use."""
        path = self.home / folder
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigurationError(f"cannot create store {path}: {err.strerror}") from None
        return path

    def templates_store(self):
        return self.store(TEMPLATES_STORE)

    def settings_store(self):
        return self.store(SETTINGS_STORE)

    def data_download_store(self):
        return self.store(DATA_DOWNLOAD_STORE)

    def sqlite_path(self):
        raw = self.require("PROGSALESSQLITEPATH")
        path = Path(raw.replace("~", str(self.home), 1) if raw.startswith("~") else raw)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigurationError(f"PROGSALESSQLITEPATH: cannot create {path.parent}: {err.strerror}") from None
        return path


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(environ=None, home=None):
    return Settings(environ=environ, home=home)
