"""What happened, and what needs a person: the runs of every program over the last hours,
the files and pairs waiting, the leases held, the day's spec saves. ix-status.py prints it
as text or as JSON (the shape below is stable: fields are added, never renamed or removed;
`version` changes only if one must be).

    {"version": 1, "generated_at": "...Z", "host": "...", "hours": 24, "pending_hours": 24,
     "needs_attention": bool, "attention": ["one line per thing a person should look at"],
     "programs": {"<program>": {"last_run": "...", "last_success": "..." | null,
                                "runs": [{"run_id", "started_at", "finished_at", "duration_seconds",
                                          "host", "pid", "exit_code", "state", "counts", "problems"}]}},
     "files": [{"file_id", "publisher_id", "report_name", "status", "requested_at", "age_hours",
                "attempts", "last_error"}],
     "queued_pairs": [{"publisher_id", "report_name", "queued_at", "last_error"}],
     "leases": [{"publisher_id", "report_name", "host", "seconds_left"}],
     "spec_saves": {"day", "made", "limit", "refused_by_index_exchange"} | null,
     "backfills": [{"backfill": "FIRST..LAST", "report_name", "chunk_days", "publishers", "chunks",
                    "loaded", "pending", "to_ask", "abandoned", "left", "last_activity"}]}

"backfills" (added with backfills) lists the unfinished backfills and those that moved in
the last 30 days; one with chunks left that has not moved for `pending_hours` needs
attention (run its command again, or end it with --abandon).

A run's state: finished, running (its process lives on this host), died (its process on
this host is gone, or the run was recorded so), open elsewhere (another host's: ask there).
"""

import datetime as dt
import shlex

import importHealthSupport
import mysql_db_health
import mysql_db_reporting

VERSION = 1
STATUS_FILES = ("pending", "gone", "expired", "abandoned")
RECENT_DAYS = 30            # gone, expired and abandoned files shown for this long


