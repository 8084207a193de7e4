"""Backfills: index-exchange-to-db.py --from FIRST --to LAST REPORT... loads the named
reports for a past window instead of their templates' date ranges.

The window is cut into chunks of --chunk-days days (default 31), written to
prog_ix_backfill_chunks when the backfill begins. Each (publisher, report) pair gets a
spec of its own, named "<report> backfill FIRST..LAST" in the reportID database (cron's
specs are never touched): a round asks every pair for its next chunk (the spec's
dateRange changed to it: one save, from the day's budget less the reserve left to cron),
collects the files and loads them like the main program's (window replacement
included); rounds go on while files come in. A pair whose chunks are all loaded has its
spec deactivated, so nothing is left behind at Index Exchange. The same command run again
(after a kill, or the next day when the saves ran out) continues where the database says
it stopped: a chunk is done when its file is loaded, waited for while its file is
pending, and asked again when its file expired, was superseded or is gone. --abandon ends
a backfill without finishing it.
"""

import dataclasses
import datetime as dt
import logging

import mappingfile
import mysql_db
import mysql_db_reporting
import reportid_db
import reportmanagementSupport
from authenticationSupport import reporting_session
from cronrun import in_shard
from errors import ApiError, ConfigurationError, SuiteError
from indexExchangeToDBSupport import ImportOptions, ImportRun, Summary, default_cap, listed_time_range
from reportConfigSupport import configuration_problems, refuse, set_up_command
from reportRunScheduler import FileJob, PairJob
from utility import listed

log = logging.getLogger("index-exchange-to-db")

DEFAULT_CHUNK_DAYS = 31
MAX_CHUNK_DAYS = 366
HOURLY_RETENTION_DAYS = 100      # Index Exchange keeps hourly data 100 days
DAILY_RETENTION_DAYS = 730       # daily data: not published; assumed two years (the seed bootstraps from 1 January)
LOADED, PENDING, TO_ASK, ABANDONED = "loaded", "pending", "to ask", "abandoned"


def parse_day(text, option):
    """A YYYY-MM-DD option value as a date; ConfigurationError naming the option."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"{option} {text!r} is not a day (YYYY-MM-DD)") from None


def utc_today():
    return dt.datetime.now(dt.timezone.utc).date()


def window_name(first, last):
    return f"{first.isoformat()}..{last.isoformat()}"


def spec_name(report_name, first, last):
    """The pair's backfill spec in the reportID database (and the start of its title)."""
    return f"{report_name} backfill {window_name(first, last)}"


def chunks_of(first, last, days):
    """[(first day, last day)] of the window, `days` days each (the last one shorter)."""
    chunks, start = [], first
    while start <= last:
        end = min(start + dt.timedelta(days=days - 1), last)
        chunks.append((start, end))
        start = end + dt.timedelta(days=1)
    return chunks


def chunk_date_range(chunk):
    """A chunk as a spec's dateRange (Index Exchange's `to` is excluded)."""
    first, last = chunk
    return {"from": first.isoformat(), "to": (last + dt.timedelta(days=1)).isoformat()}


def is_hourly(template):
    return any(str(f).lower() == "hour" for f in template["querySpec"]["fields"])


def retention_problems(templates, first, today):
    """Lines for the reports whose data Index Exchange no longer keeps from `first` on."""
    problems = []
    for name, template in templates.items():
        days, kind = (HOURLY_RETENTION_DAYS, "hourly") if is_hourly(template) else (DAILY_RETENTION_DAYS, "daily")
        earliest = today - dt.timedelta(days=days - 1)
        if first < earliest:
            problems.append(f"report {name!r} is {kind}: Index Exchange keeps {kind} data {days} days"
                            f"{' (assumed)' if kind == 'daily' else ''}, so --from can be {earliest} at the earliest, "
                            f"not {first}")
    return problems


