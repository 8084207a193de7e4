"""The one shape of every cron program's run (index-exchange-to-db.py, cal-downloads.py,
and those to come): a program is its own checks and steps on this skeleton.

    class MyRun(CronRun):
        folder_prefix = "ix-mine-"
        summary_class = MySummary
        def check(self, db): ...     # everything checkable before the first call out
        def steps(self, db): ...     # the work

CronRun.run() validates the options (a copy: the caller's are never changed), makes the
run's private scratch folder (removing those of dead runs), opens a database connection
per worker thread, an HTTP client unless one was given, runs check() then steps(), and
closes everything however it ends. The summary's exit_code is the script's: 0 complete,
1 something failed or is pending, 130 interrupted; errors raised before the work are
the scripts' to turn into one line (2 for configuration).
"""

import dataclasses
import threading
import time

import mysql_db
import readwrite
from httpclient import HttpClient
from utility import Tally

EXIT_COMPLETE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 130


@dataclasses.dataclass
class RunSummary(Tally):
    """What a run did: counters the program declares, problems (each logged once, as it
    happens), the time taken, and whether it was interrupted."""
    interrupted: bool = False
    seconds: float = 0.0

    title = "Summary"

    @property
    def complete(self):
        """Everything done; programs say what "done" means."""
        raise NotImplementedError

    @property
    def exit_code(self):
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_COMPLETE if self.complete else EXIT_INCOMPLETE

    def lines(self):
        """The program's own summary lines (indented two spaces)."""
        raise NotImplementedError

    def text(self):
        return "\n".join([self.title, *self.lines(), f"  time taken: {self.seconds:.1f} s", *self.problems_line()])


class CronRun:
    """One run of a cron program (see the module's docstring). Subclasses set
    `folder_prefix` and `summary_class`, may set `bulk_load_from_folder` (LOAD DATA LOCAL
    allowed from the scratch folder, and from nowhere else), and write `check` and `steps`;
    `before_connecting` checks settings without any I/O."""

    folder_prefix = "ix-run-"
    summary_class = RunSummary
    bulk_load_from_folder = False

    def __init__(self, settings, options, http=None):
        self.settings = settings
        self.options = options
        self.http = http
        self.summary = self.summary_class()
        self.stopping = threading.Event()    # set on Ctrl-C: workers stop at their next step
        self.folder = None
        self.connections = None

    def run(self):
        started = time.monotonic()
        self.options = self.options.validated()
        self.before_connecting()
        own_http = self.http is None
        with readwrite.run_folder(self.folder_prefix) as self.folder:
            self.connections = mysql_db.ConnectionPerThread(
                self.settings, local_infile_dir=self.folder if self.bulk_load_from_folder else None)
            try:
                self.check(self.connections.get())
                if own_http:
                    self.http = HttpClient.from_settings(self.settings, pool_size=self.http_pool_size())
                self.steps(self.connections.get())
            finally:
                self.connections.close()
                if own_http and self.http is not None:
                    self.http.close()
                    self.http = None
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def before_connecting(self):
        """Settings the run needs, checked before anything is opened."""

    def check(self, db):
        raise NotImplementedError

    def steps(self, db):
        raise NotImplementedError

    def http_pool_size(self):
        # A connection for each worker, or the pool discards and reopens them.
        return getattr(self.options, "workers", 1) + 4
