"""Telling a monitoring system how runs go, besides cron mail; both optional, neither ever
holds up or fails a run (a monitoring system that is down is said with -v, no more):

- PROGSALESPINGURL: a ping URL in the healthchecks.io convention, `{program}` in it
  replaced by the program's name (e.g. https://hc-ping.com/KEY/{program}): URL/start when
  a run starts; the URL itself when it ends with exit code 0, else URL/<exit code> with the
  problem lines as the body.
- PROGSALESTEXTFILEDIR: a folder node_exporter's textfile collector reads: each program
  writes <program>.prom there (atomically) with its last run and last success times, exit
  code, files pending and rows loaded.
"""

import logging
import os
import re
import time

from httpclient import HttpClient
from utility import SUITE_NAME, atomic_write

log = logging.getLogger("monitoring")

PING_TIMEOUT = 5.0          # seconds: a ping never holds a run up longer
PING_BODY_BYTES = 10000     # healthchecks.io keeps the first 10 KB of a body
METRIC_PREFIX = "ix_import"


def _program_name(program):
    return program[:-3] if program.endswith(".py") else program


class Monitoring:
    """The hooks of one run of `program` (see the module's docstring)."""

    def __init__(self, settings, program):
        self.program = program
        url = settings.get("PROGSALESPINGURL") or ""
        self.ping_url = url.replace("{program}", _program_name(program)).rstrip("/") if url else None
        self.textfile_dir = settings.get("PROGSALESTEXTFILEDIR") or None
        self.started = time.time()
        self.ended = False

    def started_run(self):
        self._ping("/start")

    def ended_run(self, exit_code, problems, counts):
        self.ended = True
        self._ping("" if exit_code == 0 else f"/{int(exit_code)}", "\n".join(problems))
        self._textfile(exit_code, counts)

    def _ping(self, suffix, body=""):
        if not self.ping_url:
            return
        client = HttpClient(timeout=PING_TIMEOUT, max_wait=0, total_retries=0)
        try:
            client.request("POST", self.ping_url + suffix, f"ping {_program_name(self.program)}{suffix}",
                           data=body.encode("utf-8")[:PING_BODY_BYTES])
        except Exception as err:  # a monitoring system that is down must not touch the run
            log.info("ping %s%s not sent: %s", self.ping_url.split("//")[-1].split("/")[0], suffix, err)
        finally:
            client.close()

    def _textfile(self, exit_code, counts):
        if not self.textfile_dir:
            return
        path = os.path.join(self.textfile_dir, f"{_program_name(self.program)}.prom")
        now = time.time()
        last_success = now if exit_code == 0 else _previous_value(path, "last_success_timestamp_seconds")
        label = f'{{program="{self.program}",suite="{SUITE_NAME}"}}'
        metrics = [
            ("last_run_timestamp_seconds", "When the program's last run ended (Unix time).", now),
            ("last_success_timestamp_seconds", "When its last run with exit code 0 ended (Unix time; 0: none "
                                               "recorded here).", last_success or 0),
            ("last_exit_code", "Exit code of its last run (0 all done, 1 something pending or failed, 2 "
                               "configuration, 130/143 interrupted).", exit_code),
            ("last_run_duration_seconds", "How long its last run took.", now - self.started),
            ("files_pending", "Files its last run left pending (collected by the next).",
             counts.get("files_pending") or 0),
            ("rows_loaded", "Rows its last run loaded (inserted and updated).",
             sum(counts.get(c) or 0 for c in ("rows_inserted", "rows_updated", "cal_rows"))),
        ]
        lines = []
        for name, description, value in metrics:
            lines += [f"# HELP {METRIC_PREFIX}_{name} {description}", f"# TYPE {METRIC_PREFIX}_{name} gauge",
                      f"{METRIC_PREFIX}_{name}{label} {float(value):.3f}"]
        try:
            atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"), mode=0o644)
        except OSError as err:
            log.warning("cannot write %s: %s", path, err.strerror)


def _previous_value(path, metric):
    """A metric's value in the file an earlier run wrote, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                match = re.match(rf"{METRIC_PREFIX}_{metric}\{{.*\}} ([0-9.eE+-]+)$", line.strip())
                if match:
                    return float(match.group(1))
    except OSError:
        pass
    return None
