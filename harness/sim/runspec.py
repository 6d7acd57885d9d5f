"""What a simulated run takes and what it gives back: the contract between the simulator
(`harness.sim.run`) and everything that drives runs (CLI, sweeps, replay, shrink, reports).

A run is fully determined by its `RunOptions` and its choice list (see `harness.runtime.chooser`):
``run(options)`` draws choices from ``options.seed``; ``run(options, replay=choices)`` repeats
them, and gives the same `RunResult.fingerprint`, bit for bit, on any machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from consensus import VARIANTS as CONSENSUS_VARIANTS
from harness.checks.violation import Violation
from harness.runtime import protocols

FAULTS: tuple[str, ...] = protocols.ALL_FAULTS
"""Every fault kind. ``permanent`` (a storage replica fails for good) also gives the group
spare nodes to heal with (`harness.sim`), so it is opt-in. ``adversarial``: message timing
beyond the ordinary jitter (holds of seconds, late copies, replays of old messages)."""
DEFAULT_FAULTS: tuple[str, ...] = ("partition", "crash", "pause", "clock", "disk", "loss")
"""What a run injects unless told otherwise: every fault but ``adversarial`` and
``permanent``."""
VARIANTS: tuple[str, ...] = CONSENSUS_VARIANTS
"""The default protocol's (Multi-Paxos) variants; another protocol's are in its
`harness.runtime.protocols.ProtocolSpec`."""


def _int(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    """Counts and the seed come from flags and artifact files: a string or a float there
    would fail deep inside the run, so name it here."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be an int, got {attribute.name}={value!r}")


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    _int(instance, attribute, value)
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {attribute.name}={value}")


