"""What every script of the suite shares: -h, -D, logging, one-line errors, exit codes.

Exit codes: 0 all done, 1 something failed at run time (or is still pending), 2 usage or
configuration error (an option, a setting, a password refused, a missing table, an id
that does not exist), 130 interrupted, 141 the reader of standard output went away.
"""

import argparse
import errno
import getpass
import logging
import os
import shlex
import signal
import sys
import threading

from errors import ConfigurationError, SuiteError
from utility import SUITE_NAME, SUITE_VERSION

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141      # what a shell reports for a Unix tool stopped by SIGPIPE
EXIT_TERMINATED = 143       # ... and for one stopped by SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (what `timeout`, systemd and kill send): handled as Ctrl-C is (a prompt stop,
    work left pending, leases given back, the health record completed), exit 143."""
    exit_code = EXIT_TERMINATED


def _terminate(signum, frame):
    raise Terminated()


def make_parser(description, epilog=None):
    """An ArgumentParser with the suite's common -D option."""
    parser = argparse.ArgumentParser(description=description, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-D", "--debug", action="store_true",
                        help="debug logging (voluminous), and tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is done, not only problems")
    parser.add_argument("--version", action="version", version=f"%(prog)s ({SUITE_NAME} {SUITE_VERSION})")
    return parser


def setup_logging(debug, verbose=False):
    # Quiet unless something is wrong: cron mails whatever a job prints.
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S%z", stream=sys.stderr, force=True)
    # urllib3 logs each retry as a raw "Retrying (BoundedRetry(...))" warning; httpclient
    # says one line per outage instead. Its own lines only with -D, and never its DEBUG
    # lines, which carry every URL with its query string.
    logging.getLogger("urllib3").setLevel(logging.INFO if debug else logging.ERROR)


def run(main, parser, argv=None):
    """Parse arguments and call main(args); return the exit code for the script to exit
    with. Errors become one line on stderr."""
    args = parser.parse_args(argv)
    setup_logging(args.debug, args.verbose)
    prog = parser.prog
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        code = main(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head -1`): stop quietly, as Unix tools do.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as err:
        code = getattr(err, "exit_code", EXIT_INTERRUPTED)
        print(f"{prog}: {'terminated (SIGTERM)' if code == EXIT_TERMINATED else 'interrupted'}", file=sys.stderr)
    except SuiteError as err:
        if args.debug:
            logging.exception("failed")
        print(f"{prog}: {type(err).__name__}: {err}", file=sys.stderr)
        code = err.exit_code
    except OSError as err:
        if args.debug:
            logging.exception("failed")
        line, code = os_error_line(err)
        print(f"{prog}: {line}", file=sys.stderr)
    except Exception as err:  # an unexpected failure still gets one line and exit 1
        if args.debug:
            logging.exception("unexpected failure")
        print(f"{prog}: unexpected {type(err).__name__}: {err} (run with -D for the traceback)",
              file=sys.stderr)
        code = EXIT_FAILED
    return code or EXIT_OK


def os_error_line(err):
    """(one line, exit code) for a file the program could not use: whose it is, not a
    traceback. A file of another user (HOME pointing at another's home, say) is set-up:
    exit 2; a full disk is a run-time failure: exit 1."""
    where = err.filename or "a file"
    if err.errno in (errno.EACCES, errno.EPERM):
        return (f"permission denied on {where}: run as the user who owns it (is HOME "
                f"{os.environ.get('HOME', '(not set)')} yours?)", EXIT_USAGE)
    if err.errno == errno.ENOSPC:
        return f"no space left on the device holding {where}; free some and run again", EXIT_FAILED
    if err.errno == errno.EROFS:
        return f"{where} is on a read-only file system", EXIT_USAGE
    return f"unexpected {type(err).__name__}: {err} (run with -D for the traceback)", EXIT_FAILED


def require_packages(*modules):
    """ConfigurationError unless the Python packages (dev requirements, for the Grafana
    scripts) are installed, with the command that installs them."""
    import importlib.util
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigurationError(f"needs the Python package{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                 f"(a dev requirement): run ./import-setup --dev")


def command_line():
    """This script's arguments as one line (for the import-health record)."""
    return " ".join(shlex.quote(argument) for argument in sys.argv[1:])


def _silence_stdout():
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def shard(text, option="--shard"):
    """(K, N) from "K/N" (1 <= K <= N): this host's share of the publishers."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigurationError(f"{option} takes K/N (this host's shard K of N, e.g. 1/2), got {text!r}") from None
    if not 1 <= k <= n:
        raise ConfigurationError(f"{option} K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def id_list(text, option):
    """Integers from "1,2,3" given to `option`; a ConfigurationError naming it otherwise."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigurationError(f"{option} takes ids separated by commas, got {text!r}") from None
    if not ids:
        raise ConfigurationError(f"{option} needs at least one id")
    return ids


def read_secret(what, stdin=None):
    """A password or key: prompted for without echo on a terminal, else one line of
    standard input; never taken from the command line (ps, shell history). An empty
    answer is a ConfigurationError, so an empty password is never tried."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        value = getpass.getpass(f"{what}: ")
    else:
        value = stdin.readline().rstrip("\r\n")
    if not value:
        raise ConfigurationError(f"no {what} given (type it at the prompt, or give it on standard input)")
    return value


def admin_password(settings, user):
    """The password of the -u USER given to a set-up script (None when no -u, or SQLite)."""
    if not user or settings.get("PROGSALESDBENGINE") == "sqlite":
        return None
    return read_secret(f"MySQL password for {user}")


class ProgressBar:
    """A one-line bar on a terminal's stderr; nothing when stderr is not a terminal."""

    def __init__(self, stream=None, width=30):
        self.stream = stream or sys.stderr
        self.width = width
        self.total = self.done = 0
        self._lock = threading.Lock()

    def start(self, total):
        self.total = total
        self._draw()

    def step(self):
        with self._lock:
            self.done += 1
            self._draw()

    def finish(self):
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self):
        filled = int(self.width * self.done / self.total) if self.total else self.width
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} pairs")
        self.stream.flush()
