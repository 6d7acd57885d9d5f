"""Deterministic trio scheduling for simulated runs: the one place that touches trio's privates.

Why: the simulator steps nodes one at a time from its own ordered event queue, so trio's
scheduler decides little. It still decides the order in which tasks woken in the same batch
run (client tasks, the loop task), and trio picks that order at random, from a module-level
``random.Random`` that is not seeded. Same seed and options must give the same run bit for
bit, so for the duration of a run we switch trio to its deterministic mode (sort the batch by
task creation counter, then shuffle it with a seeded RNG), exactly what trio does for its
Hypothesis integration, and restore the previous settings afterwards.

Private names used (trio is pinned to 0.35.x in pyproject.toml; tests/harness/
test_determinism.py asserts they exist): ``trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING``
(bool) and ``trio._core._run._r`` (the scheduler's ``random.Random``; `trio.testing.MockClock`
also draws its initial offset from it, so create the clock inside the context). `MockClock` is
taken from its private module ``trio._core._mock_clock`` (the same class): importing
``trio.testing`` would also import pytest, where it is installed, in every run's process.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from types import ModuleType

import trio
from trio._core._mock_clock import MockClock

from harness.runtime.chooser import derive_seed

__all__ = ["FLAG_NAME", "RNG_NAME", "MockClock", "check_trio_names", "deterministic_scheduling"]

FLAG_NAME = "_ALLOW_DETERMINISTIC_SCHEDULING"
RNG_NAME = "_r"


def _run_module() -> ModuleType:
    module: ModuleType = trio._core._run
    return module


def check_trio_names() -> None:
    """Raise RuntimeError unless trio still has the private names this module relies on."""
    module = _run_module()
    flag = getattr(module, FLAG_NAME, None)
    rng = getattr(module, RNG_NAME, None)
    if not isinstance(flag, bool) or not isinstance(rng, random.Random):
        raise RuntimeError(
            f"trio private scheduler names changed: {FLAG_NAME}={flag!r} {RNG_NAME}={rng!r} "
            f"(trio={trio.__version__}); update harness/determinism.py and the trio pin"
        )


@contextlib.contextmanager
def deterministic_scheduling(seed: int) -> Iterator[None]:
    """Within the block, trio schedules tasks deterministically from ``seed``.

    The scheduler RNG is seeded from the sub-stream ``"trio.scheduler"`` of ``seed``. On exit
    the previous flag and RNG state are restored (tests under Hypothesis rely on them).
    Raises RuntimeError if the private names are gone (see `check_trio_names`).
    """
    check_trio_names()
    module = _run_module()
    rng: random.Random = getattr(module, RNG_NAME)
    saved_flag = getattr(module, FLAG_NAME)
    saved_state = rng.getstate()
    setattr(module, FLAG_NAME, True)
    rng.seed(derive_seed(seed, "trio.scheduler"))
    try:
        yield
    finally:
        setattr(module, FLAG_NAME, saved_flag)
        rng.setstate(saved_state)
