"""The import-health record as a run keeps it whole: a row its run could not complete (the
database was gone at the end) is completed by the next run from a note left on disk, and a
row left open by a process that died is completed as died (exit code -1), naming its host
and pid. Nothing stays "not finished" for good. ix-status.py asks the same questions."""

import json
import logging
import os
import socket

import mysql_db
import mysql_db_health
from utility import atomic_write

log = logging.getLogger("import-health")

UNRECORDED_FOLDER = "unrecorded-runs"


def this_host():
    return socket.gethostname()


def process_alive(pid, program):
    """Whether the process `pid` of this host still runs `program` (a pid the system gave
    to another program since is not it)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    return program in command


def remember_unrecorded(settings, run_id, exit_code, counts, problems):
    """The completion of a run's row the database would not take (it was gone at the end),
    kept on disk for the next run to record."""
    folder = os.path.join(settings.settings_store(), UNRECORDED_FOLDER)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    note = {"run_id": run_id, "exit_code": int(exit_code), "counts": counts, "problems": problems,
            "finished_at": mysql_db.now_text(precise=True)}
    atomic_write(os.path.join(folder, f"{run_id}.json"), json.dumps(note).encode("utf-8"))


def settle_earlier_runs(db, settings, host=None):
    """Complete this host's rows that earlier runs left open: from the notes they left, or as
    died when their process is gone. Returns a line for each row completed."""
    host = host or this_host()
    said = []
    folder = os.path.join(settings.settings_store(), UNRECORDED_FOLDER)
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as f:
                note = json.load(f)
            mysql_db_health.close_run(db, note["run_id"], note["exit_code"], note["counts"], note["problems"],
                                      finished_at=note["finished_at"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("%s cannot be read; left as it is", path)
            continue
        os.unlink(path)
        said.append(f"run {note['run_id']}: recorded now, as it ended (exit code {note['exit_code']})")
    for run_id, program, pid, started_at in mysql_db_health.open_runs_of_host(db, host):
        if pid is None or process_alive(pid, program) or int(pid) == os.getpid():
            continue
        problem = (f"died: process {pid} on {host} ended without completing this row (killed, or the machine "
                   f"stopped); noticed by a later run at {mysql_db.now_text()} UTC")
        if mysql_db_health.close_run(db, run_id, mysql_db_health.DIED, {}, problem):
            said.append(f"{program} run of {started_at} (pid {pid}) died; recorded so")
    for line in said:
        log.info("%s", line)
    return said


def run_fate(host, pid, program, finished_at):
    """What became of a run, as the status command tells it."""
    if finished_at is not None:
        return "finished"
    if host != this_host():
        return "open on another host (running there, or died: ix-status.py on that host tells)"
    return "running" if process_alive(pid, program) else "died: its process is gone"
