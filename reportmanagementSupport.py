"""Report specs as the suite manages them: the standard title, the spec made from a
template for one publisher, and upload-or-update of a pair's spec without needless saves.
"""

import copy
import datetime as dt
import hashlib
import json
import re
import time
import unicodedata

import mysql_db_reporting
import reportdownloadAPI
import reportmanagementAPI
from errors import ConfigurationError, NotFoundError, PermissionDeniedError, RateLimitedError, SuiteError

TITLE_MIDDLE = "taken from Prog API Temporary AutoUploaded report by"
MAX_TITLE = 255
AUTO_TITLE = re.compile(r"^(?P<name>.+?) (?P<updated>UPDATED )?" + re.escape(TITLE_MIDDLE) +
                        r" (?P<user>[A-Za-z0-9_.\-]+) (?P<time>\d{4}-\d{2}-\d{2} \d{2}\.\d{2}\.\d{2})$")
# Keys a GUI-made template may carry that must not follow it: we run specs ad hoc.
DROPPED_KEYS = ("schedule", "delivery", "reportID", "reportSpecID")


def legal_title_text(text):
    """Text made legal for an Index Exchange title: letters, digits, space, - _ . only."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9 _.\-]", "_", plain)


def standard_title(report_name, username, when, updated=False):
    """<name> [UPDATED ]taken from Prog API Temporary AutoUploaded report by <user> <time>"""
    tail = (f"{'UPDATED ' if updated else ''}{TITLE_MIDDLE} {legal_title_text(username)} "
            f"{when.strftime('%Y-%m-%d %H.%M.%S')}")
    name = legal_title_text(report_name).strip() or "report"
    name = name[: MAX_TITLE - len(tail) - 1].rstrip()
    return f"{name} {tail}"


def is_auto_title(title):
    return bool(AUTO_TITLE.match(title or ""))


def is_own_title(title, report_name, username):
    """Whether `title` is a standard title the suite gives `report_name`'s specs as this
    user: one saved by a run that was killed before it could record the save, say."""
    found = AUTO_TITLE.match(title or "")
    if not found:
        return False
    expected = AUTO_TITLE.match(standard_title(report_name, username, dt.datetime(2000, 1, 1)))
    return (found.group("name"), found.group("user")) == (expected.group("name"), expected.group("user"))


def spec_for_publisher(template, publisher_id):
    """The template as it is saved for one publisher, title aside."""
    spec = copy.deepcopy(template)
    for key in DROPPED_KEYS + ("reportTitle",):
        spec.pop(key, None)
    spec["accounts"] = [int(publisher_id)]
    spec["fileType"] = "csv"
    spec["regionSetting"] = "standard"
    return spec


def fingerprint(spec):
    """What a saved spec's content was, title aside (the title holds the save time)."""
    content = {k: v for k, v in spec.items() if k != "reportTitle"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class SaveBudgetSpent(SuiteError):
    """The day's spec saves are used (by the suite's count over every host, or Index
    Exchange refused one): the pair waits for the next UTC day."""


class SaveBudget:
    """The spec saves of a UTC day, shared by every host through the database (Index
    Exchange allows `per_day`, 2,000 by default); `reserve` of them are kept back (a
    backfill leaves them to the cron runs). `db()` gives this thread's connection."""

    def __init__(self, db, per_day, reserve=0, clock=None):
        self.db, self.per_day, self.reserve = db, int(per_day), int(reserve)
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.refused = False              # Index Exchange refused a save today

    def spent_why(self):
        """Why no save is left today, for the one line that says so."""
        if self.refused or mysql_db_reporting.spec_saves(self.db(), self.day())[1]:
            return "Index Exchange refused a spec save today (its daily limit)"
        kept = f", INDEXEXCHANGEBACKFILLRESERVE keeps {self.reserve:,} for cron" if self.reserve else ""
        return (f"today's {self.per_day - self.reserve:,} spec saves are used (counted over every host; "
                f"INDEXEXCHANGESAVESPERDAY is {self.per_day:,}{kept})")

    def day(self):
        return self.clock().date().isoformat()

    def next_day(self):
        """When the next day's saves are there, as the line saying it puts it:
        "2026-06-06 00:00 UTC (in 15 h 59 min)"."""
        now = self.clock()
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
        minutes = int((midnight - now).total_seconds() // 60)
        return f"{midnight:%Y-%m-%d %H:%M} UTC (in {minutes // 60} h {minutes % 60:02d} min)"

    def take(self):
        if not mysql_db_reporting.take_spec_save(self.db(), self.day(), max(0, self.per_day - self.reserve)):
            raise SaveBudgetSpent(f"today's spec saves are used ({self.per_day - self.reserve} allowed)")

    def refused_by_index_exchange(self, err):
        self.refused = True
        mysql_db_reporting.refuse_spec_saves(self.db(), self.day())
        return SaveBudgetSpent(f"Index Exchange refused a spec save for today: {err}")


def _save(budget, call):
    """A spec save (create or update), one of the day's budget; SaveBudgetSpent when none is left."""
    if budget is not None:
        budget.take()
    try:
        return call()
    except RateLimitedError as err:
        if budget is None:
            raise
        raise budget.refused_by_index_exchange(err) from None


def ensure_spec(session, reportid_db, publisher_id, report_name, template, username, active,
                listed_at, force_new=False, now=None, budget=None):
    """The reportID serving this pair, saved only when needed: (reportID, action), action
    being "reused" (no save), "updated" or "created".

    A recorded spec is used when Index Exchange listed it as active for the publisher and
    under the title it was saved with (`active`, as active_specs gives it), or it was saved
    after that list was taken; it is updated only when its content changed. A listed spec
    of another title or account is not the pair's (its id was reused by a restarted
    simulator, or a person changed it): a new spec is made.
    """
    now = now or (lambda: dt.datetime.now(dt.timezone.utc))
    with reportid_db.pair_lock(publisher_id, report_name):
        content = spec_for_publisher(template, publisher_id)
        wanted = fingerprint(content)
        record = reportid_db.get(publisher_id, report_name)
        usable = record and not force_new and (
            _listed_as_saved(record, active, username) or record.get("saved_at", 0) >= listed_at)
        if usable:
            report_id = record["reportID"]
            if record.get("fingerprint") == wanted:
                return report_id, "reused"
            title = standard_title(report_name, username, now(), updated=True)
            try:
                _save(budget, lambda: reportmanagementAPI.update_spec(session, report_id,
                                                                      dict(content, reportTitle=title)))
                reportid_db.put(_record(publisher_id, report_name, report_id, wanted, title))
                return report_id, "updated"
            except NotFoundError:
                pass   # deactivated since it was listed: make a new one
        title = standard_title(report_name, username, now())
        report_id = _save(budget, lambda: reportmanagementAPI.create_spec(session, dict(content, reportTitle=title)))
        reportid_db.put(_record(publisher_id, report_name, report_id, wanted, title))
        return report_id, "created"


def _listed_as_saved(record, active, username):
    """Whether Index Exchange lists the record's spec as active, for the pair's publisher
    and with the title it was saved with, or another standard title of the pair's report
    (a save the suite made and a kill kept from being recorded; records of older versions
    have no title: the id and account alone then)."""
    listed = active.get(record["reportID"])
    if listed is None:
        return False
    title, accounts = listed
    if accounts is not None and int(record["publisher_id"]) not in accounts:
        return False
    return not record.get("title") or title == record["title"] or \
        is_own_title(title, record["report_name"], username)


def unrecorded_specs(active, recorded, publisher_id, report_name, username):
    """reportIDs of active specs of the publisher with the pair's standard title other
    than `recorded` (the reportID database's for the pair, or None): made by a run killed
    before it could record them."""
    return [report_id for report_id, (title, accounts) in active.items()
            if report_id != recorded and accounts == [int(publisher_id)]
            and is_own_title(title, report_name, username)]


def active_specs(session):
    """({reportID: (title, [accounts] or None)} of the specs Index Exchange lists as active,
    when the list was taken)."""
    listed_at = time.time()
    active = {}
    for item in reportmanagementAPI.list_active_specs(session):
        accounts = item.get("accounts")
        active[item["reportID"]] = (item.get("title"), [int(a) for a in accounts if type(a) is int]
                                    if isinstance(accounts, list) else None)
    return active, listed_at


def run_pair(session, reportid_db, publisher_id, report_name, template, username, active, listed_at, budget=None):
    """Make sure the pair's spec is saved (only when needed) and run it now: (reportID,
    fileID of the run, [actions]) with actions among "reused", "updated", "created". A
    spec deactivated on Index Exchange since the list was taken (its run answers 404) is
    replaced by a new one, which is run instead."""
    report_id, action = ensure_spec(session, reportid_db, publisher_id, report_name, template, username,
                                    active, listed_at, budget=budget)
    try:
        return report_id, reportdownloadAPI.run_report(session, report_id), [action]
    except NotFoundError:
        replacement, created = ensure_spec(session, reportid_db, publisher_id, report_name, template, username,
                                           active, listed_at, force_new=True, budget=budget)
        return replacement, reportdownloadAPI.run_report(session, replacement), [action, created]


def _record(publisher_id, report_name, report_id, fingerprint_value, title):
    return {"publisher_id": int(publisher_id), "report_name": report_name, "reportID": int(report_id),
            "fingerprint": fingerprint_value, "title": title, "saved_at": time.time()}


def deactivate_and_forget(session, reportid_db, report_id):
    """Deactivate a spec on Index Exchange and drop it from the reportID database (the
    main program then makes a new spec for its pair when next needed). Returns what was
    done, as text. A reportID neither Index Exchange nor the database knows, or one of an
    account this user may not see, is a ConfigurationError."""
    try:
        reportmanagementAPI.deactivate_spec(session, report_id)
        outcome = "deactivated"
    except NotFoundError:
        outcome = "not active on Index Exchange (already deactivated)"
    except PermissionDeniedError as err:
        raise ConfigurationError(f"reportID {report_id}: {err}") from None
    dropped = reportid_db.remove_report_ids([report_id])
    if not dropped and outcome != "deactivated":
        raise ConfigurationError(f"reportID {report_id}: unknown to Index Exchange (or deactivated) and not in "
                                 f"the reportID database")
    return f"{outcome}; {'dropped from' if dropped else 'not in'} the reportID database"


def orphan_specs(session, reportid_db):
    """(orphans, all active specs): active specs with the suite's standard title that the
    reportID database does not know; specs people made are never among them."""
    known = {r["reportID"] for r in reportid_db.all().values()}
    specs = reportmanagementAPI.list_active_specs(session)
    return [s for s in specs if is_auto_title(s.get("title")) and s["reportID"] not in known], specs


def deactivate_orphan(session, report_id):
    """Deactivate one orphan spec: "deactivated", or "already inactive"."""
    try:
        reportmanagementAPI.deactivate_spec(session, report_id)
        return "deactivated"
    except NotFoundError:
        return "already inactive"
