"""CxReports documents as the suite makes them: the period, the data pushed (the shape of
docs/cxreports-data.schema.json, versioned), and the two ways out: an exported PDF saved
atomically, or a CxReports job run followed to its end."""

import datetime as dt
import decimal
import re
import time

import cxreportsAPI
import mysql_db_statements
from errors import ConfigurationError, SuiteError
from utility import atomic_file

DATA_VERSION = "1.0"
FIRST_POLL_WAIT = 0.2
MAX_POLL_WAIT = 5.0


class ExportFailedError(SuiteError):
    """CxReports reported the export (or job run) failed, or it did not finish in time."""


def open_session(http, base_url, workspace, token):
    """A CxReports session on the suite's HTTP client."""
    return cxreportsAPI.CxReportsSession(http, base_url, workspace, token)


def period(text, today):
    """(start, end) dates, end exclusive: last-week (Monday to Sunday before `today`'s week),
    last-month, or FROM..TO (both included)."""
    if text == "last-week":
        monday = today - dt.timedelta(days=today.weekday())
        return monday - dt.timedelta(days=7), monday
    if text == "last-month":
        first = today.replace(day=1)
        return (first - dt.timedelta(days=1)).replace(day=1), first
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text or "")
    if not match:
        raise ConfigurationError(f"--period takes last-week, last-month or FROM..TO (YYYY-MM-DD..YYYY-MM-DD), "
                                 f"got {text!r}")
    try:
        start, last = dt.date.fromisoformat(match.group(1)), dt.date.fromisoformat(match.group(2))
    except ValueError as err:
        raise ConfigurationError(f"--period: {err}") from None
    if last < start:
        raise ConfigurationError(f"--period: {start} is after {last}")
    return start, last + dt.timedelta(days=1)


def _money(value):
    return format(decimal.Decimal(value or 0).quantize(decimal.Decimal("0.01")), "f")


def _ecpm(revenue, impressions):
    return _money(decimal.Decimal(revenue or 0) * 1000 / impressions) if impressions else None


def _figures(db, publisher_id, start, end):
    impressions, revenue, ad_spend = mysql_db_statements.statement_totals(db, publisher_id, start, end)
    return {"impressions": int(impressions), "revenue": _money(revenue), "ad_spend": _money(ad_spend),
            "ecpm": _ecpm(revenue, int(impressions))}


def statement_data(db, publisher_id, publisher_name, start, end):
    """A publisher's revenue statement for [start, end), and the period before for comparison."""
    days = (end - start).days
    before = (start - dt.timedelta(days=days), start)
    cal = mysql_db_statements.cal_impressions(db, publisher_id, start, end)
    return {
        "version": DATA_VERSION, "kind": "revenue-statement",
        "publisher": {"id": int(publisher_id), "name": publisher_name or ""},
        "period": {"from": start.isoformat(), "to": (end - dt.timedelta(days=1)).isoformat(), "days": days},
        "previous_period": {"from": before[0].isoformat(), "to": (before[1] - dt.timedelta(days=1)).isoformat()},
        "currency": "USD",
        "totals": _figures(db, publisher_id, start, end),
        "previous_totals": _figures(db, publisher_id, *before),
        "by_day": [{"day": str(day)[:10], "impressions": int(imp), "revenue": _money(rev),
                    "ecpm": _ecpm(rev, int(imp))}
                   for day, imp, rev in mysql_db_statements.statement_by_day(db, publisher_id, start, end)],
        "by_site": [{"site_id": int(site), "site_name": name or "", "impressions": int(imp), "revenue": _money(rev),
                     "ecpm": _ecpm(rev, int(imp))}
                    for site, name, imp, rev in mysql_db_statements.statement_by_site(db, publisher_id, start, end)],
        "cal": None if cal is None else {"impressions": int(cal[0]), "net_revenue": _money(cal[1])},
    }


def activity_data(db, start, end, leave_out_run=None):
    """The import activity of [start, end) from prog_ix_import_log, but the run
    `leave_out_run` (the one making the report)."""
    runs = [{"program": program, "host": host, "started_at": str(started), "finished_at": str(finished)
             if finished else None, "exit_code": code, "files_loaded": int(files), "rows_loaded": int(rows),
             "problems": problems or ""}
            for program, host, started, finished, code, files, rows, problems
            in mysql_db_statements.import_activity(db, start, end, leave_out_run)]
    return {"version": DATA_VERSION, "kind": "import-activity",
            "period": {"from": start.isoformat(), "to": (end - dt.timedelta(days=1)).isoformat(),
                       "days": (end - start).days},
            "runs": runs, "totals": {"runs": len(runs), "failed": sum(1 for r in runs if r["exit_code"] not in (0,)),
                                     "not_finished": sum(1 for r in runs if r["finished_at"] is None)}}


def _poll(check, what, max_wait, sleep=time.sleep, clock=time.monotonic):
    """Call check() until it returns something; backoff; ExportFailedError after max_wait."""
    started, delay = clock(), FIRST_POLL_WAIT
    while True:
        result = check()
        if result is not None:
            return result
        if clock() - started + delay > max_wait:
            raise ExportFailedError(f"{what}: not finished after {max_wait:g} s")
        sleep(delay)
        delay = min(delay * 2, MAX_POLL_WAIT)


def render_to_file(session, report, data, path, max_wait, sleep=time.sleep):
    """Push `data`, export the report as PDF, wait for it, save it at `path` atomically."""
    temp_data_id = cxreportsAPI.push_temporary_data(session, data)
    export_id = cxreportsAPI.start_export(session, report, temp_data_id=temp_data_id)

    def ready():
        status = cxreportsAPI.export_status(session, export_id)
        if status["status"] == "Failed":
            raise ExportFailedError(f"export {export_id} of report {report} failed: "
                                    f"{status.get('errorMessage') or 'no reason given'}")
        return status if status["status"] == "Completed" else None

    _poll(ready, f"export {export_id} of report {report}", max_wait, sleep)
    with atomic_file(path, 0o644) as target:
        cxreportsAPI.export_content(session, export_id, target)
    return path


def send_with_job(session, job_id, data, max_wait, sleep=time.sleep):
    """Start the job with `data` and follow its run: delivered when no entry waits for
    review; otherwise left waiting. Returns (run id, "delivered" | "waiting for review", entries)."""
    run_id = cxreportsAPI.start_job_run(session, job_id, data=data)

    def settled():
        status = cxreportsAPI.job_run_status(session, job_id, run_id)
        counts = status.get("status") or {}
        if counts.get("errors"):
            raise ExportFailedError(f"job {job_id} run {run_id}: {counts['errors']} entries failed")
        return status if not counts.get("queued") else None

    status = _poll(settled, f"job {job_id} run {run_id}", max_wait, sleep)
    waiting = (status.get("status") or {}).get("review", 0)
    if waiting:
        return run_id, "waiting for review", waiting
    cxreportsAPI.deliver_job_run(session, job_id, run_id)
    return run_id, "delivered", status.get("entries", 0)
