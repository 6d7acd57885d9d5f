"""S19, a leader cut off steps down: the simulator's check that a leader which can exchange
messages with no other node stops leading within a bound.

A leader that cannot reach a quorum can commit nothing and, once its lease runs out, serve
nothing; while it still calls itself leader, its clients wait on it instead of finding the
leader the rest of the group elects. Both built-in protocols promise to step down: Raft's
CheckQuorum and the Multi-Paxos leader's "no quorum acknowledged for an election timeout".
The check needs what no replica knows, which links work, so it lives in the simulator, beside
the network (`harness.sim.network.Network.link_up`).

What counts as cut off is deliberately narrow, so the check never blames a correct leader:
every link to and from every other node is down (a partition shape isolated it), and no
message from another node has reached it since (one already on the wire when the partition
began may still arrive, and answers a leader's quorum check). The span starts at the latest
of: the first step of the leader seen cut off, the last message delivered to it, its
election, its restart and the end of a pause (a paused node takes no steps, so its timers
fire only after it resumes). A leader whose peers are merely slow, crashed or partitioned
among themselves is never judged.

The bound is the slower protocol's worst case, Raft's: its quorum check runs once per
election timeout over the answers of the window before, so a quorum heard just before the cut
keeps it leading for up to two election timeouts of its own clock, plus the tick it steps down
at. In true time that is ``(2 * election timeout + heartbeat)`` scaled by
``(1 + rho) / (1 - rho)`` (its clock may run slow by rho), plus the largest safe clock step
(`harness.sim.nemesis_options.ClockFaultOptions.max_safe_step_us`) and one heartbeat of slack
for a host delayed by a slow disk. With the default timing (election timeout 0.5 s, heartbeat
50 ms, rho 1 %) the bound is 1.14 s; a drawn partition lasts 0.2 to 2 s. Runs with unsafe
clocks are not checked: the bound assumes rho.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.checks.violation import Violation

LinkUp = Callable[[int, int], bool]


def stale_bound_us(
    election_timeout_us: int, heartbeat_us: int, rho_ppm: int, max_clock_step_us: int
) -> int:
    """How long (true us) a cut-off leader may still lead; see the module doc."""
    local = 2 * election_timeout_us + heartbeat_us
    scaled = -(-local * (1_000_000 + rho_ppm) // (1_000_000 - rho_ppm))
    return scaled + max_clock_step_us + heartbeat_us


class StaleLeaders:
    """S19 over one run.

    Args:
        nodes: every node of the network.
        link_up: ``link_up(src, dst)``: whether packets from ``src`` reach ``dst`` now.
        bound_us: how long a cut-off leader may lead (`stale_bound_us`).
    """

    def __init__(self, nodes: Sequence[int], link_up: LinkUp, bound_us: int) -> None:
        self._nodes = tuple(nodes)
        self._link_up = link_up
        self.bound_us = bound_us
        self._since: dict[int, int] = {}  # leader -> start of its span cut off
        self._fresh: dict[int, int] = {}  # node -> latest election, restart, resume, message

    def _cut_off(self, node: int) -> bool:
        up = self._link_up
        return not any(up(node, p) or up(p, node) for p in self._nodes if p != node)

    def restart(self, node: int, now_us: int) -> None:
        """``node`` restarted, resumed, or was elected: its span starts again."""
        self._fresh[node] = now_us

    def on_step(self, node: int, leading: bool, received: bool, elected: bool,
                now_us: int, step: int) -> Violation | None:
        """After a step of ``node`` (``received``: it delivered a message from another
        node; ``elected``: the step made it leader)."""
        if received or elected:
            self._fresh[node] = now_us
        if not leading or not self._cut_off(node):
            self._since.pop(node, None)
            return None
        since = max(self._since.setdefault(node, now_us), self._fresh.get(node, 0))
        if now_us - since <= self.bound_us:
            return None
        return Violation(
            property="S19", time_us=now_us, step=step, node=node,
            message=(f"S19: node {node} still leads {now_us - since}us after it was cut off "
                     f"from every other node (a leader steps down within "
                     f"{self.bound_us}us)"),
        )
