"""When the main program does what: runs kept at the limit that matters, files polled
together, loads off the critical path.

Index Exchange allows 50 runs in progress at once, and a run takes tens of seconds; that
limit, not our threads, sets the pace. So:
- a pair starts (claim, spec saved when needed, run requested) as soon as a run slot is
  free, up to the cap (-P, default the limit or this host's share of it);
- every file waiting for its run is polled by one list call per tick (`fileIDs=`), the
  ticks slow while no file can be ready and fast once one's expected readiness is near
  (learnt from the files seen ready so far);
- a ready file frees its slot at once and is downloaded in a pool of its own, then
  loaded in a small pool once the older files of its pair are loaded (earlier runs'
  first), so a slow load never holds a run slot nor an older file overwrite a newer one.

The main thread only decides and polls; starting pairs and loading files run in pools.
"""

import collections
import dataclasses
import datetime as dt
import logging
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import reportdownloadSupport
from errors import ApiError

log = logging.getLogger("index-exchange-to-db")

STARTERS = 50          # threads saving specs and requesting runs (one or two round trips each)
FETCHERS = 24          # threads downloading ready files (one round trip each, no database)
LOADERS = 8            # threads loading files (small files wait on round trips to the database, not its CPU)
FAST_TICK = 0.1        # seconds between polls once a file's readiness is near
UNKNOWN_TICK = 0.15    # ... while no file has been seen ready yet, for the first seconds
UNKNOWN_SPAN = 5.0
MAX_TICK = 5.0         # the slowest polling of a file that is late
LATE_GROWTH = 1.5


@dataclasses.dataclass(eq=False)
class PairJob:
    """One (publisher, report) pair of the run and the files it still has to load, oldest first."""
    pair: tuple
    earlier_runs: list
    run_new: bool
    spec_name: str = None             # the pair's name in the reportID database, when not the report's
    files: list = dataclasses.field(default_factory=list)
    claimed: bool = False
    loading: bool = False
    started: bool = False

    @property
    def spec_key(self):
        """The name the pair's spec (and its claim) has in the reportID database."""
        return self.spec_name or self.pair[1]


@dataclasses.dataclass(eq=False)
class FileJob:
    """One file on its way: asked for now (holding a run slot until ready) or left by an
    earlier run, polled, then downloaded and loaded."""
    file_id: int
    pair: PairJob
    table: str
    earlier: dt.datetime = None       # when an earlier run asked for it
    expired: bool = False             # older than Index Exchange keeps files
    holds_slot: bool = False
    requested_at: float = 0.0         # monotonic
    deadline: float = 0.0
    next_check: float = 0.0
    late_tick: float = 0.0
    item: dict = None                 # its list item, once ready
    time_range: tuple = None          # (from, to) dates the list gave
    path: str = None                  # downloaded, waiting for its turn to load
    fetched: bool = False

    @property
    def where(self):
        publisher_id, name = self.pair.pair
        return f"publisher {publisher_id}, report {name!r}, file {self.file_id}"


class ReadinessEstimate:
    """How long a run takes to become ready, as seen so far (the shortest seen: polling
    from a little before it wastes a few list calls, from after it wastes run time)."""

    def __init__(self):
        self.seconds = None

    def seen(self, seconds):
        self.seconds = seconds if self.seconds is None else min(self.seconds, seconds)

    def next_check(self, file, now):
        age = now - file.requested_at
        if file.earlier is None and self.seconds is not None:
            if age < self.seconds - FAST_TICK:
                return file.requested_at + self.seconds - FAST_TICK
            if age < self.seconds + 2.0:
                return now + FAST_TICK
        elif file.earlier is None and age < UNKNOWN_SPAN:
            return now + UNKNOWN_TICK
        file.late_tick = min(max(file.late_tick * LATE_GROWTH, 0.5), MAX_TICK)
        return now + file.late_tick


