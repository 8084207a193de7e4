#!/usr/bin/env python3
"""Create or update ~/.env-secrets, the suite's store of settings and credentials.

    create-env-secrets-store.py [ix-username [ix-password [mysql-username [mysql-password [mysql-hostname]]]]]
    create-env-secrets-store.py NAME=value ... [SECRETNAME] ...

The first form is the seed's. The second sets any setting by name (for example
PROGSALESMYSQLPORT=3307 INDEXEXCHANGEBASEURL=http://127.0.0.1:8480); the two may be mixed.
Passwords, tokens and keys are never taken from the command line by name: give the name
alone (or NAME=-) and type the value at the prompt, without echo, or on standard input.
In the seed's form a password left off, or given as '-', is prompted for the same way (a
password written there is still taken, as the seed did, with a warning: ps and the shell
history show command lines).

With no arguments, prints the current file with secrets masked. Settings already in the
file and not named here are kept. The file is written atomically with mode 0600; a
symlinked ~/.env-secrets is written where it points.
"""

import logging
import re
import sys

import cli
import settings
from errors import ConfigurationError
from utility import mask_secret

log = logging.getLogger("create-env-secrets-store")

ORDER = ["INDEXEXCHANGEUSERNAME", "INDEXEXCHANGEPASSWORD", "PROGSALESMYSQLUSERNAME",
         "PROGSALESMYSQLPASSWORD", "PROGSALESMYSQLHOSTNAME"]
SECRET_NAMES = {s.name for s in settings.SETTINGS if s.secret}
SETTING_NAMES = {s.name for s in settings.SETTINGS}
NAMED = re.compile(r"([A-Z][A-Z0-9_]*)(?:=(.*))?", re.DOTALL)


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("values", nargs="*", metavar="VALUE|NAME=value",
                        help="ix-username ix-password mysql-username mysql-password mysql-hostname, in that "
                             "order; or NAME=value for any setting")
    return parser


def split_arguments(values):
    """({NAME: value or None to prompt}, [positional values]) from the command line."""
    named, positional = {}, []
    for value in values:
        match = NAMED.fullmatch(value)
        if match and (match.group(1) in SETTING_NAMES or match.group(2) is not None):
            name, given = match.groups()
            if name not in SETTING_NAMES:
                raise ConfigurationError(f"unknown setting {name} (see the settings table in README.md)")
            if name in SECRET_NAMES and given not in (None, "-"):
                raise ConfigurationError(f"{name}: give secrets at the prompt, not on the command line (ps and "
                                         f"the shell history show it): name it alone, {name}")
            named[name] = None if given in (None, "-") and name in SECRET_NAMES else given
            if named[name] is None and name not in SECRET_NAMES:
                raise ConfigurationError(f"{name} needs a value: {name}=...")
        else:
            positional.append(value)
    if len(positional) > len(ORDER):
        raise ConfigurationError(f"at most {len(ORDER)} values (got {len(positional)}): " + " ".join(
            n.lower() for n in ORDER))
    return named, positional


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
    named, positional = split_arguments(args.values)
    if not named and not positional:
        show(path)
        return cli.EXIT_OK
    given = dict(zip(ORDER, positional))
    if positional:
        if any(given.get(name, "-") != "-" for name in ("INDEXEXCHANGEPASSWORD", "PROGSALESMYSQLPASSWORD")):
            log.warning("a password on the command line shows in ps and the shell history; give - to be asked")
        if given.get("INDEXEXCHANGEPASSWORD", "-") == "-":
            given["INDEXEXCHANGEPASSWORD"] = None
        if "PROGSALESMYSQLUSERNAME" in given and given.get("PROGSALESMYSQLPASSWORD", "-") == "-":
            given["PROGSALESMYSQLPASSWORD"] = None
    given.update(named)
    for name, value in given.items():
        if value is None:
            given[name] = cli.read_secret(_prompt_for(name, given))
    written = settings.update_secrets_file(path, given)
    print(f"wrote {written} (mode 0600): " + ", ".join(
        f"{n}={mask_secret(v) if n in SECRET_NAMES else v}" for n, v in given.items()))
    return cli.EXIT_OK


def _prompt_for(name, given):
    if name == "INDEXEXCHANGEPASSWORD" and given.get("INDEXEXCHANGEUSERNAME"):
        return f"Index Exchange password for {given['INDEXEXCHANGEUSERNAME']}"
    if name == "PROGSALESMYSQLPASSWORD" and given.get("PROGSALESMYSQLUSERNAME"):
        return f"MySQL password for {given['PROGSALESMYSQLUSERNAME']}"
    return {"INDEXEXCHANGEPASSWORD": "Index Exchange password",
            "PROGSALESMYSQLPASSWORD": "MySQL password"}.get(name, name)


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
