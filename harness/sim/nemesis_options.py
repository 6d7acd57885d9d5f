"""The nemesis' options: one record per fault source, units in names, and scripted faults.

`NemesisOptions` gathers them; ``faults`` (names from `harness.sim.runspec.FAULTS`) enables the
sources. What each fault does and the budget that keeps runs repairable: `harness.sim.nemesis`.
"""

from __future__ import annotations

import attrs

from harness.sim.network import SCRIPTED_SHAPES, SHAPES, NetworkOptions, TimingAttack
from storage.simdisk import SimDiskFaults


def _span(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {attribute.name}={value}")


@attrs.frozen(kw_only=True)
class PartitionOptions:
    """Network partitions: chance per tick, then one of `SHAPES` for a drawn duration."""

    probability: float = 0.05
    min_duration_us: int = attrs.field(default=200_000, validator=_span)
    max_duration_us: int = attrs.field(default=2_000_000, validator=_span)


@attrs.frozen(kw_only=True)
class CrashOptions:
    """Node crashes (volatile state and unsynced bytes lost), restarted after a drawn time.

    ``probability`` is per nemesis tick (a crash between steps). ``point_probability`` is per
    visit of a crash point inside a step (`harness.runtime.host.CRASH_POINTS`: after a WAL
    append before its write, inside its write and fsync (a torn tail), after an fsync before
    the sends, before a write's reply);
    ``checkpoint_probability`` per KV checkpoint (rarer, so likelier). All within the budget.
    """

    probability: float = 0.03
    point_probability: float = 0.002
    checkpoint_probability: float = 0.03
    min_down_us: int = attrs.field(default=50_000, validator=_span)
    max_down_us: int = attrs.field(default=2_000_000, validator=_span)


@attrs.frozen(kw_only=True)
class ChurnOptions:
    """Leader churn (``churn``): a leader crashes in the middle of a step's sends, so what it
    appended and broadcast reaches only some of its peers (a minority, or none), and comes
    back soon, so terms follow each other quickly.

    ``send_probability`` is per message a leader sends (the ``mid-send`` crash point, within
    the crash budget): high, so most leaders die within their first broadcasts, each after
    reaching some peers only; the leader restarts after ``min_down_us``..``max_down_us``.
    What this makes likely is the Raft paper's Figure 8: several short terms, each leader
    gone right after its entries reached a minority (docs/raft.md).
    """

    send_probability: float = 0.4
    min_down_us: int = attrs.field(default=20_000, validator=_span)
    max_down_us: int = attrs.field(default=600_000, validator=_span)


@attrs.frozen(kw_only=True)
class MembershipOptions:
    """Membership changes driven by the nemesis (``membership``, Raft only): the group has
    ``outside_nodes`` extra nodes running from the start outside the configuration, and at
    drawn times the nemesis asks the leader of the moment for a one-server change
    (`consensus.events.Reconfigure`): add a running node that is not a voter, or remove a
    voter other than the leader (never below ``min_voters``).

    Two triggers: per nemesis tick, the leader of the moment is asked with ``probability``;
    and the moment a node becomes leader, with ``new_leader_probability`` it is asked after a
    delay drawn up to ``new_leader_within_us`` (a change racing the start of a term, before
    the new leader has committed anything: the moment the 2015 single-server bug needs;
    with leader churn, leaders seldom live until the next tick). ``add_probability``: the
    share of changes that add a node (when both an addition and a removal are possible).
    """

    probability: float = 0.05
    new_leader_probability: float = 0.5
    new_leader_within_us: int = attrs.field(default=2_000, validator=_span)
    add_probability: float = 0.5
    outside_nodes: int = attrs.field(default=1, validator=_span)
    min_voters: int = attrs.field(default=3, validator=_span)


@attrs.frozen(kw_only=True)
class PauseOptions:
    """Process pauses (a GC stall): the node handles nothing, then everything that waited."""

    probability: float = 0.03
    min_pause_us: int = attrs.field(default=10_000, validator=_span)
    max_pause_us: int = attrs.field(default=1_500_000, validator=_span)


@attrs.frozen(kw_only=True)
class ClockFaultOptions:
    """Clock disturbances. Safe runs: a new drift per event, or (``safe_step_probability`` of
    events) a step of up to ``max_safe_step_us`` made as NTP slews one, at rate rho until the
    reading has moved that far; and jitter, a small change of one clock's drift
    (``jitter_probability`` per tick, up to ``jitter_ppm``), all within rho. Unsafe runs
    also step clocks at once and drift beyond rho."""

    probability: float = 0.05
    safe_step_probability: float = 0.3
    max_safe_step_us: int = attrs.field(default=20_000, validator=_span)
    jitter_probability: float = 0.05
    jitter_ppm: int = attrs.field(default=2_000, validator=_span)
    step_probability: float = 0.5  # of an unsafe clock event, the share that are steps
    max_step_us: int = attrs.field(default=2_000_000, validator=_span)
    unsafe_drift_factor: int = 50  # unsafe drift is drawn up to factor * rho


@attrs.frozen(kw_only=True)
class DiskFaultOptions:
    """Disk faults: ``corrupting`` on at most f nodes, ``everyone`` (latency only) on all.

    Aimed at the most recent records: when a corrupting node crashes, with
    ``tail_probability`` one bit among the last ``tail_bytes`` durable bytes of its newest
    WAL segment flips before it restarts (recovery must then refuse, not drop, the record).
    """

    corrupting: SimDiskFaults = attrs.field(
        factory=lambda: SimDiskFaults(
            bit_flip_probability=0.0005,
            latent_error_probability=0.0005,
            misdirected_write_probability=0.0002,
            fsync_failure_probability=0.0005,
            slow_fsync_probability=0.02,
            fsync_latency_us=100,
            slow_fsync_latency_us=20_000,
        )
    )
    everyone: SimDiskFaults = attrs.field(
        factory=lambda: SimDiskFaults(
            slow_fsync_probability=0.01, fsync_latency_us=100, slow_fsync_latency_us=20_000
        )
    )
    nominal: SimDiskFaults = attrs.field(factory=lambda: SimDiskFaults(fsync_latency_us=100))
    tail_probability: float = 0.2  # per crash of a corrupting node: a bit flip in its WAL tail
    tail_bytes: int = attrs.field(default=256, validator=_span)


@attrs.frozen(kw_only=True)
class LossOptions:
    """Lossy periods: the network drops and duplicates packets for a drawn time."""

    probability: float = 0.03
    lossy: NetworkOptions = attrs.field(
        factory=lambda: NetworkOptions(packet_loss_probability=0.1, packet_replay_probability=0.05)
    )
    min_duration_us: int = attrs.field(default=100_000, validator=_span)
    max_duration_us: int = attrs.field(default=2_000_000, validator=_span)


@attrs.frozen(kw_only=True)
class AdversarialOptions:
    """Adversarial message timing: periods of `TimingAttack` and replays of old messages.

    Per nemesis tick: a period starts with ``probability`` (lasting a drawn time); and, with
    ``replay_probability``, up to ``max_replays`` messages remembered from any earlier point of
    the run (at most ``history_size`` kept, spread evenly) are sent again. And when a new
    leader is seen, with ``step_down_probability`` it is told to step down (a planned handover,
    `consensus.events.StepDown`) within ``step_down_within_us``: most often while it still
    waits out its predecessor's lease, so the grants it releases are not the only ones running.
    """

    probability: float = 0.05
    min_duration_us: int = attrs.field(default=500_000, validator=_span)
    max_duration_us: int = attrs.field(default=5_000_000, validator=_span)
    attack: TimingAttack = attrs.field(factory=TimingAttack)
    replay_probability: float = 0.1
    max_replays: int = attrs.field(default=8, validator=_span)
    history_size: int = attrs.field(default=1024, validator=_span)
    step_down_probability: float = 0.3
    step_down_within_us: int = attrs.field(default=1_000_000, validator=_span)


@attrs.frozen(kw_only=True)
class PermanentOptions:
    """Permanent failures: a storage replica stops for good; the leader must heal the group.

    ``strike_probability``: when the healing leader proposes adding a spare, the chance that
    the nemesis isolates it within 3 ms, while the change is pending (`Nemesis.
    membership_changing`): the moment phase-1 and lease quorums must span two configurations.
    """

    probability: float = 0.02
    max_failures: int = attrs.field(default=1, validator=_span)
    strike_probability: float = 0.5


SCHEDULED_FAULTS: tuple[str, ...] = (
    "permanent", "partition", "crash-leader", "gray-leader", "clock-drift"
)
"""What a `ScheduledFault` can do (see its docstring)."""


@attrs.frozen(kw_only=True)
class ScheduledFault:
    """A fault at a fixed true time, beside the drawn ones (scripted scenarios).

    Applied at the first nemesis tick at or after ``at_us`` (scheduled faults tick the
    nemesis even in a run whose drawn faults are all off). ``fault``:

    - ``"permanent"``: a storage replica other than the leader fails for good (within the
      budget);
    - ``"partition"``: ``shape`` from `harness.sim.network.SHAPES` or
      `harness.sim.network.SCRIPTED_SHAPES` for ``lasts_us``;
    - ``"crash-leader"``: the leader of the moment crashes and restarts after ``lasts_us``
      (0: when the fault phase ends);
    - ``"gray-leader"``: every packet to or from the leader of the moment is lost with
      ``loss_probability`` and delayed ``delay_us`` more, for ``lasts_us`` (0: until the
      fault phase ends): a slow, lossy node that still looks alive;
    - ``"clock-drift"``: the leader's clock runs at -rho and every other clock at +rho, for
      the rest of the run: the edges of the bound in the worst direction for a lease (the
      leader's lease lasts longest in true time while the grants behind it end soonest).

    A fault aimed at the leader when there is none is recorded as such and does nothing.
    """

    at_us: int = attrs.field(validator=_span)
    fault: str = attrs.field(validator=attrs.validators.in_(SCHEDULED_FAULTS))
    shape: str = attrs.field(
        default="isolate-leader", validator=attrs.validators.in_(SHAPES + SCRIPTED_SHAPES)
    )
    lasts_us: int = attrs.field(default=0, validator=_span)
    loss_probability: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    delay_us: int = attrs.field(default=0, validator=_span)


@attrs.frozen(kw_only=True)
class NemesisOptions:
    """All fault sources; ``faults`` (names from `harness.sim.runspec.FAULTS`) enables them."""

    faults: tuple[str, ...] = ()
    tick_interval_us: int = 100_000
    partition: PartitionOptions = PartitionOptions()
    crash: CrashOptions = CrashOptions()
    pause: PauseOptions = PauseOptions()
    churn: ChurnOptions = ChurnOptions()
    membership: MembershipOptions = MembershipOptions()
    clock: ClockFaultOptions = ClockFaultOptions()
    disk: DiskFaultOptions = DiskFaultOptions()
    loss: LossOptions = LossOptions()
    permanent: PermanentOptions = PermanentOptions()
    adversarial: AdversarialOptions = AdversarialOptions()
    schedule: tuple[ScheduledFault, ...] = ()
    network: NetworkOptions = attrs.field(factory=NetworkOptions)
