"""Counting the configuration changes of a run with the ``membership`` fault.

The nemesis asks leaders for one-server changes (`harness.sim.nemesis.Nemesis._membership`);
whether a change enters a log, and whether it commits, is the protocol's business. A sweep
that says PASSED must also say whether the changes it asked for happened, so `ConfigChanges`
watches every replica step (a step listener: it reads, never writes) and counts:

- ``proposed``: a leader appended a configuration entry (its configuration in force changed
  in one of its own steps as leader; Raft appends the entry last in that step, so it sits at
  the leader's last index);
- ``committed``: some node's commit index covers such an entry, with the same term there.

It also tells the nemesis the moment a node becomes leader (``on_elected``): the fault asks
new leaders for changes within a drawn delay, so a change can race the start of a term, when
no entry of the new term is committed yet (with leader churn, leaders seldom live until the
next nemesis tick).

It reads only the views a Raft replica documents (``role``, ``members``, ``learners``,
``commit_index``, ``term_at``, ``term``, and ``log.last_index``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ConfigChanges:
    """Configuration entries proposed and committed in one run, and elections as they
    happen (see the module doc). ``on_elected(node)`` is called in the step in which
    ``node`` becomes leader; it may only schedule events, never step a node."""

    def __init__(self, on_elected: Callable[[int], None] | None = None) -> None:
        self.proposed = 0
        self.committed = 0
        self._on_elected = on_elected
        self._config: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._led: dict[int, int] = {}  # node -> the last term it was seen leading
        self._pending: dict[int, int] = {}  # index -> term of a proposed, uncommitted entry
        self._lowest = 0  # the lowest pending index (0: none pending)

    def observe(self, node: int, replica: Any, event: Any, effects: list[Any],
                local: int) -> None:
        """`harness.runtime.host.StepObserver`: after every replica step."""
        if replica.role.value == "leader" and self._led.get(node) != replica.term:
            self._led[node] = replica.term
            if self._on_elected is not None:
                self._on_elected(node)
        config = (replica.members, replica.learners)
        if self._config.get(node) != config:
            if node in self._config and replica.role.value == "leader":
                self.proposed += 1
                self._pending[replica.log.last_index] = replica.term
                self._lowest = min(self._pending)
            self._config[node] = config
        if self._lowest and replica.commit_index >= self._lowest:
            self._settle(replica)

    def _settle(self, replica: Any) -> None:
        """Pending entries at or below ``replica``'s commit index: committed if it holds the
        same term there, else overwritten before they committed (dropped)."""
        commit = replica.commit_index
        for index in sorted(self._pending):
            if index > commit:
                break
            have = replica.term_at(index)
            if have is None:
                continue  # compacted into its snapshot: another node will tell
            if have == self._pending.pop(index):
                self.committed += 1
        self._lowest = min(self._pending, default=0)
