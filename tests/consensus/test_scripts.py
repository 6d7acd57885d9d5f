"""Scripted transcripts (etcd raft's interaction tests): tests/consensus/scripts/*.txt.

A script is blocks separated by blank lines; each block is a command, a line ``----`` and the
output expected. Set ``PAXLAB_REWRITE_SCRIPTS=1`` to rewrite the expected output from the
actual (then review the diff). Commands (node ids are 1..n):

- ``group N``: a fresh group of N replicas (the nominal election jitter: choose() = 0);
- ``campaign I``: node I's election timer fires now (gray-failure check first);
- ``stabilize``: deliver every message until none are in flight;
- ``deliver I``: deliver only the messages in flight to node I;
- ``drop I``: drop every message in flight to or from node I;
- ``write I CMD`` / ``read I`` (strong): a client request at node I;
- ``tick US``: advance every clock by US microseconds and fire due timers;
- ``crash I`` / ``restart I``; ``stepdown I``;
- ``state``: each node's role, promised ballot, commit and applied index, serving.

Output: one line per delivered message (``src->dst Msg``) and per effect other than Send and
SetTimer (``node: Effect``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consensus import Replica
from consensus.effects import Effect, Persist, Send, SetTimer
from consensus.events import Event, Receive, StepDown, Tick
from tests.consensus.group import Group

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.txt"))


class Env:
    def __init__(self) -> None:
        self.g: Group | None = None
        self.out: list[str] = []
        self.requests = 0

    def _next_request(self) -> int:
        self.requests += 1
        return self.requests

    @property
    def group(self) -> Group:
        assert self.g is not None, "script must start with: group N"
        return self.g

    def _step(self, i: int, event: Event) -> None:
        effects = self.group.step(i, event)
        self._show(i, effects)

    def _show(self, i: int, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Send | SetTimer):
                continue
            if isinstance(e, Persist):
                self.out.append(f"{i}: Persist({len(e.records)} records"
                                f"{', checkpoint' if e.checkpoint else ''})")
            else:
                self.out.append(f"{i}: {e!r}")

    def _deliver(self, only_to: int | None = None) -> None:
        g = self.group
        for _ in range(10_000):
            idx = next((k for k, m in enumerate(g.network) if only_to in (None, m[1])), None)
            if idx is None:
                return
            src, dst, msg = g.network.pop(idx)
            if not (g.nodes[src].alive and g.nodes[dst].alive):
                continue
            self.out.append(f"{src}->{dst} {msg!r}")
            self._step(dst, Receive(src=src, msg=msg))
        raise AssertionError("network did not quiesce")

    def run(self, line: str) -> str:
        self.out = []
        cmd, *args = line.split()
        if cmd == "group":
            self.g = Group(int(args[0]))
            self.g.choose = lambda label, n: 0  # type: ignore[method-assign]
        elif cmd == "campaign":
            i = int(args[0])
            fs = self.group.replica(i)._fstate
            assert fs is not None, f"node {i} is not a follower"
            fs.deadline_us = self.group.nodes[i].clock_us
            self._step(i, Tick())
        elif cmd == "stabilize":
            self._deliver()
        elif cmd == "deliver":
            self._deliver(int(args[0]))
        elif cmd == "drop":
            i = int(args[0])
            self.group.network = [m for m in self.group.network if i not in (m[0], m[1])]
        elif cmd == "write":
            i = int(args[0])
            self._show(i, self.group.write(i, 1, self._next_request(), args[1].encode()))
        elif cmd == "read":
            i = int(args[0])
            self._show(i, self.group.read(i, 1, self._next_request(), strong=True))
        elif cmd == "tick":
            self.group.advance(int(args[0]))
            for i, n in self.group.nodes.items():
                if n.alive and n.timer_us is not None and n.timer_us <= n.clock_us:
                    self._step(i, Tick())
        elif cmd == "crash":
            self.group.crash(int(args[0]))
        elif cmd == "restart":
            i = int(args[0])
            node = self.group.nodes[i]
            node.replica = Replica(node.config, self.group.choose, records=list(node.wal),
                                   applied_slot=node.applied_slot)
            node.alive = True
            self._step(i, Tick())
        elif cmd == "stepdown":
            self._step(int(args[0]), StepDown())
        elif cmd == "state":
            for i, n in self.group.nodes.items():
                r = n.replica
                if not n.alive:
                    self.out.append(f"{i}: down")
                    continue
                self.out.append(
                    f"{i}: {r.role.value} promised={r.promised!r} commit={r.commit_index} "
                    f"applied={r.applied_index} serving={r.is_serving(n.clock_us)}"
                )
        else:
            raise ValueError(f"unknown script command {cmd!r}")
        return "\n".join(self.out)


def run_script(text: str) -> str:
    env = Env()
    blocks = []
    for block in text.strip().split("\n\n"):
        command = block.split("\n----", 1)[0].strip()
        got = env.run(command)
        blocks.append(f"{command}\n----\n{got}" if got else f"{command}\n----")
    return "\n\n".join(blocks) + "\n"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_script(path: Path) -> None:
    text = path.read_text()
    got = run_script(text)
    if os.environ.get("PAXLAB_REWRITE_SCRIPTS") == "1":
        path.write_text(got)
    assert got == text


def test_there_are_scripts() -> None:
    assert len(SCRIPTS) >= 2
