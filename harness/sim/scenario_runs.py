"""One seeded run of a scripted fault scenario, measured the same way for every protocol.

`paxlab compare` (`harness.failures.compare`) runs each scenario of `SCENARIOS` on every
protocol it is asked to compare, with the same seeds: the fault is a `ScheduledFault` at
`FAULT_AT_US` (the first nemesis tick at or after it), the drawn faults are all off, and the
clients stop issuing operations at `FAULT_AT_US` + `WINDOW_US` (then the usual liveness phase
and final reads). So a difference between two protocols' figures comes from the protocols, not
from different faults.

What one run gives (`ScenarioRun`), all from what the simulator records anyway:

- ``unavailable_us``: true time in ``[fault, fault + WINDOW_US)`` at which no replica served
  under a lease. The serving intervals are the exact ones the S6 check computes
  (`harness.checks.lease_overlap`: a replica's serving window mapped through its clock into
  true time, from one of its steps to the next), kept for this run (``LeaseOverlap.kept``).
  A leader whose lease lapsed is not serving, even if it still believes it leads.
- ``write_latencies_us``: invoke to ``ok`` of every acknowledged write (put, append, cas)
  invoked in the same window, simulated time (the writes under the fault and its aftermath,
  not those of the healthy first seconds).
- ``acked_writes``, ``messages``: acknowledged writes and peer messages delivered to a live
  node, both over the whole run (their ratio is the cost of a write in messages).
- ``elections``: times a replica became leader (the observer's leader timeline).
- the verdict and first violation, as `harness.sim.run` decides them (online invariants,
  liveness, linearizability).

``replica-loss`` needs spares to heal, which a protocol gets only if it tolerates the
``permanent`` fault (`harness.runtime.protocols.ProtocolSpec.faults`); one that does not is run
without spares, the failed replica stays gone, and ``note`` says so.
"""

from __future__ import annotations

from typing import Any

import attrs

from harness.runtime import protocols
from harness.sim.nemesis_options import (
    NemesisOptions,
    PermanentOptions,
    ScheduledFault,
)
from harness.sim.options import SimOptions
from harness.sim.runspec import RunOptions

FAULT_AT_US = 2_000_000
"""When every scenario's fault starts: after the first election and its lease wait."""
WINDOW_US = 6_000_000
"""How long after the fault the clients keep working and unavailability is measured."""
LASTS_US = 4_000_000
"""How long a partial partition or gray failure lasts: it heals 2 s before the window ends,
so what the healing does (a deposed leader, a new election) is measured too."""
GRAY_LOSS = 0.3
"""gray-failure: the share of packets to or from the leader that are lost."""
GRAY_DELAY_US = 20_000
"""gray-failure: how much later every other packet to or from the leader arrives."""

_WRITES = ("put", "append", "cas")

SCENARIOS: dict[str, str] = {
    "leader-crash": "the leader crashes at 2 s and stays down until the fault phase ends (8 s)",
    "partial-partition": "at 2 s one follower loses its links to and from the leader (both "
                         "still reach the third replica) until 6 s",
    "gray-failure": f"from 2 s to 6 s every packet to or from the leader is lost with "
                    f"p={GRAY_LOSS} and arrives {GRAY_DELAY_US // 1000} ms late",
    "clock-drift": "at 2 s the leader's clock runs at -rho and the others at +rho, to the "
                   "end of the run",
    "replica-loss": "at 2 s a storage replica other than the leader fails for good (healed "
                    "from spares where the protocol has them)",
}
"""Every scenario and its schedule, in the order the tables come."""


def schedule(scenario: str) -> ScheduledFault:
    """The scripted fault of ``scenario``; raises ValueError for an unknown one."""
    if scenario == "leader-crash":
        return ScheduledFault(at_us=FAULT_AT_US, fault="crash-leader")
    if scenario == "partial-partition":
        return ScheduledFault(at_us=FAULT_AT_US, fault="partition", shape="leader-cut",
                              lasts_us=LASTS_US)
    if scenario == "gray-failure":
        return ScheduledFault(at_us=FAULT_AT_US, fault="gray-leader", lasts_us=LASTS_US,
                              loss_probability=GRAY_LOSS, delay_us=GRAY_DELAY_US)
    if scenario == "clock-drift":
        return ScheduledFault(at_us=FAULT_AT_US, fault="clock-drift")
    if scenario == "replica-loss":
        return ScheduledFault(at_us=FAULT_AT_US, fault="permanent")
    raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")


@attrs.frozen(kw_only=True)
class ScenarioRun:
    """What one seed of one scenario measured on one protocol (see the module docstring).

    ``fault_at_us`` is when the fault was applied (None: the run ended before it).
    ``verdict`` is ``ok``, ``violation``, ``unknown`` or ``error`` (the run raised:
    ``message`` holds the exception). ``prop`` and ``message`` describe the first violation.
    """

    protocol: str
    scenario: str
    seed: int
    verdict: str
    fault_at_us: int | None = None
    unavailable_us: int | None = None
    write_latencies_us: tuple[int, ...] = ()
    acked_writes: int = 0
    messages: int = 0
    elections: int = 0
    prop: str | None = None
    message: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["write_latencies_us"] = list(self.write_latencies_us)
        return d


