"""harness.sim.determinism: trio's private scheduler names exist and are set, then restored."""

from __future__ import annotations

import random

import trio
import trio.testing

from harness.sim import determinism


def test_trio_private_names_exist() -> None:
    module = trio._core._run
    assert isinstance(getattr(module, determinism.FLAG_NAME), bool)
    assert isinstance(getattr(module, determinism.RNG_NAME), random.Random)
    determinism.check_trio_names()


def test_context_sets_then_restores() -> None:
    module = trio._core._run
    before_flag = getattr(module, determinism.FLAG_NAME)
    before_state = module._r.getstate()
    with determinism.deterministic_scheduling(7):
        assert getattr(module, determinism.FLAG_NAME) is True
        first = module._r.random()
    with determinism.deterministic_scheduling(7):
        assert module._r.random() == first
    with determinism.deterministic_scheduling(8):
        assert module._r.random() != first
    assert getattr(module, determinism.FLAG_NAME) == before_flag
    assert module._r.getstate() == before_state


def _order_of_wakeups(seed: int) -> list[int]:
    order: list[int] = []

    async def worker(i: int, event: trio.Event) -> None:
        await event.wait()
        order.append(i)

    async def main() -> None:
        event = trio.Event()
        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(worker, i, event)
            await trio.testing.wait_all_tasks_blocked()
            event.set()

    with determinism.deterministic_scheduling(seed):
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return order


def test_same_seed_same_task_order() -> None:
    assert _order_of_wakeups(3) == _order_of_wakeups(3)
    orders = {tuple(_order_of_wakeups(s)) for s in range(6)}
    assert len(orders) > 1


def test_mock_clock_is_trios_without_importing_trio_testing() -> None:
    # the simulator takes MockClock from trio's private module (trio.testing would import
    # pytest in every run's process); it must be the very class trio.testing exports
    assert determinism.MockClock is trio.testing.MockClock