def _text(moment):
    if moment is None:
        return None
    if isinstance(moment, dt.datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return str(moment)[:19]


def _moment(value):
    return dt.datetime.fromisoformat(_text(value))


def gather(db, settings, hours=24, program=None, pending_hours=24, now=None):
    """The status as a dict of the documented shape."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    since = _text(now - dt.timedelta(hours=hours))
    status = {"version": VERSION, "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "host": importHealthSupport.this_host(), "hours": hours, "pending_hours": pending_hours,
              "needs_attention": False, "attention": [], "programs": {}, "files": [], "queued_pairs": [],
              "leases": [], "spec_saves": None, "backfills": []}
    attention = status["attention"]
    if db.table_exists(mysql_db_health.IMPORT_LOG_TABLE):
        _programs(db, status, since, program, hours, now, attention)
    if program in (None, "index-exchange-to-db.py"):
        _reporting(db, settings, status, now, pending_hours, attention)
    status["needs_attention"] = bool(attention)
    return status


def _programs(db, status, since, program, hours, now, attention):
    last = mysql_db_health.last_runs(db)
    runs = mysql_db_health.runs_since(db, since, program) + \
        [r for r in mysql_db_health.open_runs_before(db, since) if program in (None, r["program"])]
    for name in sorted({r["program"] for r in runs} | ({program} if program else set(last))):
        last_run, last_success = last.get(name, (None, None))
        status["programs"][name] = {"last_run": _text(last_run), "last_success": _text(last_success), "runs": []}
        if last_run is not None and (last_success is None or _moment(last_success) < _moment(since)):
            attention.append(f"{name}: no successful run in the last {hours} h"
                             + (f" (last success {_text(last_success)} UTC)" if last_success else " (none ever)"))
    for run in sorted(runs, key=lambda r: _text(r["started_at"])):
        state = _state(run)
        finished = run["finished_at"]
        end = _moment(finished) if finished else now
        entry = {"run_id": run["run_id"], "started_at": _text(run["started_at"]), "finished_at": _text(finished),
                 "duration_seconds": round((end - _moment(run["started_at"])).total_seconds(), 1),
                 "host": run["host"], "pid": run["pid"], "exit_code": run["exit_code"], "state": state,
                 "counts": {c: run[c] for c in mysql_db_health.COUNT_COLUMNS if run[c] is not None},
                 "problems": run["problems"] or ""}
        status["programs"][run["program"]]["runs"].append(entry)
    for name, info in status["programs"].items():
        success = info["last_success"]
        for entry in info["runs"]:
            after_success = success is None or entry["started_at"] > success
            if entry["state"] == "died" and after_success:
                attention.append(f"{name}: the run of {entry['started_at']} UTC on {entry['host']} died (pid "
                                 f"{entry['pid']})")
        finished = [e for e in info["runs"] if e["state"] == "finished"]
        if finished and finished[-1]["exit_code"] not in (0, None):
            latest = finished[-1]
            first_problem = latest["problems"].splitlines()[0] if latest["problems"] else "no problem recorded"
            attention.append(f"{name}: its last run ({latest['started_at']} UTC) ended with exit code "
                             f"{latest['exit_code']}: {first_problem[:200]}")


def _state(run):
    if run["finished_at"] is not None:
        return "died" if run["exit_code"] == mysql_db_health.DIED else "finished"
    fate = importHealthSupport.run_fate(run["host"], run["pid"], run["program"], None)
    return "running" if fate == "running" else "died" if fate.startswith("died") else "open elsewhere"


def _reporting(db, settings, status, now, pending_hours, attention):
    if db.table_exists(mysql_db_reporting.REPORT_RUNS_TABLE):
        recent = now - dt.timedelta(days=RECENT_DAYS)
        for f in mysql_db_reporting.files_not_loaded(db, STATUS_FILES):
            requested = _moment(f["requested_at"])
            if f["status"] != "pending" and requested < recent:
                continue
            age = round((now - requested).total_seconds() / 3600, 1)
            status["files"].append({"file_id": int(f["file_id"]), "publisher_id": int(f["publisher_id"]),
                                    "report_name": f["report_name"], "status": f["status"],
                                    "requested_at": _text(requested), "age_hours": age,
                                    "attempts": int(f["attempts"]), "last_error": f["last_error"] or ""})
        old = [f for f in status["files"] if f["status"] == "pending" and f["age_hours"] > pending_hours]
        if old:
            attention.append(f"{len(old)} report files pending longer than {pending_hours} h (the oldest, file "
                             f"{old[0]['file_id']}, for {old[0]['age_hours']:.0f} h: {old[0]['last_error'][:120]})")
    if db.table_exists(mysql_db_reporting.PAIR_QUEUE_TABLE):
        status["queued_pairs"] = [{**q, "publisher_id": int(q["publisher_id"]), "queued_at": _text(q["queued_at"])}
                                  for q in mysql_db_reporting.queued_pair_rows(db)]
    if db.table_exists(mysql_db_reporting.REPORT_IDS_TABLE):
        status["leases"] = mysql_db_reporting.leases_held(db)
    if db.table_exists(mysql_db_reporting.SPEC_SAVES_TABLE):
        day = now.date().isoformat()
        made, refused = mysql_db_reporting.spec_saves(db, day)
        status["spec_saves"] = {"day": day, "made": made, "limit": settings.integer("INDEXEXCHANGESAVESPERDAY"),
                                "refused_by_index_exchange": refused}
    if db.table_exists(mysql_db_reporting.BACKFILL_CHUNKS_TABLE):
        status["backfills"] = backfill_overview(db, now, RECENT_DAYS)
        for entry in status["backfills"]:
            idle = now - _moment(entry["last_activity"])
            if entry["left"] and idle > dt.timedelta(hours=pending_hours):
                hours_idle = int(idle.total_seconds() // 3600)
                attention.append(f"backfill {entry['backfill']} of {entry['report_name']!r}: {entry['left']} of "
                                 f"{entry['chunks']} chunks left, nothing asked or loaded for {hours_idle} h: run "
                                 f"{backfill_command(entry)} (or add --abandon to end it)")


def backfill_overview(db, now, recent_days=30):
    """[dict] per backfill and report: its chunks by state and when it last moved;
    unfinished ones always, finished ones for `recent_days` days (the shape ix-status.py
    documents)."""
    found = {}
    for chunk in mysql_db_reporting.chunk_states(db):
        key = (chunk["backfill"], chunk["report_name"])
        entry = found.setdefault(key, {
            "backfill": chunk["backfill"], "report_name": chunk["report_name"], "chunk_days": int(chunk["chunk_days"]),
            "publishers": set(), "chunks": 0, "loaded": 0, "pending": 0, "to_ask": 0, "abandoned": 0,
            "last_activity": None})
        entry["publishers"].add(chunk["publisher_id"])
        entry["chunks"] += 1
        entry[chunk["state"].replace(" ", "_")] += 1
        for moment in (chunk["begun_at"], chunk["asked_at"], chunk["loaded_at"]):
            if moment is not None:
                moment = _moment(moment)
                entry["last_activity"] = max(entry["last_activity"] or moment, moment)
    shown = []
    for entry in found.values():
        entry["publishers"] = len(entry["publishers"])
        entry["left"] = entry["pending"] + entry["to_ask"]
        if entry["left"] or now - entry["last_activity"] <= dt.timedelta(days=recent_days):
            entry["last_activity"] = _text(entry["last_activity"])
            shown.append(entry)
    return shown


def backfill_command(entry):
    """The command that continues a backfill of backfill_overview()."""
    first, last = entry["backfill"].split("..")
    return f"index-exchange-to-db.py --from {first} --to {last} --chunk-days {entry['chunk_days']} " \
           f"{shlex.quote(entry['report_name'])}"


def as_text(status):
    """The status for a person: one block per program, then what waits."""
    lines = [f"Status at {status['generated_at']} (last {status['hours']} h; host {status['host']})"]
    for name, info in status["programs"].items():
        lines.append(f"\n{name}: last run {info['last_run'] or 'never'} UTC, last success "
                     f"{info['last_success'] or 'never'} UTC")
        for run in info["runs"]:
            counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in run["counts"].items())
            code = "" if run["exit_code"] is None else f" exit {run['exit_code']}"
            lines.append(f"  {run['started_at']}  {run['duration_seconds']:>7.1f} s  {run['host']}  {run['state']}"
                         f"{code}{'  ' + counts if counts else ''}")
            for problem in run["problems"].splitlines()[:3]:
                lines.append(f"      {problem[:160]}")
    _block(lines, "report files not loaded", status["files"],
           lambda f: f"file {f['file_id']}  {f['status']}  publisher {f['publisher_id']}  {f['report_name']!r}  "
                     f"{f['age_hours']:.1f} h old  {f['attempts']} attempts  {f['last_error'][:100]}",
           more="pending-files.py lists them all")
    _block(lines, "pairs queued", status["queued_pairs"],
           lambda q: f"publisher {q['publisher_id']}  {q['report_name']!r}  since {q['queued_at']}  "
                     f"{(q['last_error'] or '')[:100]}")
    _block(lines, "leases held", status["leases"],
           lambda lease: f"publisher {lease['publisher_id']}  {lease['report_name']!r}  by {lease['host']}  "
                         f"{lease['seconds_left']} s left")
    saves = status["spec_saves"]
    if saves:
        lines.append(f"\nspec saves on {saves['day']}: {saves['made']} of {saves['limit']:,}"
                     + ("; Index Exchange refused one (no more today)" if saves["refused_by_index_exchange"] else ""))
    for entry in status.get("backfills", []):
        lines.append(f"\nbackfill {entry['backfill']} of {entry['report_name']!r} ({entry['publishers']} publishers, "
                     f"chunks of {entry['chunk_days']} days): {entry['loaded']} of {entry['chunks']} chunks loaded, "
                     f"{entry['left']} left ({entry['pending']} pending, {entry['to_ask']} to ask), "
                     f"{entry['abandoned']} abandoned; last moved {entry['last_activity']} UTC")
    lines.append("")
    if status["attention"]:
        lines.append("needs attention:")
        lines += [f"  {line}" for line in status["attention"]]
    else:
        lines.append("nothing needs attention")
    return "\n".join(lines)


def _block(lines, title, items, line_of, more=None, shown=20):
    """A titled list of at most `shown` items, one line each (`more` says where the rest are)."""
    if not items:
        return
    lines.append(f"\n{title}: {len(items)}")
    lines += [f"  {line_of(item)}" for item in items[:shown]]
    if more and len(items) > shown:
        lines.append(f"  ... and {len(items) - shown} more ({more})")
