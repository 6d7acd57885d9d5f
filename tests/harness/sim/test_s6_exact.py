"""In simulated runs, the interval S6 check alone catches a new leader that does not wait out
its predecessor's lease (the step-time sampling check switched off)."""

from __future__ import annotations

import pytest

from harness.checks.invariants import OnlineInvariants
from harness.sim import run
from harness.sim.runspec import RunOptions


def test_no_lease_wait_is_caught_on_intervals_without_sampling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(OnlineInvariants, "check_global", lambda *a, **k: None)
    for seed in range(80):
        r = run(RunOptions(seed=seed, ops=200, variant="no-lease-wait"), keep_trace=False)
        if r.violation is not None:
            assert r.violation.property == "S6", r.violation
            assert "both serve under a lease in true time" in r.violation.message
            return
    pytest.fail("no-lease-wait passed 80 seeds: the interval S6 check caught nothing")


def test_the_correct_protocol_passes_the_interval_check() -> None:
    for seed in range(5):
        r = run(RunOptions(seed=seed, ops=300), keep_trace=False)
        assert r.violation is None, (seed, r.violation)
