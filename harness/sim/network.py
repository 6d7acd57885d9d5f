"""The simulated network: per-link delay, loss, duplication, reordering, partitions.

Modelled on TigerBeetle's packet simulator: one options record with units in names, and each
random decision a named predicate (``_should_drop``, ``_should_duplicate``) drawing from the
run's chooser under its own label, where 0 is the nominal path (deliver once, minimum delay).
Reordering needs no mechanism of its own: each packet's delay is ``base + jitter`` drawn
independently, so a later packet may overtake an earlier one.

Partitions: the working links are a set of directed pairs (``(a, b)`` means packets from
``a`` reach ``b``; `links`). Named shapes (`SHAPES`) replace the set; `heal` restores every
link. (A plain set, not a graph library: the simulator only asks whether a link works, and
importing one cost each sweep worker a tenth of a second.)
Packets already in flight are not affected by a later partition (they were on the wire).

Adversarial timing (`TimingAttack`, switched on by the nemesis for drawn periods): a packet may
be held for up to seconds (past elections and lease expiries) and then delivered, and a copy may
arrive seconds late; the network remembers what it carried (`remember`, thinned evenly once
full) so the nemesis can replay a message from any earlier point of the run; and messages held
for a paused node are handed over spread out among new traffic (`resume_delay`). Each decision
is one chooser draw under its own ``net.attack.*`` label, 0 the nominal path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from harness.runtime.chooser import Chooser

Choose = Callable[[str, int], int]

SHAPES: tuple[str, ...] = ("halves", "isolate", "isolate-leader", "ring", "bridge", "one-way")


def _probability(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1], got {attribute.name}={value}")


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {attribute.name}={value}")


@attrs.frozen(kw_only=True)
class NetworkOptions:
    """Packet behaviour of every link (a nemesis swaps in a lossier record and back).

    Attributes:
        one_way_delay_min_us: the smallest delay of a packet.
        one_way_delay_jitter_us: extra delay drawn from ``[0, jitter]``; 0 = no reordering.
        packet_loss_probability: chance a packet is dropped.
        packet_replay_probability: chance a packet is delivered twice (the copy later).
        replay_delay_max_us: the extra delay of a duplicate, drawn from ``[0, max]``.
    """

    one_way_delay_min_us: int = attrs.field(default=100, validator=_non_negative)
    one_way_delay_jitter_us: int = attrs.field(default=400, validator=_non_negative)
    packet_loss_probability: float = attrs.field(default=0.0, validator=_probability)
    packet_replay_probability: float = attrs.field(default=0.0, validator=_probability)
    replay_delay_max_us: int = attrs.field(default=5_000, validator=_non_negative)


@attrs.frozen(kw_only=True)
class TimingAttack:
    """Adversarial message timing while a period is on (see the module docstring).

    Attributes:
        hold_probability: chance a packet is held, then delivered up to ``max_hold_us`` late.
        late_duplicate_probability: chance a packet also arrives once more, up to
            ``max_hold_us`` after the first copy.
        max_hold_us: the longest hold or lateness of a copy.
        resume_spread_us: messages held for a paused node arrive spread over up to this long.
    """

    hold_probability: float = attrs.field(default=0.05, validator=_probability)
    late_duplicate_probability: float = attrs.field(default=0.05, validator=_probability)
    max_hold_us: int = attrs.field(default=3_000_000, validator=_non_negative)
    resume_spread_us: int = attrs.field(default=200_000, validator=_non_negative)


ATTACK_COUNTS: tuple[str, ...] = ("held", "late-duplicates", "replayed", "spread")
"""What `Network.attack_counts` counts: adversarial timing decisions that took effect."""


def _permutation(nodes: Sequence[int], choose: Choose, label: str) -> list[int]:
    """Fisher-Yates over the sorted nodes; all-zero choices keep the sorted order."""
    order = sorted(nodes)
    for i in range(len(order) - 1, 0, -1):
        j = i - choose(label, i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def shape_links(
    shape: str, nodes: Sequence[int], choose: Choose, *, leader: int | None = None
) -> tuple[list[tuple[int, int]], str]:
    """Return the working links of partition ``shape`` and a one-line description.

    Shapes: ``halves`` (a minority cut from the rest), ``isolate`` (one node cut off both
    ways), ``isolate-leader`` (``leader``, or a drawn node if None), ``ring`` (each node
    reaches only its two neighbours on a drawn ring), ``bridge`` (two sides that reach only
    one bridge node), ``one-way`` (one node's outgoing links cut: it hears, is not heard).
    Raises ValueError for an unknown shape.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown partition shape {shape!r}; choose from {', '.join(SHAPES)}")
    order = _permutation(nodes, choose, f"net.partition.{shape}")
    everyone = sorted(nodes)
    full = [(a, b) for a in everyone for b in everyone if a != b]
    if shape == "halves":
        minority = set(order[: len(order) // 2])
        links = [(a, b) for a, b in full if (a in minority) == (b in minority)]
        return links, f"halves {sorted(minority)}|{sorted(set(everyone) - minority)}"
    if shape in ("isolate", "isolate-leader"):
        lonely = leader if shape == "isolate-leader" and leader is not None else order[0]
        return [(a, b) for a, b in full if lonely not in (a, b)], f"{shape} {lonely}"
    if shape == "ring":
        n = len(order)
        pos = {node: i for i, node in enumerate(order)}
        links = [(a, b) for a, b in full if (pos[a] - pos[b]) % n in (1, n - 1)]
        return links, f"ring {order}"
    if shape == "bridge":
        bridge, rest = order[0], order[1:]
        left = set(rest[: len(rest) // 2])
        links = [
            (a, b) for a, b in full if bridge in (a, b) or ((a in left) == (b in left))
        ]
        return links, f"bridge {bridge} between {sorted(left)}|{sorted(set(rest) - left)}"
    mute = order[0]
    return [(a, b) for a, b in full if a != mute], f"one-way {mute} unheard"


class Network:
    """Decides, per packet, whether and when it arrives.

    Args:
        nodes: every node id (replicas; clients talk to nodes outside this model).
        options: the packet behaviour; `options` may be replaced at any time.
        chooser: the run's chooser.
    """

    def __init__(self, nodes: Sequence[int], options: NetworkOptions, chooser: Chooser) -> None:
        self.nodes = tuple(sorted(nodes))
        self._choose = chooser.choose
        self._chance = chooser.chance
        self.options = options
        self.description = "healed"
        self._links: frozenset[tuple[int, int]] = frozenset()  # the working links
        self.attack: TimingAttack | None = None  # adversarial timing on (a nemesis period)
        self.attack_counts: dict[str, int] = dict.fromkeys(ATTACK_COUNTS, 0)
        self.history: list[tuple[int, int, object]] = []  # see `remember`
        self.history_size = 0  # 0: remember nothing
        self._history_stride = 1
        self._history_skip = 0
        self.heal()

    @property
    def options(self) -> NetworkOptions:
        """The packet behaviour of every link; assigning a new record takes effect at once."""
        return self._options

    @options.setter
    def options(self, options: NetworkOptions) -> None:
        self._options = options
        # What `transmit` reads per packet, taken out of the record once.
        self._delay_min_us = options.one_way_delay_min_us
        self._delay_choices = options.one_way_delay_jitter_us + 1
        self._loss_p = options.packet_loss_probability
        self._replay_p = options.packet_replay_probability
        self._replay_delay_choices = options.replay_delay_max_us + 1

    @property
    def links(self) -> frozenset[tuple[int, int]]:
        """The working links ``(src, dst)`` between distinct nodes."""
        return self._links

    def heal(self) -> None:
        """Restore every link."""
        self._links = frozenset((a, b) for a in self.nodes for b in self.nodes if a != b)
        self.description = "healed"

    def partition(self, shape: str, *, leader: int | None = None) -> str:
        """Replace the working links with ``shape`` (see `shape_links`); returns its description."""
        links, self.description = shape_links(shape, self.nodes, self._choose, leader=leader)
        self._links = frozenset(links)
        return self.description

    def link_up(self, src: int, dst: int) -> bool:
        """Whether packets from ``src`` currently reach ``dst``."""
        return src == dst or (src, dst) in self._links

    def _should_drop(self) -> bool:
        return self._chance("net.drop", self._loss_p)

    def _should_duplicate(self) -> bool:
        return self._chance("net.duplicate", self._replay_p)

    def transmit(self, src: int, dst: int) -> tuple[int, ...]:
        """Return the delay (us) of each copy of a packet ``src -> dst``; () if it is lost.

        Draws, in order: drop (only if the loss probability is not 0), delay, duplicate
        (only if its probability is not 0), the duplicate's extra delay.
        """
        if src != dst and (src, dst) not in self._links:
            return ()
        if self._loss_p and self._should_drop():
            return ()
        first = self._delay_min_us + self._choose("net.delay", self._delay_choices)
        if not self._replay_p or not self._should_duplicate():
            return (first,)
        extra = self._choose("net.duplicate.delay", self._replay_delay_choices)
        return (first, first + extra)

    def transmit_attacked(self, src: int, dst: int) -> tuple[int, ...]:
        """`transmit`, then (while `attack` is on) maybe hold the packet and add a late copy.

        Draws after `transmit`'s: hold, hold length, late copy, its lateness.
        """
        delays = self.transmit(src, dst)
        attack = self.attack
        if attack is None or not delays:
            return delays
        span = attack.max_hold_us
        first = delays[0]
        if self._chance("net.attack.hold", attack.hold_probability):
            first += 1 + self._choose("net.attack.hold.us", span)
            self.attack_counts["held"] += 1
            delays = (first, *delays[1:])
        if self._chance("net.attack.late-duplicate", attack.late_duplicate_probability):
            delays = (*delays, first + 1 + self._choose("net.attack.late-duplicate.us", span))
            self.attack_counts["late-duplicates"] += 1
        return delays

    def remember(self, src: int, dst: int, msg: object) -> None:
        """Keep ``msg`` for later replays (only if ``history_size`` > 0).

        Once ``history_size`` messages are kept, every second one is dropped and from then on
        only every second message is kept (then every fourth, ...): the history spans the whole
        run evenly, deterministically, without a draw per message.
        """
        if not self.history_size:
            return
        if self._history_skip:
            self._history_skip -= 1
            return
        self._history_skip = self._history_stride - 1
        self.history.append((src, dst, msg))
        if len(self.history) >= self.history_size:
            del self.history[1::2]
            self._history_stride *= 2

    def resume_delay(self) -> int:
        """How long after a paused node resumes one of its held messages arrives (0: at once,
        the nominal path and the only one while `attack` is off)."""
        attack = self.attack
        if attack is None or not attack.resume_spread_us:
            return 0
        delay = self._choose("net.attack.resume.us", attack.resume_spread_us + 1)
        if delay:
            self.attack_counts["spread"] += 1
        return delay