@dataclasses.dataclass
class BackfillOptions(ImportOptions):
    first_day: dt.date = None         # --from
    last_day: dt.date = None          # --to, included
    chunk_days: int = DEFAULT_CHUNK_DAYS
    abandon: bool = False             # --abandon
    today: dt.date = None             # UTC; None: now

    def validated(self):
        checked = super().validated()
        today = self.today or utc_today()
        if self.first_day is None or self.last_day is None:
            raise ConfigurationError("--from and --to go together: name the first and the last day of the backfill")
        if self.first_day > self.last_day:
            raise ConfigurationError(f"--from {self.first_day} is after --to {self.last_day}")
        if self.last_day > today:
            raise ConfigurationError(f"--to {self.last_day} is in the future (today is {today} UTC); Index Exchange "
                                     f"has no data for it")
        if not 1 <= self.chunk_days <= MAX_CHUNK_DAYS:
            raise ConfigurationError(f"--chunk-days must be 1..{MAX_CHUNK_DAYS}, got {self.chunk_days}")
        # Half the runs Index Exchange allows at once, by default: cron's runs need the rest.
        return dataclasses.replace(checked, today=today,
                                   workers=self.workers or max(1, default_cap(self.shard) // 2))


@dataclasses.dataclass
class BackfillSummary(Summary):
    """What one run of a backfill did, and where the backfill stands."""
    backfill: str = ""
    chunk_days: int = 0
    chunks: int = 0                   # of this run's pairs
    chunks_loaded: int = 0            # at the end of this run (by any run)
    chunks_pending: int = 0
    chunks_to_ask: int = 0
    chunks_abandoned: int = 0
    chunks_asked: int = 0             # by this run
    chunks_waiting_for_saves: int = 0
    chunks_not_asked: int = 0         # Index Exchange refused the save or the run: asked next round or run
    specs_deactivated: int = 0

    title = "Backfill summary"

    @property
    def complete(self):
        return super().complete and not (self.chunks_pending or self.chunks_to_ask)

    @property
    def chunks_left(self):
        return self.chunks_pending + self.chunks_to_ask

    def lines(self):
        done = (f"{self.chunks_loaded} loaded, {self.chunks_left} left ({self.chunks_pending} pending at Index "
                f"Exchange, {self.chunks_to_ask} to ask)")
        lines = [f"  backfill {self.backfill} in chunks of {self.chunk_days} days: {self.chunks} chunks, {done}"
                 + (f", {self.chunks_abandoned} abandoned" if self.chunks_abandoned else ""),
                 f"  this run: {self.chunks_asked} chunks asked, {self.chunks_waiting_for_saves} waiting for spec "
                 f"saves; backfill specs deactivated (pairs done): {self.specs_deactivated}"]
        return lines + super().lines()


@dataclasses.dataclass(eq=False)
class ChunkJob(PairJob):
    """A pair's work in one round of a backfill: its pending chunk files, or the next chunk."""
    chunk: tuple = None                                            # the chunk to ask now
    chunk_files: dict = dataclasses.field(default_factory=dict)    # file_id -> chunk it was asked for


class BackfillRun(ImportRun):
    """One run of index-exchange-to-db.py --from/--to (see the module's docstring)."""

    summary_class = BackfillSummary

    def before_connecting(self):
        super().before_connecting()
        per_day = self.settings.integer("INDEXEXCHANGESAVESPERDAY")
        self.reserve = self.settings.integer("INDEXEXCHANGEBACKFILLRESERVE")
        if self.reserve >= per_day and not self.options.abandon:
            raise ConfigurationError(f"INDEXEXCHANGEBACKFILLRESERVE ({self.reserve}) leaves no spec save to a "
                                     f"backfill: INDEXEXCHANGESAVESPERDAY is {per_day}")
        options = self.options
        self.backfill = window_name(options.first_day, options.last_day)
        self.chunks = chunks_of(options.first_day, options.last_day, options.chunk_days)
        self.summary.backfill, self.summary.chunk_days = self.backfill, options.chunk_days
        self.saves_spent = False
        self.pairs_ended = set()          # pairs whose specs this run deactivated (or found none left)

    def check(self, db):
        options = self.options
        access = mysql_db.access_problem(db, mysql_db_reporting.BACKFILL_CHUNKS_TABLE,
                                         fix=set_up_command(self.settings, "report-create-db-tables.py"))
        refuse([access] if access else [])
        # The window's problems are said with the others, not in a second round.
        publishers, self.templates, self.tables, problems = configuration_problems(
            self.settings, db, options.report_names, options.publisher_ids)
        if not options.abandon:
            problems += retention_problems(self.templates, options.first_day, options.today)
        begun = mysql_db_reporting.recorded_chunk_days(db, self.backfill, options.report_names)
        changed = {name: days for name, days in begun.items() if days != options.chunk_days}
        if changed:
            names = listed([repr(n) for n in sorted(changed)])
            problems.append(f"backfill {self.backfill} of {names} was begun with --chunk-days "
                            f"{listed(sorted(set(changed.values())))}: run it again with that, or end it with "
                            f"--abandon")
        if options.abandon and not begun:
            names = listed([repr(n) for n in options.report_names])
            problems.append(f"no backfill {self.backfill} of {names} was begun, so there is nothing to abandon")
        refuse(problems)
        self.mapping = mappingfile.report_mapping(self.settings)
        # The publishers (of -l, of this shard) x the reports. Files pending and pairs
        # queued by cron are cron's: a backfill collects only its own chunks' files.
        publishers = [pid for pid, _ in publishers if in_shard(pid, options.shard)]
        self.pairs = [(pid, name) for pid in publishers for name in options.report_names]
        self.pending = []
        self.summary.publishers, self.summary.reports = len(publishers), len(options.report_names)
        self.summary.pairs = len(self.pairs)
        self.reportids = self.resources.enter_context(reportid_db.open_store(self.settings, self.connections))

    def steps(self, db):
        self.session = reporting_session(self.http, self.settings)
        self.save_budget = reportmanagementSupport.SaveBudget(
            self.connections.get, self.settings.integer("INDEXEXCHANGESAVESPERDAY"), reserve=self.reserve)
        if self.options.abandon:
            self._abandon(db)
            return
        mysql_db_reporting.begin_chunks(db, self.backfill, self.options.chunk_days, self.pairs, self.chunks)
        while not (self.stopping.is_set() or self.summary.interrupted):
            states = self._states(db)
            active, listed_at = reportmanagementSupport.active_specs(self.session)
            self._deactivate_done(states, active)
            jobs = self._round_jobs(states)
            if not jobs:
                break
            loaded = self.summary.files_loaded
            self._schedule(jobs, active, listed_at)
            if self.summary.files_loaded == loaded:
                break       # nothing came in this round: what is left waits for the next run
        states = self._states(db)
        if not (self.stopping.is_set() or self.summary.interrupted):
            self._deactivate_done(states, reportmanagementSupport.active_specs(self.session)[0])
        self._count(states)
        if self.summary.chunks_waiting_for_saves:
            self.summary.problem(
                f"backfill {self.backfill}: {self.summary.chunks_to_ask} chunks wait for spec saves: "
                f"{self.save_budget.spent_why()}; the same command continues from {self.save_budget.next_day()}")

    # --- rounds ---------------------------------------------------------------------------

    def _states(self, db):
        """{pair: [chunk, ...] by first day} of this run's pairs."""
        wanted = set(self.pairs)
        states = {}
        for chunk in mysql_db_reporting.chunk_states(db, self.backfill):
            pair = (chunk["publisher_id"], chunk["report_name"])
            if pair in wanted:
                states.setdefault(pair, []).append(chunk)
        return states

    def _round_jobs(self, states):
        """One job per pair with chunks left: its pending chunk files when it has some (a
        spec is never changed while a run of it may be in progress), else its next chunk
        (while the day's saves last)."""
        jobs = []
        for pair, chunks in states.items():
            pending = [c for c in chunks if c["state"] == PENDING]
            name = spec_name(pair[1], self.options.first_day, self.options.last_day)
            if pending:
                jobs.append(ChunkJob(pair, [_as_pending_run(c) for c in pending], False, spec_name=name,
                                     chunk_files={int(c["file_id"]): (c["chunk_from"], c["chunk_to"])
                                                  for c in pending}))
                continue
            to_ask = [c for c in chunks if c["state"] == TO_ASK]
            if to_ask and not self.saves_spent:
                jobs.append(ChunkJob(pair, [], True, spec_name=name,
                                     chunk=(to_ask[0]["chunk_from"], to_ask[0]["chunk_to"])))
        return jobs

    def start_pair(self, job, active, listed_at):
        """Claim the pair's backfill spec; its pending chunk files, or its next chunk asked
        (unless another program asked it meanwhile)."""
        if not self._claim(job):
            return None
        files = self._earlier_files(job)
        if job.run_new and not self.stopping.is_set() and self._still_to_ask(job):
            file_id = self._ask_chunk(job, active, listed_at)
            if file_id is not None:
                files.append(FileJob(file_id, job, self.tables[job.pair[1]], holds_slot=True))
        return files

    def _still_to_ask(self, job):
        """Whether the job's chunk is still to be asked (another copy may have asked it
        since the round began)."""
        publisher_id, name = job.pair
        found = mysql_db_reporting.chunk_states(self.connections.get(), self.backfill,
                                                chunk=(publisher_id, name, job.chunk[0]))
        return bool(found) and found[0]["state"] == TO_ASK

    def _ask_chunk(self, job, active, listed_at):
        """The fileID of the chunk's run; None when it could not be asked (said, and asked
        again by a later round or run)."""
        publisher_id, name = job.pair
        where = f"publisher {publisher_id}, report {name!r}, days {job.chunk[0]}..{job.chunk[1]}"
        template = dict(self.templates[name], dateRange=chunk_date_range(job.chunk))
        try:
            report_id, file_id, actions = reportmanagementSupport.run_pair(
                self.session, self.reportids, publisher_id, job.spec_name, template, self.username, active,
                listed_at, budget=self.save_budget)
        except reportmanagementSupport.SaveBudgetSpent as err:
            self.saves_spent = True
            self.summary.add(chunks_waiting_for_saves=1)
            log.info("%s: not asked, %s", where, err)
            return None
        except (ApiError, reportid_db.LeaseLostError) as err:
            self.summary.add(chunks_not_asked=1)
            self.summary.problem(f"{where}: not asked: {err}")
            return None
        for action in actions:
            self.summary.add(**{f"specs_{action}": 1})
        mysql_db_reporting.record_chunk_file(self.connections.get(), self.backfill, publisher_id, name, job.chunk[0],
                                            file_id, report_id, self.tables[name])
        job.chunk_files[file_id] = job.chunk
        self.summary.add(chunks_asked=1)
        log.debug("%s: spec %s %s, file %s requested", where, report_id, "/".join(actions), file_id)
        return file_id

    def fetch_file(self, file):
        """A chunk's file is loaded only when it covers the days asked for: one that does
        not (Index Exchange answered another window) is set aside and the chunk asked again."""
        asked = file.pair.chunk_files.get(file.file_id)
        got = listed_time_range(file.item)
        if asked and got and got != tuple(chunk_date_range(asked).values()):
            reason = (f"covers {got[0]}..{got[1]} (to excluded), not the days its backfill chunk asked, "
                      f"{asked[0]}..{asked[1]}; set aside, the chunk is asked again")
            try:
                mysql_db_reporting.mark_report_run_problem(self.connections.get(), file.file_id, reason,
                                                           status="abandoned")
            except mysql_db.DatabaseError as err:
                log.error("%s: cannot record it: %s", file.where, err)
            self.summary.problem(f"{file.where}: {reason}")
            return False
        return super().fetch_file(file)

    def _deactivate_done(self, states, active):
        """Deactivate (and forget) the backfill specs of every pair with no chunk left."""
        for pair, chunks in states.items():
            if pair in self.pairs_ended or any(c["state"] in (PENDING, TO_ASK) for c in chunks):
                continue
            self._deactivate(*pair, active)
            self.pairs_ended.add(pair)

    def _deactivate(self, publisher_id, name, active):
        """The pair's backfill spec, and any Index Exchange lists (`active`) under the
        pair's backfill title that a killed run made without recording it."""
        pair_spec = spec_name(name, self.options.first_day, self.options.last_day)
        record = self.reportids.get(publisher_id, pair_spec)
        recorded = record["reportID"] if record else None
        report_ids = ([recorded] if record else []) + reportmanagementSupport.unrecorded_specs(
            active, recorded, publisher_id, pair_spec, self.username)
        for report_id in report_ids:
            try:
                outcome = reportmanagementSupport.deactivate_and_forget(self.session, self.reportids, report_id)
            except SuiteError as err:
                self.summary.problem(f"publisher {publisher_id}, report {name!r}: backfill spec {report_id} not "
                                     f"deactivated ({err}); the next run of this backfill tries again")
                continue
            self.summary.add(specs_deactivated=1)
            log.info("publisher %s, report %r: backfill spec %s %s", publisher_id, name, report_id, outcome)

    def _count(self, states):
        counts = {LOADED: 0, PENDING: 0, TO_ASK: 0, ABANDONED: 0}
        for chunks in states.values():
            for chunk in chunks:
                counts[chunk["state"]] += 1
        summary = self.summary
        summary.chunks = sum(counts.values())
        summary.chunks_loaded, summary.chunks_pending = counts[LOADED], counts[PENDING]
        summary.chunks_to_ask, summary.chunks_abandoned = counts[TO_ASK], counts[ABANDONED]

    def _abandon(self, db):
        """--abandon: the chunks not loaded are abandoned and every backfill spec of the
        pairs deactivated. Files already asked for stay pending: any run loads them."""
        states = self._states(db)
        left = [(pair[0], pair[1], c["chunk_from"]) for pair, chunks in states.items() for c in chunks
                if c["state"] in (PENDING, TO_ASK)]
        mysql_db_reporting.abandon_chunks(db, self.backfill, left)
        active = reportmanagementSupport.active_specs(self.session)[0]
        for publisher_id, name in states:
            self._deactivate(publisher_id, name, active)
        self._count(self._states(db))


def _as_pending_run(chunk):
    """A pending chunk file in the form of mysql_db_reporting.pending_report_runs."""
    return {"file_id": chunk["file_id"], "report_id": chunk["report_id"], "publisher_id": chunk["publisher_id"],
            "report_name": chunk["report_name"], "db_table": chunk["db_table"],
            "requested_at": chunk["requested_at"], "attempts": chunk["attempts"]}
