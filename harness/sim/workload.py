"""Client workload: trio tasks issuing kv operations and recording the history.

``options.clients`` client tasks share ``options.ops`` operations over ``options.keys`` keys
(``k0``, ``k1``, ...): put, strong get, cas, append and eventual get, each drawn from the
chooser (choice 0 = put on ``k0``). Written values are unique per write (``c3-17``: client 3,
its 17th operation), so the linearizability checker never confuses two writes.

Each client sends to the node it believes leads, and retries on a refusal or a timeout: to the
``leader_hint`` if the refusal named one, else to the next node after a short backoff (after a
refusal that says the operation certainly did not happen it may give up instead:
``workload.give-up``). A retry reuses the request id, so the state machine applies the write at
most once. The history
(`harness.checks.history`, time in nanoseconds of true time) records one invoke and one completion
per operation: ``ok``; ``fail`` only when the operation certainly did not take effect (every
attempt was refused without ``indeterminate``, or a cas did not match); ``info`` when it may
have. A cas that did not match records the value it found (``observed``), which the checker
treats as a read of it. Eventual reads are not linearizable by design, so they are counted but
kept out of the checked history (S9 is checked online by the simulator's invariants).

Uncertainty on purpose: client timeouts are short next to an election (a leader change
leaves writes in doubt), and a client may crash in the middle of an operation
(``workload.crash``, choice 0 = no crash; then ``workload.crash.after``: how long after the
operation began); the simulator lets clients crash in runs with the ``crash`` fault. A
crashed client stops waiting: its operation ends ``info`` (a write may still take effect; a
read is info too) and the client comes back as a new process with a new client id
(``process + (clients + 1) * generation``), as Jepsen does, so a process never has two
operations open.

Log replicas: when the group has some (`ClusterAPI.log_nodes`), an eventual read is first
sent to one of them with chance ``log_read_chance`` (``workload.log-read``). A log replica
must refuse it (S13: log replicas never serve reads); the online invariants flag one that
serves it, and ``log_reads`` counts what was sent and refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from consensus.events import ClientRead, ClientWrite
from harness.checks.history import HistoryRecorder
from harness.checks.linearizability import check_linearizability
from harness.checks.violation import Violation
from harness.runtime.chooser import Chooser
from harness.runtime.host import ClientOutcome

log = logging.getLogger(__name__)

LINEARIZABILITY_TIMEOUT_S = 30.0

OPS: tuple[str, ...] = ("put", "get", "cas", "append", "get-eventual")

CommandEncoder = Callable[..., bytes]
"""``encode(op=, key=, value=, expected=, client_id=, request_id=) -> bytes``
(`storage.kv.Command(...).encode()` in the simulator)."""


@attrs.frozen(kw_only=True)
class WorkloadOptions:
    """Client timing, in true microseconds.

    Attributes:
        think_max_us: pause before each operation, drawn from ``[0, think_max_us]``.
        attempt_timeout_us: how long one attempt waits for an answer.
        op_timeout_us: after this, a client gives up on the operation (fail or info). Shorter
            than an election plus the new leader's lease wait, so a leader change leaves
            operations in doubt (``info``): that is what the checker's search is for.
        retry_backoff_us: pause before retrying at another node when no leader is known.
        final_read_timeout_us: the bound on each final read (liveness).
        crash_chance: chance that a client crashes during an operation (0: never).
        crash_window_us: when it crashes, drawn from ``[0, crash_window_us]`` after the
            operation began: about one round trip, so most crashes leave a request in flight.
        log_read_chance: chance that an eventual read is first sent to a log replica, when
            the group has one (0: never).
        log_read_timeout_us: how long that read waits for the refusal (a few round trips: a
            log spare not started yet never answers, and the client must not stall on it).
        give_up_chance: chance that a client gives up after a refusal that says its operation
            certainly did not happen (no attempt so far may have), recording ``fail``, as an
            application reporting the error to its user would. It is what puts a definite
            refusal to the test: were the write chosen anyway, a later read would show a
            value the history says was never written.
    """

    think_max_us: int = 100_000
    attempt_timeout_us: int = 200_000
    op_timeout_us: int = 1_000_000
    retry_backoff_us: int = 20_000
    final_read_timeout_us: int = 5_000_000
    crash_chance: float = 0.05
    crash_window_us: int = 1_500
    log_read_chance: float = 0.5
    log_read_timeout_us: int = 5_000
    give_up_chance: float = 0.1


class ClusterAPI(Protocol):
    """What client tasks may ask of the simulated cluster."""

    members: tuple[int, ...]
    log_nodes: tuple[int, ...]
    """Log replicas a client may try a read at (they must refuse it); may be empty."""

    def now_us(self) -> int: ...

    async def request(
        self, node: int, event: ClientWrite | ClientRead, timeout_us: int
    ) -> ClientOutcome:
        """Send ``event`` to ``node``; return its answer, or a timeout outcome."""

    async def sleep(self, delay_us: int) -> None: ...


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


class Workload:
    """Generates operations, runs client tasks and records the history.

    Attributes:
        recorder: the checked history (strong reads and writes, then final reads).
        counts: completed operations by outcome (eventual reads included).
        remaining: operations not yet started.
        stopped: set to stop clients from starting new operations.
        crashes: client crashes in the middle of an operation.
        log_reads: reads sent to log replicas (``sent``) and refused by them (``refused``).
    """

    def __init__(
        self,
        *,
        ops: int,
        keys: int,
        chooser: Chooser,
        encode: CommandEncoder,
        options: WorkloadOptions | None = None,
        clients: int = 1,
        client_crashes: bool = True,
    ) -> None:
        self.options = options or WorkloadOptions()
        # clients crash only in runs with the crash fault (a fault-free run stays nominal)
        self.crash_chance = self.options.crash_chance if client_crashes else 0.0
        # client tasks (processes 0..clients-1; ``clients`` does the final reads): a crashed
        # one comes back as process + clients + 1, so process ids never collide
        self.clients = clients
        self.remaining = ops
        self.keys = max(keys, 1)
        self.chooser = chooser
        self.encode = encode
        self.recorder = HistoryRecorder()
        self.counts: dict[str, int] = {"ok": 0, "fail": 0, "info": 0}
        self.stopped = False
        self.final_failed: list[str] = []
        # command -> the history value of a write recorded fail: it certainly did not happen
        self.refused: dict[bytes, str] = {}
        self.crashes = 0
        self.log_reads: dict[str, int] = {"sent": 0, "refused": 0}

    # -- one operation ----------------------------------------------------------------------

    async def _attempts(
        self,
        api: ClusterAPI,
        state: _ClientState,
        make: Callable[[], ClientWrite | ClientRead],
        crash_at_us: int | None = None,
    ) -> tuple[ClientOutcome | None, bool]:
        """Try until ok, a definite cas mismatch, the op timeout or the client's crash.

        Returns (the ok outcome or None, whether some attempt may have taken effect).
        ``crash_at_us``: the client crashes then (it stops waiting; see `run_op`).
        """
        o = self.options
        deadline = api.now_us() + o.op_timeout_us
        if crash_at_us is not None:
            deadline = min(deadline, crash_at_us)
        maybe = False
        while True:
            timeout = min(o.attempt_timeout_us, max(deadline - api.now_us(), 1))
            outcome = await api.request(state.target, make(), timeout)
            if outcome.status == "ok":
                return outcome, maybe
            maybe = maybe or outcome.indeterminate
            if crash_at_us is not None and api.now_us() >= crash_at_us:
                return None, True  # crashed with a request out: it may still take effect
            if (
                outcome.status == "error"
                and not maybe
                and self.chooser.chance("workload.give-up", o.give_up_chance)
            ):
                return None, False  # certainly refused, and the client takes no for an answer
            hint = outcome.leader_hint
            if hint is not None and hint != state.target and hint in api.members:
                state.target = hint
            else:
                state.target = api.members[(api.members.index(state.target) + 1) % len(api.members)]
                if api.now_us() + o.retry_backoff_us < deadline:
                    await api.sleep(o.retry_backoff_us)
            if api.now_us() >= deadline:
                return None, maybe

    def _crash_point(self, api: ClusterAPI) -> int | None:
        """When this operation's client crashes (true us), or None (choice 0: it does not)."""
        if not self.chooser.chance("workload.crash", self.crash_chance):
            return None
        after = self.chooser.choose("workload.crash.after", self.options.crash_window_us + 1)
        return api.now_us() + after

    async def run_op(self, api: ClusterAPI, state: _ClientState, process: int) -> bool:
        """Draw one operation and run it to completion, recording it.

        Returns True if the client crashed during it (it must come back as a new process).
        """
        op = OPS[self.chooser.choose("workload.op", len(OPS))]
        key_index = self.chooser.choose("workload.key", self.keys)
        key = f"k{key_index}"
        bkey = key.encode()
        state.seq += 1
        value = f"c{process}-{state.seq}"
        if op in ("get", "get-eventual"):
            return await self._read(api, state, process, key, strong=op == "get")
        rid = state.next_request_id()
        expected: str | None = None
        if op == "cas":
            expected = state.seen.get(key)
            hist_value: Any = (expected, value)
        elif op == "append":
            value += ";"
            hist_value = value
        else:
            hist_value = value
        command = self.encode(
            op=op,
            key=bkey,
            value=value.encode(),
            expected=None if expected is None else expected.encode(),
            client_id=state.client_id,
            request_id=rid,
        )
        self.recorder.invoke(process, op, key, hist_value, time=api.now_us() * 1000)

        def make() -> ClientWrite:
            return ClientWrite(client_id=state.client_id, request_id=rid, command=command)

        crash_at = self._crash_point(api)
        outcome, maybe = await self._attempts(api, state, make, crash_at)
        now_ns = api.now_us() * 1000
        crashed = outcome is None and crash_at is not None and api.now_us() >= crash_at
        if crashed:
            kind = "info"
            self.recorder.complete(process, kind, time=now_ns, error="client-crashed")
        elif outcome is None:
            kind = "info" if maybe else "fail"
            self.recorder.complete(process, kind, time=now_ns, error="gave-up")
            if not maybe:
                self.refused[command] = value
        elif op == "cas" and not outcome.applied:
            kind = "fail"
            seen = _text(outcome.value)
            state.seen[key] = seen
            self.recorder.complete(
                process, kind, time=now_ns, error="cas-mismatch", observed=(seen,)
            )
        else:
            kind = "ok"
            state.seen[key] = _text(outcome.value) if op == "append" else value
            self.recorder.complete(process, kind, time=now_ns)
        self.counts[kind] += 1
        return crashed

    async def _read(
        self, api: ClusterAPI, state: _ClientState, process: int, key: str, *, strong: bool
    ) -> bool:
        rid = state.next_request_id()

        def make() -> ClientRead:
            return ClientRead(
                client_id=state.client_id, request_id=rid, key=key.encode(), strong=strong
            )

        if not strong and api.log_nodes:
            await self._log_read(api, make)
        if strong:
            self.recorder.invoke(process, "get", key, None, time=api.now_us() * 1000)
        crash_at = self._crash_point(api)
        outcome, _ = await self._attempts(api, state, make, crash_at)
        crashed = outcome is None and crash_at is not None and api.now_us() >= crash_at
        kind = "fail" if outcome is None else "ok"
        if crashed:
            kind = "info"
        self.counts[kind] += 1
        if outcome is not None:
            state.seen[key] = _text(outcome.value)
        if strong:
            now_ns = api.now_us() * 1000
            if crashed:
                self.recorder.complete(process, "info", time=now_ns, error="client-crashed")
            elif outcome is None:
                self.recorder.complete(process, "fail", time=now_ns, error="gave-up")
            else:
                self.recorder.complete(process, "ok", _text(outcome.value), time=now_ns)
        return crashed

    async def _log_read(self, api: ClusterAPI, make: Callable[[], ClientRead]) -> None:
        """Maybe try an eventual read at a log replica first: it must refuse (S13)."""
        if not self.chooser.chance("workload.log-read", self.options.log_read_chance):
            return
        nodes = api.log_nodes
        node = nodes[self.chooser.choose("workload.log-read.node", len(nodes))]
        self.log_reads["sent"] += 1
        outcome = await api.request(node, make(), self.options.log_read_timeout_us)
        if outcome.status == "error" and outcome.error == "log-replica":
            self.log_reads["refused"] += 1

    # -- tasks ------------------------------------------------------------------------------

    async def client(self, api: ClusterAPI, process: int) -> None:
        """One client task: think, run an operation, repeat while operations remain."""
        state = _ClientState(client_id=process + 1, target=api.members[0])
        clients = self.clients
        while self.remaining > 0 and not self.stopped:
            self.remaining -= 1
            think = self.chooser.choose("workload.think", self.options.think_max_us + 1)
            await api.sleep(think)
            if await self.run_op(api, state, process):
                # crashed: back as a new process and client, knowing nothing (Jepsen's way)
                self.crashes += 1
                process += clients + 1
                state = _ClientState(client_id=process + 1, target=api.members[0])

    def check_refused(
        self, chosen: Mapping[int, bytes], now_us: int, step: int
    ) -> Violation | None:
        """S8: a write the history records as certainly not done (every attempt refused
        without ``indeterminate``) is in no slot of the chosen log. Needs no read of the value,
        so it also holds a definite refusal to account when nothing reads the key after."""
        refused = self.refused
        if not refused:
            return None
        for slot in sorted(chosen):
            value = refused.get(chosen[slot])
            if value is not None:
                return Violation(
                    property="S8",
                    message=(
                        f"S8: write {value!r} was refused as certainly not done, but it is "
                        f"chosen at slot {slot}"
                    ),
                    time_us=now_us,
                    step=step,
                    slot=slot,
                )
        return None

    def check_linearizable(
        self, now_us: int, step: int, *, timeout_s: float = LINEARIZABILITY_TIMEOUT_S
    ) -> tuple[Violation | None, str | None]:
        """S8: the recorded history is linearizable under the kv model.

        Returns (the violation or None, why the check could not decide or None). An
        undecided check (a budget ran out) is not a pass: the run's verdict is "unknown".
        """
        result = check_linearizability(self.recorder.events, "kv", timeout_s=timeout_s)
        if result.verdict == "violation":
            key = None if result.key is None else str(result.key)
            return Violation(
                property="S8", message=result.summary(), time_us=now_us, step=step, key=key
            ), None
        if result.verdict != "linearizable":
            log.warning("linearizability check inconclusive: %s", result.summary())
            return None, f"S8 {result.summary()}"
        return None, None

    async def final_reads(self, api: ClusterAPI, process: int) -> None:
        """Strongly read every key once (after healing); keys never read go to final_failed."""
        state = _ClientState(client_id=process + 1, target=api.members[0])
        o = self.options
        for i in range(self.keys):
            key = f"k{i}"
            self.recorder.invoke(process, "get", key, None, time=api.now_us() * 1000)
            deadline = api.now_us() + o.final_read_timeout_us
            outcome: ClientOutcome | None = None
            rid = state.next_request_id()
            while api.now_us() < deadline:
                read = ClientRead(
                    client_id=state.client_id, request_id=rid, key=key.encode(), strong=True
                )
                outcome = await api.request(state.target, read, o.attempt_timeout_us)
                if outcome.status == "ok":
                    break
                hint = outcome.leader_hint
                if hint is not None and hint in api.members and hint != state.target:
                    state.target = hint
                else:
                    nxt = (api.members.index(state.target) + 1) % len(api.members)
                    state.target = api.members[nxt]
                    await api.sleep(o.retry_backoff_us)
                outcome = None
            now_ns = api.now_us() * 1000
            if outcome is None:
                self.final_failed.append(key)
                self.recorder.complete(process, "fail", time=now_ns, error="gave-up")
            else:
                self.recorder.complete(process, "ok", _text(outcome.value), time=now_ns)


@attrs.define
class _ClientState:
    client_id: int
    target: int
    seq: int = 0
    request_id: int = 0
    seen: dict[str, str | None] = attrs.field(factory=dict)

    def next_request_id(self) -> int:
        self.request_id += 1
        return self.request_id
