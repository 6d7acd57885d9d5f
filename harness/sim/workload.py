"""Client workload: trio tasks issuing kv operations and recording the history.

``options.clients`` client tasks share ``options.ops`` operations over ``options.keys`` keys
(``k0``, ``k1``, ...): put, strong get, cas, append and eventual get, each drawn from the
chooser (choice 0 = put on ``k0``). Written values are unique per write (``c3-17``: client 3,
its 17th operation), so the linearizability checker never confuses two writes.

Each client sends to the node it believes leads, and retries on a refusal or a timeout: to the
``leader_hint`` if the refusal named one, else to the next node after a short backoff. A retry
reuses the request id, so the state machine applies the write at most once. The history
(`harness.checks.history`, time in nanoseconds of true time) records one invoke and one completion
per operation: ``ok``; ``fail`` only when the operation certainly did not take effect (every
attempt was refused without ``indeterminate``, or a cas did not match); ``info`` when it may
have. Eventual reads are not linearizable by design, so they are counted but kept out of the
checked history (S9 is checked online by the simulator's invariants).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
        op_timeout_us: after this, a client gives up on the operation (fail or info).
        retry_backoff_us: pause before retrying at another node when no leader is known.
        final_read_timeout_us: the bound on each final read (liveness).
    """

    think_max_us: int = 100_000
    attempt_timeout_us: int = 500_000
    op_timeout_us: int = 3_000_000
    retry_backoff_us: int = 20_000
    final_read_timeout_us: int = 5_000_000


class ClusterAPI(Protocol):
    """What client tasks may ask of the simulated cluster."""

    members: tuple[int, ...]

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
    """

    def __init__(
        self,
        *,
        ops: int,
        keys: int,
        chooser: Chooser,
        encode: CommandEncoder,
        options: WorkloadOptions | None = None,
    ) -> None:
        self.options = options or WorkloadOptions()
        self.remaining = ops
        self.keys = max(keys, 1)
        self.chooser = chooser
        self.encode = encode
        self.recorder = HistoryRecorder()
        self.counts: dict[str, int] = {"ok": 0, "fail": 0, "info": 0}
        self.stopped = False
        self.final_failed: list[str] = []

    # -- one operation ----------------------------------------------------------------------

    async def _attempts(
        self, api: ClusterAPI, state: _ClientState, make: Callable[[], ClientWrite | ClientRead]
    ) -> tuple[ClientOutcome | None, bool]:
        """Try until ok, a definite cas mismatch, or the op timeout.

        Returns (the ok outcome or None, whether some attempt may have taken effect).
        """
        o = self.options
        deadline = api.now_us() + o.op_timeout_us
        maybe = False
        while True:
            timeout = min(o.attempt_timeout_us, max(deadline - api.now_us(), 1))
            outcome = await api.request(state.target, make(), timeout)
            if outcome.status == "ok":
                return outcome, maybe
            maybe = maybe or outcome.indeterminate
            hint = outcome.leader_hint
            if hint is not None and hint != state.target and hint in api.members:
                state.target = hint
            else:
                state.target = api.members[(api.members.index(state.target) + 1) % len(api.members)]
                if api.now_us() + o.retry_backoff_us < deadline:
                    await api.sleep(o.retry_backoff_us)
            if api.now_us() >= deadline:
                return None, maybe

    async def run_op(self, api: ClusterAPI, state: _ClientState, process: int) -> None:
        """Draw one operation and run it to completion, recording it."""
        op = OPS[self.chooser.choose("workload.op", len(OPS))]
        key_index = self.chooser.choose("workload.key", self.keys)
        key = f"k{key_index}"
        bkey = key.encode()
        state.seq += 1
        value = f"c{process}-{state.seq}"
        if op in ("get", "get-eventual"):
            await self._read(api, state, process, key, strong=op == "get")
            return
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

        outcome, maybe = await self._attempts(api, state, make)
        now_ns = api.now_us() * 1000
        if outcome is None:
            kind = "info" if maybe else "fail"
            self.recorder.complete(process, kind, time=now_ns, error="gave-up")
        elif op == "cas" and not outcome.applied:
            kind = "fail"
            state.seen[key] = _text(outcome.value)
            self.recorder.complete(process, kind, time=now_ns, error="cas-mismatch")
        else:
            kind = "ok"
            state.seen[key] = _text(outcome.value) if op == "append" else value
            self.recorder.complete(process, kind, time=now_ns)
        self.counts[kind] += 1

    async def _read(
        self, api: ClusterAPI, state: _ClientState, process: int, key: str, *, strong: bool
    ) -> None:
        rid = state.next_request_id()

        def make() -> ClientRead:
            return ClientRead(
                client_id=state.client_id, request_id=rid, key=key.encode(), strong=strong
            )

        if strong:
            self.recorder.invoke(process, "get", key, None, time=api.now_us() * 1000)
        outcome, _ = await self._attempts(api, state, make)
        kind = "fail" if outcome is None else "ok"
        self.counts[kind] += 1
        if outcome is not None:
            state.seen[key] = _text(outcome.value)
        if strong:
            now_ns = api.now_us() * 1000
            if outcome is None:
                self.recorder.complete(process, "fail", time=now_ns, error="gave-up")
            else:
                self.recorder.complete(process, "ok", _text(outcome.value), time=now_ns)

    # -- tasks ------------------------------------------------------------------------------

    async def client(self, api: ClusterAPI, process: int) -> None:
        """One client task: think, run an operation, repeat while operations remain."""
        state = _ClientState(client_id=process + 1, target=api.members[0])
        while self.remaining > 0 and not self.stopped:
            self.remaining -= 1
            think = self.chooser.choose("workload.think", self.options.think_max_us + 1)
            await api.sleep(think)
            await self.run_op(api, state, process)

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
