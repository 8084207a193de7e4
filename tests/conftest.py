"""Shared fixtures: the Index Exchange simulator over real HTTP on 127.0.0.1."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ixsimulator import IXSimulator  # noqa: E402

# A fixed simulator clock: 2026-06-05 08:00:00 UTC, so dates in tests never depend on
# the day the tests run.
SIM_START = 1780646400.0


@pytest.fixture
def sim():
    """A fresh simulator, files ready at once, clock fixed at SIM_START."""
    with IXSimulator(seed=1, start_time=SIM_START, run_delay=0, cal_window_hours=3) as simulator:
        yield simulator
