"""When the main program polls: the readiness estimate that sets the ticks (pure
arithmetic on a given clock; the scheduling itself is tested end to end)."""

import pytest

from reportRunScheduler import FAST_TICK, MAX_TICK, UNKNOWN_SPAN, UNKNOWN_TICK, FileJob, ReadinessEstimate


def file_asked_at(seconds, earlier=None):
    return FileJob(file_id=1, pair=None, table="t", requested_at=seconds, earlier=earlier)


def test_before_any_file_was_seen_ready_the_ticks_are_short_then_back_off():
    estimate = ReadinessEstimate()
    file = file_asked_at(100.0)
    assert estimate.next_check(file, 100.0) == pytest.approx(100.0 + UNKNOWN_TICK)
    late = estimate.next_check(file, 100.0 + UNKNOWN_SPAN + 1)
    assert late == pytest.approx(100.0 + UNKNOWN_SPAN + 1 + 0.5)


def test_once_readiness_is_known_the_first_poll_is_just_before_it():
    estimate = ReadinessEstimate()
    estimate.seen(30.0)
    estimate.seen(31.0)                      # the shortest seen counts
    file = file_asked_at(200.0)
    assert estimate.next_check(file, 200.0) == pytest.approx(200.0 + 30.0 - FAST_TICK), "no poll that cannot succeed"
    assert estimate.next_check(file, 229.95) == pytest.approx(229.95 + FAST_TICK), "fast near readiness"


def test_a_late_file_is_polled_less_and_less_often_up_to_the_slowest_tick():
    estimate = ReadinessEstimate()
    estimate.seen(2.0)
    file = file_asked_at(0.0)
    now, gaps = 10.0, []
    for _ in range(12):
        following = estimate.next_check(file, now)
        gaps.append(following - now)
        now = following
    assert gaps == sorted(gaps) and gaps[0] == pytest.approx(0.5) and gaps[-1] == pytest.approx(MAX_TICK)


def test_a_file_left_by_an_earlier_run_is_not_timed_by_this_runs_estimate():
    import datetime as dt
    estimate = ReadinessEstimate()
    estimate.seen(30.0)
    file = file_asked_at(0.0, earlier=dt.datetime(2026, 6, 1))
    assert estimate.next_check(file, 0.0) == pytest.approx(0.5)