def _bool(instance: Any, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be true or false, got {attribute.name}={value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    _int(instance, attribute, value)
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {attribute.name}={value}")


def _to_faults(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"faults must be a list of fault names, got faults={value!r}")
    return tuple(value)


def _check_faults(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for fault in value:
        if fault not in protocols.KNOWN_FAULTS:
            raise ValueError(
                f"unknown fault {fault!r}; choose from {', '.join(protocols.KNOWN_FAULTS)}"
            )


def _check_protocol(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"protocol must be a name, got protocol={value!r}")
    protocols.get(value)  # raises ProtocolUnavailable (a ValueError) with one line


def _default_faults(instance: Any) -> tuple[str, ...]:
    if not isinstance(instance.protocol, str):
        return DEFAULT_FAULTS  # the protocol's validator names the problem
    return protocols.get(instance.protocol).default_faults


def _check_replicas(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    _int(instance, attribute, value)
    if value < 1:
        raise ValueError(f"replicas must be >= 1, got replicas={value}")


@attrs.frozen(kw_only=True)
class RunOptions:
    """Everything that, with the choice list, determines a run. Recorded in every artifact.

    Attributes:
        seed: root seed of the chooser.
        replicas: storage replicas in the group.
        ops: client operations to issue in the fault phase (then a few final reads).
        clients: concurrent client processes.
        keys: size of the key set the workload draws from (>= 1: with none, no operation
            could run and the run would pass having checked nothing).
        faults: fault kinds the nemesis may inject (empty: a fault-free run).
        unsafe_clocks: let clock drift exceed the protocol's bound rho (S6/S8 may then fail,
            and the run is labelled unsafe).
        protocol: the registered protocol the group runs (`harness.runtime.protocols`;
            ``multipaxos`` by default). It decides the replica, the variants, the faults
            allowed (its assumptions) and the default faults, and the invariants checked.
        variant: a deliberately broken protocol version (see the protocol's variants;
            `VARIANTS` for Multi-Paxos), or None. ``one-step-swap`` breaks healing, so it
            needs the ``permanent`` fault (spares).
    """

    seed: int = attrs.field(default=0, validator=_int)
    replicas: int = attrs.field(default=3, validator=_check_replicas)
    ops: int = attrs.field(default=1000, validator=_non_negative)
    clients: int = attrs.field(default=5, validator=_non_negative)
    keys: int = attrs.field(default=5, validator=_positive)
    # before faults, whose default depends on it; `to_json` leaves the default out
    protocol: str = attrs.field(default=protocols.DEFAULT, validator=_check_protocol)
    faults: tuple[str, ...] = attrs.field(
        default=attrs.Factory(_default_faults, takes_self=True), converter=_to_faults,
        validator=_check_faults,
    )
    unsafe_clocks: bool = attrs.field(default=False, validator=_bool)
    variant: str | None = None

    def __attrs_post_init__(self) -> None:
        spec = protocols.get(self.protocol)
        if self.variant is not None and self.variant not in spec.variants:
            choose = ", ".join(spec.variants) or "none exist"
            raise ValueError(
                f"unknown variant {self.variant!r} of protocol {self.protocol}; choose from "
                f"{choose}"
            )
        outside = [f for f in self.faults if f not in spec.faults]
        if outside:
            raise ValueError(
                f"protocol {self.protocol} does not tolerate fault {outside[0]} (outside its "
                f"assumptions); its faults: {', '.join(spec.faults)}"
            )
        if self.variant == "one-step-swap" and "permanent" not in self.faults:
            raise ValueError(
                "variant one-step-swap changes how a group heals: it needs the permanent fault "
                "(add permanent to the faults)"
            )

    def describe(self) -> str:
        """One line of ``name=value`` pairs, as the CLI prints options before a run (the
        protocol only when it is not the default, so Multi-Paxos output stays as it was)."""
        protocol = "" if self.protocol == protocols.DEFAULT else f"protocol={self.protocol} "
        return (
            f"{protocol}seed={self.seed} replicas={self.replicas} ops={self.ops} "
            f"clients={self.clients} keys={self.keys} faults={','.join(self.faults) or 'none'} "
            f"unsafe_clocks={self.unsafe_clocks} variant={self.variant}"
        )

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict; `from_json` inverts it. The default protocol is left out:
        the options line opens every trace, so Multi-Paxos fingerprints recorded before
        protocols were named still hold, and options without it mean Multi-Paxos."""
        d = attrs.asdict(self)
        d["faults"] = list(self.faults)
        if self.protocol == protocols.DEFAULT:
            del d["protocol"]
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunOptions:
        """Build options from `to_json` output; raises ValueError/TypeError on bad input."""
        fields = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"unknown run option(s): {', '.join(unknown)}")
        return cls(**data)


@attrs.frozen(kw_only=True)
class RunResult:
    """What one run produced.

    Attributes:
        options: the options it ran with.
        verdict: ``"ok"``, ``"violation"``, or ``"unknown"`` (no violation found, but a check
            could not decide, e.g. the linearizability budget ran out: never a pass).
        violation: the first violated property, or None.
        unknown: for an ``"unknown"`` verdict, which check could not decide and why.
        coverage: what the run exercised (`harness.sim.coverage`: leader changes,
            partitions by shape, crashes, info operations, disk faults, ...).
        probes: how often each `consensus.probes` rare path fired in the run.
        ops: counts of completed client operations by outcome: ``{"ok": n, "fail": n, "info": n}``.
        sim_time_s: simulated (true) seconds the run covered.
        wall_time_s: wall-clock seconds it took (not part of the fingerprint).
        fingerprint: hex blake2b over the ordered event trace.
        steps: number of simulator steps (trace lines).
        choices: the complete choice list (replaying it repeats the run).
        labels: the chooser label of each entry of ``choices`` (same length): replayed with
            them, each draw takes the next recorded value of its own label (`Chooser`).
        history: client history events (dicts in the `harness.checks.history` format).
        trace: the ordered event trace, one line per step (may be empty if not kept).
        unsafe: the run let clock drift exceed rho on purpose (S6/S8 violations are expected).
        timeline: structured events for reports, each a dict with ``time_us``, ``kind`` and
            kind-specific fields: ``fault`` (``fault``: partition/heal/crash/restart/pause/resume/
            clock-step/disk, ``nodes``, ``detail``; a crash inside a step says ``crash point
            <point>``), ``leader`` (``node``, ``ballot``: a node
            became leader or stepped down, ``event``: "elected"/"serving"/"stepped-down").
        crash_points: crashes inside a step by crash point (`harness.runtime.host.
            CRASH_POINTS`) that fired in this run; points that never fired are absent.
    """

    options: RunOptions
    verdict: str
    violation: Violation | None
    ops: dict[str, int]
    sim_time_s: float
    wall_time_s: float
    fingerprint: str
    steps: int
    choices: tuple[int, ...]
    history: tuple[dict[str, Any], ...] = ()
    trace: tuple[str, ...] = ()
    unsafe: bool = False
    timeline: tuple[dict[str, Any], ...] = ()
    labels: tuple[str, ...] = ()
    unknown: str | None = None
    coverage: dict[str, Any] = attrs.field(factory=dict)
    probes: dict[str, int] = attrs.field(factory=dict)
    crash_points: dict[str, int] = attrs.field(factory=dict)

    @property
    def passed(self) -> bool:
        """Only an ``"ok"`` verdict passes (an unknown one does not)."""
        return self.verdict == "ok"
