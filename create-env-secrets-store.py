#!/usr/bin/env python3
"""Create or update ~/.env-secrets, the suite's store of credentials.

    create-env-secrets-store.py [ix-username [ix-password [mysql-username [mysql-password [mysql-hostname]]]]]

With no arguments, prints the current file with secrets masked. A password left off the
command line, or given as '-', is prompted for without echo (read from standard input
when that is not a terminal), so it need not appear in the shell history or in ps.
Settings already in the file and not named here are kept. The file is written
atomically with mode 0600.
"""

import getpass
import sys

import cli
import settings
from errors import ConfigurationError
from utility import atomic_write, mask_secret

ORDER = ["INDEXEXCHANGEUSERNAME", "INDEXEXCHANGEPASSWORD", "PROGSALESMYSQLUSERNAME",
         "PROGSALESMYSQLPASSWORD", "PROGSALESMYSQLHOSTNAME"]
SECRET_NAMES = {s.name for s in settings.SETTINGS if s.secret}


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("values", nargs="*", metavar="VALUE",
                        help="ix-username ix-password mysql-username mysql-password mysql-hostname, in that order")
    return parser


def quote(value):
    """A value as python-dotenv reads it back unchanged from a double-quoted string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def ask_password(what):
    if sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise ConfigurationError(f"no {what} given")
    return value


def show(path):
    values = settings.read_secrets_file(path)
    if not values:
        print(f"{path}: no settings (the file does not exist or is empty)")
        return
    print(f"{path}:")
    for name, value in values.items():
        shown = mask_secret(value) if name in SECRET_NAMES or "PASSWORD" in name or "KEY" in name else value
        print(f"  {name}={shown}")


def main(args):
    path = settings.secrets_path()
    if len(args.values) > len(ORDER):
        raise ConfigurationError(f"at most {len(ORDER)} values (got {len(args.values)}): " + " ".join(
            n.lower() for n in ORDER))
    if not args.values:
        show(path)
        return cli.EXIT_OK
    given = dict(zip(ORDER, args.values))
    if "INDEXEXCHANGEPASSWORD" not in given or given["INDEXEXCHANGEPASSWORD"] == "-":
        given["INDEXEXCHANGEPASSWORD"] = ask_password(f"Index Exchange password for {given['INDEXEXCHANGEUSERNAME']}")
    if "PROGSALESMYSQLUSERNAME" in given and given.get("PROGSALESMYSQLPASSWORD", "-") == "-":
        given["PROGSALESMYSQLPASSWORD"] = ask_password(f"MySQL password for {given['PROGSALESMYSQLUSERNAME']}")
    merged = dict(settings.read_secrets_file(path))
    merged.update(given)
    text = "".join(f"{name}={quote(value)}\n" for name, value in merged.items())
    atomic_write(path, text.encode("utf-8"), mode=0o600)
    print(f"wrote {path} (mode 0600): " + ", ".join(
        f"{n}={mask_secret(v) if n in SECRET_NAMES else v}" for n, v in given.items()))
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
