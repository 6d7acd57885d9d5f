"""BUGGIFY's knobs: drawn per run through the chooser (0 = defaults), traced with the
options, and they make rare paths (segment rolls, compaction, snapshot catch-up in chunks,
full windows) happen in most runs of a small seed range."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from consensus.effects import InstallSnapshot, Persist, Send
from consensus.messages import Accept, CatchUpReply
from harness.runtime.chooser import Chooser
from harness.sim import SimOptions, Simulation, run
from harness.sim.buggify import SMALL, Knobs, draw_knobs
from harness.sim.runspec import RunOptions

SEEDS = range(16)
OPS = 400


def test_choice_zero_keeps_the_defaults_and_other_choices_are_small() -> None:
    defaults = Knobs(checkpoint_every=99)
    assert draw_knobs(Chooser.replaying([]), defaults) == defaults
    small = draw_knobs(Chooser.replaying([1] * len(SMALL)), defaults)
    assert attrs.asdict(small) == {name: values[0] for name, values in SMALL.items()}
    last = draw_knobs(Chooser.replaying([10**6] * len(SMALL)), defaults)  # clamped: the last
    assert attrs.asdict(last) == {name: values[-1] for name, values in SMALL.items()}
    drawn = [draw_knobs(Chooser(seed), Knobs()) for seed in range(20)]
    assert len(set(drawn)) > 10 and all(d == draw_knobs(Chooser(i), Knobs())
                                         for i, d in enumerate(drawn))


def test_the_knobs_are_traced_with_the_options_and_off_when_asked() -> None:
    r = run(RunOptions(seed=2, ops=50))
    lines = [t for t in r.trace[:4] if " knobs " in t]
    assert len(lines) == 1 and " 0 knobs wal_segment_bytes=" in lines[0]
    assert "window=" in lines[0]
    off = run(RunOptions(seed=2, ops=50), sim_options=SimOptions(buggify=False))
    assert not any(" knobs " in t for t in off.trace)


class RarePaths:
    """Counts, per run, the rare paths a step listener can see."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.sim: Simulation | None = None
        self.proposed: dict[int, int] = {}

    def attach(self, sim: Simulation) -> None:
        self.sim = sim
        sim.add_step_listener(self.on_step)

    def on_step(self, node: int, replica: Any, event: Any, effects: list[Any], local: int) -> None:
        sim = self.sim
        assert sim is not None
        for e in effects:
            kind = type(e)
            if kind is Persist and e.checkpoint:
                self.seen["log compaction"] += 1
            elif kind is InstallSnapshot:
                self.seen["snapshot catch-up"] += 1
            elif kind is Send and type(e.msg) is CatchUpReply and e.msg.snapshot_total:
                self.seen["snapshot in chunks"] += 1
            elif kind is Send and type(e.msg) is Accept and e.msg.commands:
                last = e.msg.first_slot + len(e.msg.commands) - 1
                self.proposed[node] = max(self.proposed.get(node, 0), last)
        if self.proposed.get(node, 0) - replica.commit_index >= replica.config.window:
            self.seen["full window"] += 1
        host = sim.hosts[node]
        if host.wal is not None and len(host.wal.segment_files) > 1:
            self.seen["segment roll"] += 1
        files = host.disk.list()
        if any("-pages-" in f and not f.endswith("-pages-0000000000") for f in files):
            self.seen["btree compaction"] += 1


def _rare_paths(buggify: bool) -> Counter[str]:
    runs_with: Counter[str] = Counter()
    for seed in SEEDS:
        meter = RarePaths()
        r = run(RunOptions(seed=seed, ops=OPS), keep_trace=False,
                sim_options=SimOptions(buggify=buggify), prepare=meter.attach)
        assert r.verdict == "ok", (seed, r.violation)
        runs_with.update(set(meter.seen))
    return runs_with


def test_rare_paths_happen_in_most_runs_with_buggify_and_rarely_without() -> None:
    on, off = _rare_paths(True), _rare_paths(False)
    print(f"runs of {len(SEEDS)} with each rare path: buggify on {dict(on)}, off {dict(off)}")
    most = len(SEEDS) // 2 + 1
    paths = ("segment roll", "log compaction", "btree compaction", "full window",
             "snapshot catch-up", "snapshot in chunks")
    for path in paths:
        assert on[path] >= most, (path, on, off)
    for path in ("segment roll", "btree compaction", "full window", "snapshot in chunks"):
        assert off[path] <= 1, (path, on, off)  # production sizes: (almost) never