def split_protocol(protocol: str) -> tuple[str, str | None]:
    """``"raft:no-check-quorum"`` -> ``("raft", "no-check-quorum")``; ``"raft"`` ->
    ``("raft", None)``: a compared protocol may be a variant of a registered one."""
    name, _, variant = protocol.partition(":")
    return name, variant or None


def scenario_options(protocol: str, scenario: str, seed: int) -> tuple[RunOptions, SimOptions,
                                                                       str | None]:
    """The run and simulator options of one seed, and the note for a protocol that cannot
    heal a lost replica. ``protocol`` is a registered name, or ``NAME:VARIANT`` for one of its
    variants (`split_protocol`). Raises ValueError for an unknown scenario, protocol or
    variant."""
    fault = schedule(scenario)
    name, variant = split_protocol(protocol)
    spec = protocols.get(name)
    faults: tuple[str, ...] = ()
    note = None
    if scenario == "replica-loss":
        if "permanent" in spec.faults:
            faults = ("permanent",)  # spares to heal with; its drawn failures are off below
        else:
            note = (f"{name} has no spares wired (its faults exclude permanent): the lost "
                    f"replica is not replaced and the group runs on the rest")
    nemesis = NemesisOptions(
        schedule=(fault,),
        permanent=PermanentOptions(probability=0.0, strike_probability=0.0),
    )
    sim_options = SimOptions(
        nemesis=nemesis,
        fault_phase_max_us=FAULT_AT_US + WINDOW_US,
    )
    options = RunOptions(seed=seed, protocol=name, variant=variant, ops=1_000_000,
                         faults=faults)
    return options, sim_options, note


def unavailable_in(intervals: list[tuple[int, int]], start_us: int, end_us: int) -> int:
    """The time in ``[start_us, end_us)`` covered by none of ``intervals`` (half-open
    ``(start, end)`` pairs, in any order, possibly overlapping)."""
    covered = 0
    at = start_us
    for lo, hi in sorted(intervals):
        lo, hi = max(lo, at), min(hi, end_us)
        if lo < hi:
            covered += hi - lo
            at = hi
    return (end_us - start_us) - covered


def write_latencies(
    history: tuple[dict[str, Any], ...], since_us: int = 0, until_us: int | None = None
) -> tuple[int, ...]:
    """Invoke-to-ok times (us) of the acknowledged writes of a history invoked in
    ``[since_us, until_us)`` (None: no end), in history order.

    A process has at most one operation open, so its next completion closes its invoke.
    """
    opened: dict[int, dict[str, Any]] = {}
    out = []
    for event in history:
        process = event["process"]
        if event["type"] == "invoke":
            opened[process] = event
            continue
        invoke = opened.pop(process, None)
        if invoke is None or event["type"] != "ok" or invoke["f"] not in _WRITES:
            continue
        at_us = invoke["time"] // 1000
        if at_us >= since_us and (until_us is None or at_us < until_us):
            out.append((event["time"] - invoke["time"]) // 1000)
    return tuple(out)


def run_scenario(protocol: str, scenario: str, seed: int) -> ScenarioRun:
    """Run one seed of ``scenario`` on ``protocol`` and measure it (see the module doc).

    Raises ValueError for an unknown scenario or protocol; a run that raises otherwise is
    returned as verdict ``error``, as a sweep counts it.
    """
    options, sim_options, note = scenario_options(protocol, scenario, seed)
    from harness.sim import Simulation, run  # the simulator loads on first use

    seen: list[Simulation] = []

    def prepare(sim: Simulation) -> None:
        seen.append(sim)
        leases = sim.checks.leases
        if leases is not None:
            leases.kept = []

    try:
        result = run(options, sim_options=sim_options, keep_trace=False, prepare=prepare)
    except Exception as exc:  # a bug in a replica or the simulator: counted, never hidden
        while isinstance(exc, BaseExceptionGroup) and isinstance(exc.exceptions[0], Exception):
            exc = exc.exceptions[0]  # trio's nursery wraps what a task raised
        return ScenarioRun(protocol=protocol, scenario=scenario, seed=seed, verdict="error",
                           message=f"{type(exc).__name__}: {exc}", note=note)
    sim = seen[0]
    fault_at = next((e["time_us"] for e in result.timeline if e["kind"] == "fault"
                     and e["time_us"] >= FAULT_AT_US), None)
    unavailable = None
    leases = sim.checks.leases
    if fault_at is not None and leases is not None and leases.kept is not None:
        spans = [(i.start_us, i.end_us) for i in leases.kept]
        end = min(fault_at + WINDOW_US, int(result.sim_time_s * 1e6))
        unavailable = unavailable_in(spans, fault_at, end) + (fault_at + WINDOW_US - end)
    violation = result.violation
    return ScenarioRun(
        protocol=protocol, scenario=scenario, seed=seed, verdict=result.verdict,
        fault_at_us=fault_at, unavailable_us=unavailable,
        write_latencies_us=(() if fault_at is None else
                            write_latencies(result.history, fault_at, fault_at + WINDOW_US)),
        acked_writes=len(write_latencies(result.history)),
        messages=sim.delivered,
        elections=sum(1 for e in result.timeline
                      if e["kind"] == "leader" and e["event"] == "elected"),
        prop=None if violation is None else violation.property,
        message=(None if violation is None else violation.message) or result.unknown,
        note=note,
    )