class RunScheduler:
    """Carries the pairs of one run of the main program through start, poll, load (see
    the module's docstring). `importer` does each step: start_pair(job, ...) -> [FileJob]
    or None, fetch_file(file) -> bool, load_file(file), not_ready(file, gone, listing_error), not_listed(file),
    pair_done(job), database_gone(error) -> bool; and has `session`,
    `options` (workers: the cap, max_wait), `summary` and `stopping`."""

    def __init__(self, importer, jobs, *start_args, clock=time.monotonic):
        self.importer = importer
        self.start_args = start_args
        self.clock = clock
        self.cap = importer.options.workers
        self.max_wait = importer.options.max_wait
        self.jobs = list(jobs)
        self.to_start = collections.deque(jobs)
        self.polled = {}                     # file_id -> FileJob waiting for its file
        self.slots_used = 0                  # runs this program may have in progress
        self.slots_given_up = 0              # ... of them, runs whose file was given up on (still running there)
        self.futures = {}                    # future -> ("start", PairJob) or ("fetch"|"load", FileJob)
        self.estimate = ReadinessEstimate()
        self.listing_error = None            # why the last list call failed; None when it answered
        self.malformed_seen = set()          # fileIDs listed in a form that is not one, each said once
        self._starters = ThreadPoolExecutor(max_workers=min(self.cap, STARTERS), thread_name_prefix="start")
        self._fetchers = ThreadPoolExecutor(max_workers=min(self.cap, FETCHERS), thread_name_prefix="fetch")
        self._loaders = ThreadPoolExecutor(max_workers=LOADERS, thread_name_prefix="load")

    def run(self):
        try:
            while self.to_start or self.futures or self.polled:
                if self.importer.stopping.is_set():
                    self._stop_starting()
                self._start_pairs()
                timeout = self._poll()
                if self.futures:
                    done, _ = wait(list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._completed(future)
                elif timeout is not None and timeout > 0:
                    self.importer.stopping.wait(timeout)
        except BaseException:
            # Ctrl-C: steps under way see `stopping` and end where they are.
            self.importer.stopping.set()
            raise
        finally:
            for pool in (self._starters, self._fetchers, self._loaders):
                pool.shutdown(wait=True, cancel_futures=True)

    def interrupted(self):
        """After Ctrl-C (the pools have stopped: steps not begun were cancelled, steps under
        way finished): every file asked for and not loaded stays pending, collected first by
        the next run."""
        summary = self.importer.summary
        not_begun = len(self.to_start)
        accounted = set()       # files whose step ended and counted itself in the summary
        pending = 0
        for future, (kind, item) in self.futures.items():
            if kind == "start":
                if future.cancelled():
                    not_begun += 1
                elif future.exception() is None:
                    pending += len(future.result() or [])
            elif not future.cancelled() and (kind == "load" or future.exception() or not future.result()):
                accounted.add(item)
        for job in self.jobs:
            pending += sum(1 for file in job.files if file not in accounted)
        self.to_start.clear()
        self.polled.clear()
        self.futures.clear()
        summary.interrupted = True
        summary.add(pairs_not_begun=not_begun, files_pending=pending)
        log.warning("interrupted: %d pairs not begun; the files asked for stay pending", not_begun)

    def _stop_starting(self):
        """The run is stopping (the database is gone): pairs not begun are not begun,
        files not yet ready are left pending; steps under way end by themselves."""
        if not (self.to_start or self.polled):
            return
        not_begun, pending = len(self.to_start), len(self.polled)
        self.to_start.clear()
        for file in list(self.polled.values()):
            if self._stop_polling(file):
                self.slots_used -= 1
            self._finished(file)
        self.importer.summary.add(pairs_not_begun=not_begun, files_pending=pending)

    def _stop_polling(self, file):
        """Take a file off the polled ones; whether it held a run slot (the caller decides
        what becomes of the slot)."""
        del self.polled[file.file_id]
        held, file.holds_slot = file.holds_slot, False
        return held

    # --- starting pairs ---
    def _start_pairs(self):
        while self.to_start and not self.importer.stopping.is_set():
            job = self.to_start[0]
            if job.run_new and self.slots_used >= self.cap:
                if self.slots_used == self.slots_given_up:
                    self._no_slot_left()
                return
            self.to_start.popleft()
            if job.run_new:
                self.slots_used += 1
            self.futures[self._starters.submit(self.importer.start_pair, job, *self.start_args)] = ("start", job)

    def _no_slot_left(self):
        """Every slot is held by a run given up on (not ready within -r's wait): the pairs
        still to start are not begun this time (the next run starts them), rather than
        going over the cap."""
        runs_to_start = [job for job in self.to_start if job.run_new]
        others = [job for job in self.to_start if not job.run_new]
        self.to_start = collections.deque(others)
        self.importer.summary.add(pairs_not_begun=len(runs_to_start))
        self.importer.summary.problem(
            f"{len(runs_to_start)} pairs not begun: all {self.cap} runs allowed at once are still in progress at "
            f"Index Exchange (not ready within the wait of -r); they run next time")

    def _started(self, job, files):
        job.started = True
        now = self.clock()
        holds = False
        for file in files or []:
            file.requested_at = now
            file.deadline = now + self.max_wait
            file.next_check = now if file.earlier else self.estimate.next_check(file, now)
            holds = holds or file.holds_slot
            job.files.append(file)
            self.polled[file.file_id] = file
        if job.run_new and not holds:
            self.slots_used -= 1        # no run after all (queued, or another host has the pair)
        self._maybe_done(job)

    # --- polling ---
    def _poll(self):
        """Poll when a file is due; seconds until the next check (None: nothing to poll)."""
        if not self.polled:
            return None
        asked_at = self.clock()
        due = min(f.next_check for f in self.polled.values())
        if due > asked_at:
            return due - asked_at
        try:
            ready, malformed = reportdownloadSupport.ready_files(self.importer.session, list(self.polled))
            self.listing_error = None
        except ApiError as err:
            # Index Exchange not answering (after the client's own retries): the files
            # keep waiting until their deadline. Said once an outage, not once a poll.
            if self.listing_error is None:
                self.importer.summary.problem(f"listing the files of {len(self.polled)} runs: {err}")
            else:
                log.debug("listing the files of %d runs: %s", len(self.polled), err)
            self.listing_error = err
            ready, malformed = {}, []
        for value in malformed:
            if value not in self.malformed_seen:
                self.malformed_seen.add(value)
                self.importer.summary.problem(f"Index Exchange listed a file with fileID {value!r}, which is not a "
                                              f"file id (an integer); that item was left out")
        now = self.clock()
        for file_id, item in ready.items():
            file = self.polled.pop(file_id, None)
            if file is None:
                continue
            file.item = item
            if file.holds_slot:
                self.slots_used -= 1
                file.holds_slot = False
                self.estimate.seen(asked_at - file.requested_at)
            self.futures[self._fetchers.submit(self.importer.fetch_file, file)] = ("fetch", file)
        for file in list(self.polled.values()):
            if now >= file.deadline:
                if self._stop_polling(file):
                    # Given up on, its run is still in progress at Index Exchange: the slot
                    # stays taken for the rest of this program's run.
                    self.slots_given_up += 1
                if file.earlier is not None and not file.expired and self.listing_error is None:
                    # Asked for by an earlier run, still not listed: noted, and gone after
                    # some runs over some hours, so no run waits for it for ever.
                    self.importer.not_listed(file)
                else:
                    self.importer.not_ready(file, gone=file.expired, listing_error=self.listing_error)
                self._finished(file)
            else:
                file.next_check = self.estimate.next_check(file, now)
        if not self.polled:
            return None
        return max(0.0, min(f.next_check for f in self.polled.values()) - self.clock())

    # --- loading ---
    def _load_next(self, job):
        """Load the pair's oldest file once fetched, when nothing of the pair is loading."""
        if job.loading or not job.files or not job.files[0].fetched:
            return
        job.loading = True
        file = job.files[0]
        self.futures[self._loaders.submit(self.importer.load_file, file)] = ("load", file)

    def _finished(self, file):
        job = file.pair
        if file in job.files:
            job.files.remove(file)
        self._load_next(job)
        self._maybe_done(job)

    def _maybe_done(self, job):
        if job.started and not job.files and not job.loading:
            self.importer.pair_done(job)

    def _completed(self, future):
        kind, item = self.futures.pop(future)
        if future.cancelled():
            return
        error = future.exception()
        if kind == "start":
            if error is not None:
                self._failed(f"publisher {item.pair[0]}, report {item.pair[1]!r}", error, files=0)
                if self.importer.database_unreachable:
                    self.importer.summary.add(pairs_not_begun=1)    # nothing of it reached Index Exchange
            self._started(item, None if error else future.result())
        elif kind == "fetch":
            if error is not None:
                self._failed(item.where, error, files=1)
            if error is None and future.result():
                item.fetched = True
                self._load_next(item.pair)
            else:
                self._finished(item)
        else:
            if error is not None:
                self._failed(item.where, error, files=1)
            item.pair.loading = False
            self._finished(item)

    def _failed(self, where, error, files):
        """A step's unexpected failure is reported, and the other pairs go on; the
        database gone stops the run (see ImportRun.database_gone)."""
        log.debug("%s failed", where, exc_info=error)
        self.importer.summary.add(files_pending=files, files_failed=files)
        if not self.importer.database_gone(error):
            self.importer.summary.problem(f"{where}: unexpected {type(error).__name__}: {error}")
