"""The interfaces a `harness.runtime.host.Host` is driven through, and what it hands clients.

A host owns a replica and its storage and talks to the world through ports only: a
`Transport` (send a message to a peer), a `ClientPort` (answer a client), a `TimerPort` (the
replica's one timer), a `SpawnPort` (start a spare node) and an optional `StepObserver`. The
simulator implements them (`harness.sim.cluster`); a real TCP host would implement them too.
The ``*Like`` protocols are what the host needs of the replica and storage it is given;
`ProtocolReplica` is everything the harness (host, simulator, checks, explorer) needs of a
replica of any protocol, and nothing more (docs/protocol.md explains each part).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import attrs

from consensus.effects import Effect
from consensus.events import Event
from harness.checks.shared import serves_at


class ReplicaLike(Protocol):
    """The part of `consensus.Replica` the host drives."""

    def step(self, event: Any, now_us: int) -> list[Any]: ...


class RoleLike(Protocol):
    @property
    def value(self) -> str:
        """``"leader"``, ``"follower"``, ``"candidate"`` or ``"learner"``."""
        ...


class ProtocolReplica(ReplicaLike, Protocol):
    """A replica of any protocol, as the harness sees it (see docs/protocol.md).

    Driving: ``step(event, now_us) -> effects`` with `consensus.events` in and
    `consensus.effects` out, performed in order (a `consensus.effects.Persist` durable before
    any later effect of the step). Recovery is the constructor: the registry's
    ``make_replica(records=..., applied_slot=..., ...)`` rebuilds a replica from every WAL
    record the host still has and the state machine's applied slot; the host then steps a
    `consensus.events.Tick`. What goes in the records is the protocol's own business.

    Read-only views (the shared invariants, the observer, convergence and reports read them;
    nothing may write them): ``node_id``; ``role`` (its ``value`` as `RoleLike`); ``term``
    (a number that orders leaderships: a Raft term; Multi-Paxos exposes ``leader_ballot``
    instead, which the harness prefers when present); ``commit_index`` (every slot <= it is
    committed here) and ``applied_index`` (last slot emitted as Apply or InstallSnapshot);
    ``lease_until_us`` (local time the current lease ends, None: none) and ``is_serving(now)``
    (whether, at local time ``now``, it answers writes and strong reads; a property giving the
    answer at the last step is accepted too, then read through the lease:
    `harness.checks.shared.serves_at`, which is how the harness always asks);
    ``log_entries()`` -> ``(index, term, command)`` of its log.

    Explorer: ``clone()`` (an independent copy) and ``state_fingerprint()`` (canonical bytes,
    never ``hash()``: equal states, equal bytes in every process).

    Optional: ``serving_window_us()`` -> ``(start, end)`` local times at which the current
    state serves (exact S6 on intervals); without it the harness takes ``(now,
    lease_until_us)`` when serving (`serving_window`), which can only under-report.
    """

    node_id: int
    commit_index: int
    applied_index: int

    @property
    def role(self) -> RoleLike: ...

    @property
    def lease_until_us(self) -> int | None: ...

    def is_serving(self, now_us: int) -> bool: ...

    def log_entries(self) -> Any: ...

    def clone(self) -> Any: ...

    def state_fingerprint(self) -> bytes: ...


def serving_window(replica: Any, now_us: int) -> tuple[int, int] | None:
    """The local times ``[start, end)`` at which ``replica``'s current state serves: its own
    ``serving_window_us()`` when it has one, else ``(now_us, lease_until_us)`` while it
    serves now (an under-approximation: a state that starts serving later without a step
    is missed, never invented). A state without a lease that serves has no end."""
    own = getattr(replica, "serving_window_us", None)
    if own is not None:
        window: tuple[int, int] | None = own()
        return window
    if not serves_at(replica, now_us):
        return None
    until = replica.lease_until_us
    return (now_us, 1 << 62) if until is None else (now_us, until) if until > now_us else None


def leadership_rank(replica: Any) -> Any:
    """What orders two leaders of one run: Multi-Paxos's ``leader_ballot`` when the replica
    has one, else its ``term``."""
    ballot = getattr(replica, "leader_ballot", _MISSING)
    return getattr(replica, "term", 0) if ballot is _MISSING else ballot


_MISSING = object()


class ResultLike(Protocol):
    ok: bool
    value: bytes | None


class WalLike(Protocol):
    def append(self, payload: bytes) -> int: ...

    def sync(self) -> Any: ...

    def records(self, start_lsn: int = ...) -> Iterator[tuple[int, bytes]]: ...

    def truncate_prefix(self, lsn: int) -> Any: ...


class KvLike(Protocol):
    applied_lsn: int

    def apply(self, lsn: int, command: bytes) -> Any: ...

    def get(self, key: bytes) -> bytes | None: ...

    def checksum(self) -> str: ...

    def snapshot(self) -> bytes: ...

    def install_snapshot(self, snapshot: bytes, lsn: int) -> Any: ...

    def checkpoint(self) -> Any: ...


class DiskLike(Protocol):
    last_fsync_latency_us: int

    def crash(self) -> Any: ...


@attrs.frozen(kw_only=True)
class ClientOutcome:
    """What a node answers a client.

    Attributes:
        status: ``"ok"`` (served), ``"error"`` (refused), or ``"timeout"`` (set by the client
            side when no answer came in time).
        value: for a read, the value (None = absent); for a write, the state machine's result
            value (append: the new full value; cas: the value after it).
        applied: for a write, the state machine's ``Result.ok`` (cas: whether it matched).
        error, leader_hint, indeterminate: from `consensus.effects.Reply`.
    """

    status: str
    value: bytes | None = None
    applied: bool = True
    error: str | None = None
    leader_hint: int | None = None
    indeterminate: bool = False


TIMEOUT = ClientOutcome(status="timeout", indeterminate=True)


class Transport(Protocol):
    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        """Send ``msg`` from ``src`` to ``dst``, leaving ``extra_delay_us`` from now."""


class ClientPort(Protocol):
    def answer(
        self,
        node: int,
        client_id: int,
        request_id: int,
        outcome: ClientOutcome,
        extra_delay_us: int,
    ) -> None:
        """Deliver ``outcome`` to the client, leaving ``extra_delay_us`` from now."""

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        """A read was served (for online checks of S6/S9)."""


class TimerPort(Protocol):
    def set_timer(self, node: int, at_local_us: int) -> None: ...


class SpawnPort(Protocol):
    def start_replica(self, node: int, log_replica: bool) -> None:
        """Start spare ``node`` if it is not running yet (`consensus.effects.StartReplica`)."""


StepObserver = Callable[[int, Any, Event, list[Effect], int], None]
"""Called after every replica step, once its effects are performed: (node, replica, event,
effects, local time of the step in us). Not called for a step whose effects failed with a
storage error."""

CRASH_POINTS: tuple[str, ...] = (
    "mid-append", "torn-append", "fsync-then-send", "before-reply", "mid-checkpoint"
)
"""Every place inside a step where a `harness.runtime.host.Host` asks its crash-point hook
(see the host's module doc)."""

CrashPointHook = Callable[[int, str], bool]
"""``hook(node, point) -> crash now?``: asked by a `harness.runtime.host.Host` at each of its
crash points (`harness.runtime.host.CRASH_POINTS`); False is the nominal path. For
``mid-checkpoint`` and ``torn-append`` True means the hook armed the disk to crash inside the
checkpoint or the WAL's sync (the host then calls the disk's ``disarm_crash`` if that ends
first: only a simulated disk is ever armed, so only it needs the method)."""

ReplicaFactory = Callable[[Sequence[bytes], int], ReplicaLike]
"""Build a replica from the WAL records and the KV store's applied slot."""

StorageOpener = Callable[[Any], tuple[WalLike, KvLike]]
"""Open (recover) the WAL and KV store on a disk; raises storage.StorageError."""
