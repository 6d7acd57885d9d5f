"""Stand-ins for the simulator's tests, and harness.runtime.host tests against them.

`StandInReplica` is a deliberately trivial replica (node 0 always leads, no elections) and
`DictKV` a dict state machine with client dedup; together with an in-memory WAL they let the
simulator and host be tested without depending on `consensus` and `storage.kv` details.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from consensus.effects import Apply, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import ClientRead, ClientWrite, Compact, Receive, Tick
from harness.runtime.chooser import Chooser
from harness.runtime.host import Backend, ClientOutcome, Host


def encode(**kw: Any) -> bytes:
    """The stand-in command encoding (JSON)."""
    fields = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in kw.items()}
    return json.dumps(fields, sort_keys=True).encode()


@attrs.frozen
class Result:
    ok: bool
    value: bytes | None


class DictKV:
    """A dict state machine with at-most-once client dedup."""

    def __init__(self) -> None:
        self.applied_lsn = 0
        self.data: dict[str, str] = {}
        self.last: dict[int, tuple[int, Result]] = {}

    def apply(self, lsn: int, command: bytes) -> Result:
        self.applied_lsn = lsn
        if not command:
            return Result(True, None)
        c = json.loads(command)
        seen = self.last.get(c["client_id"])
        if seen is not None and c["request_id"] <= seen[0]:
            return seen[1]
        key, value = c["key"], c["value"]
        if c["op"] == "put":
            self.data[key] = value
            result = Result(True, None)
        elif c["op"] == "append":
            self.data[key] = self.data.get(key, "") + value
            result = Result(True, self.data[key].encode())
        else:
            ok = self.data.get(key) == c["expected"]
            if ok:
                self.data[key] = value
            cur = self.data.get(key)
            result = Result(ok, None if cur is None else cur.encode())
        self.last[c["client_id"]] = (c["request_id"], result)
        return result

    def get(self, key: bytes) -> bytes | None:
        v = self.data.get(key.decode())
        return None if v is None else v.encode()

    def checksum(self) -> str:
        return json.dumps(sorted(self.data.items()))

    def snapshot(self) -> bytes:
        return self.checksum().encode()

    def install_snapshot(self, snapshot: bytes, lsn: int) -> None:
        self.data = dict(json.loads(snapshot))
        self.applied_lsn = lsn

    def checkpoint(self) -> None:
        pass


class MemWAL:
    """An in-memory log that survives crashes whole (the stand-in disk keeps it)."""

    def __init__(self, log: list[bytes]) -> None:
        self.log = log
        self.syncs = 0

    def append(self, payload: bytes) -> int:
        self.log.append(payload)
        return len(self.log)

    def sync(self) -> int:
        self.syncs += 1
        return 0

    def records(self, start_lsn: int = 1) -> Iterator[tuple[int, bytes]]:
        yield from enumerate(list(self.log), start=1)

    def truncate_prefix(self, lsn: int) -> None:
        pass


class MemDisk:
    def __init__(self) -> None:
        self.log: list[bytes] = []
        self.last_fsync_latency_us = 100
        self.crashes = 0

    def crash(self) -> None:
        self.crashes += 1


class Role(enum.Enum):
    FOLLOWER = "follower"
    LEADER = "leader"


@attrs.frozen
class Push:
    """Leader -> follower: entries from ``first`` on, and the commit index."""

    first: int
    commands: tuple[bytes, ...]
    commit: int


@attrs.frozen
class Ack:
    last: int


class StandInReplica:
    """Node 0 leads forever; it pushes its log every heartbeat and on each write."""

    def __init__(self, node_id: int, members: tuple[int, ...], records: Sequence[bytes]):
        self.node_id = node_id
        self.members = members
        self.log: list[bytes] = list(records)
        self.role = Role.LEADER if node_id == 0 else Role.FOLLOWER
        self.leader_ballot = (1, 0)
        self.commit_index = 0
        self.applied_index = 0
        self.acked = dict.fromkeys(members, 0)
        self.waiting: dict[int, tuple[int, int]] = {}

    def is_serving(self, now_us: int) -> bool:
        return self.role is Role.LEADER

    def step(self, event: Any, now_us: int) -> list[Any]:
        out: list[Any] = []
        if isinstance(event, Tick):
            out.append(SetTimer(at_us=now_us + 50_000))
            if self.role is Role.LEADER:
                self.acked[0] = len(self.log)
                out += self._push(0)
        elif isinstance(event, ClientWrite):
            if self.role is not Role.LEADER:
                out.append(
                    Reply(
                        client_id=event.client_id,
                        request_id=event.request_id,
                        error="not-leader",
                        leader_hint=0,
                    )
                )
            else:
                self.log.append(event.command)
                out.append(Persist(records=(event.command,)))
                self.acked[0] = len(self.log)
                self.waiting[len(self.log)] = (event.client_id, event.request_id)
                out += self._push(len(self.log) - 1)
        elif isinstance(event, ClientRead):
            if self.role is Role.LEADER or not event.strong:
                out.append(
                    ServeRead(
                        client_id=event.client_id,
                        request_id=event.request_id,
                        key=event.key,
                        strong=event.strong,
                    )
                )
            else:
                out.append(
                    Reply(
                        client_id=event.client_id,
                        request_id=event.request_id,
                        error="not-leader",
                        leader_hint=0,
                    )
                )
        elif isinstance(event, Receive) and isinstance(event.msg, Push):
            m = event.msg
            if m.first <= len(self.log) + 1:
                new = m.commands[len(self.log) + 1 - m.first :]
                self.log.extend(new)
                if new:
                    out.append(Persist(records=tuple(new)))
            out.append(Send(dst=0, msg=Ack(last=len(self.log))))
            self.commit_index = max(self.commit_index, min(m.commit, len(self.log)))
        elif isinstance(event, Receive) and isinstance(event.msg, Ack):
            self.acked[event.src] = max(self.acked[event.src], event.msg.last)
            counts = sorted(self.acked.values(), reverse=True)
            self.commit_index = max(self.commit_index, counts[len(self.members) // 2])
        elif isinstance(event, Compact):
            pass
        while self.applied_index < self.commit_index:
            self.applied_index += 1
            out.append(Apply(slot=self.applied_index, command=self.log[self.applied_index - 1]))
            who = self.waiting.pop(self.applied_index, None)
            if who is not None:
                out.append(Reply(client_id=who[0], request_id=who[1], slot=self.applied_index))
        return out

    def _push(self, first: int) -> list[Any]:
        msg = Push(first=first + 1, commands=tuple(self.log[first:]), commit=self.commit_index)
        return [Send(dst=n, msg=msg) for n in self.members if n != self.node_id]


def standin_backend() -> Backend:
    def make_replica(**kw: Any) -> StandInReplica:
        return StandInReplica(kw["node_id"], kw["members"], kw["records"])

    def open_storage(disk: MemDisk) -> tuple[MemWAL, DictKV]:
        return MemWAL(disk.log), DictKV()

    def make_disk(node: int, faults: Any, chooser: Chooser) -> MemDisk:
        return MemDisk()

    return Backend(
        make_replica=make_replica, open_storage=open_storage, make_disk=make_disk, encode=encode
    )


# -- host tests ---------------------------------------------------------------------------


class Ports:
    def __init__(self) -> None:
        self.sent: list[tuple[int, int, Any, int]] = []
        self.answers: list[tuple[int, int, int, ClientOutcome, int]] = []
        self.reads: list[tuple[int, bool, bytes, bytes | None]] = []
        self.timers: list[tuple[int, int]] = []

    def send(self, src: int, dst: int, msg: Any, extra_delay_us: int) -> None:
        self.sent.append((src, dst, msg, extra_delay_us))

    def answer(self, node: int, cid: int, rid: int, outcome: ClientOutcome, extra: int) -> None:
        self.answers.append((node, cid, rid, outcome, extra))

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        self.reads.append((node, strong, key, value))

    def set_timer(self, node: int, at_local_us: int) -> None:
        self.timers.append((node, at_local_us))


class ScriptedReplica:
    """Returns the effects it is given, one list per step."""

    def __init__(self, script: list[list[Any]]) -> None:
        self.script = script
        self.events: list[Any] = []

    def step(self, event: Any, now_us: int) -> list[Any]:
        self.events.append(event)
        return self.script.pop(0) if self.script else []


def _host(script: list[list[Any]], every: int = 0) -> tuple[Host, Ports, MemDisk, ScriptedReplica]:
    ports = Ports()
    disk = MemDisk()
    replica = ScriptedReplica(script)
    host = Host(
        0,
        disk,
        make_replica=lambda records, applied: replica,
        open_storage=lambda d: (MemWAL(d.log), DictKV()),
        transport=ports,
        clients=ports,
        timers=ports,
        checkpoint_every=every,
    )
    return host, ports, disk, replica


def test_group_commit_charges_fsync_latency_to_later_sends() -> None:
    msg = "m"
    host, ports, disk, _ = _host(
        [
            [SetTimer(at_us=5)],
            [
                Persist(records=(b"a",)),
                Persist(records=(b"b",)),
                Send(dst=1, msg=msg),
                Persist(records=(b"c",)),
                Send(dst=2, msg=msg),
            ],
        ]
    )
    host.start(0)
    assert ports.timers == [(0, 5)]
    host.step(Tick(), 10)
    assert disk.log == [b"a", b"b", b"c"]
    assert isinstance(host.wal, MemWAL) and host.wal.syncs == 2  # one per run of Persists
    assert [(dst, extra) for _, dst, _, extra in ports.sent] == [(1, 100), (2, 200)]


def test_apply_results_answer_replies_and_reads() -> None:
    put = encode(op="append", key=b"k", value=b"x;", expected=None, client_id=1, request_id=1)
    host, ports, _, _ = _host(
        [
            [],
            [
                Apply(slot=1, command=put),
                Reply(client_id=1, request_id=1, slot=1),
                ServeRead(client_id=2, request_id=5, key=b"k", strong=True),
                Reply(client_id=3, request_id=1, error="not-leader", leader_hint=2),
            ],
        ]
    )
    host.start(0)
    host.step(Tick(), 1)
    outcomes = [a[3] for a in ports.answers]
    assert outcomes[0] == ClientOutcome(status="ok", value=b"x;", applied=True)
    assert outcomes[1] == ClientOutcome(status="ok", value=b"x;")
    assert outcomes[2].status == "error" and outcomes[2].leader_hint == 2
    assert ports.reads == [(0, True, b"k", b"x;")]


def test_checkpoint_feeds_compact_every_n_slots() -> None:
    host, _, _, replica = _host(
        [[], [Apply(slot=1, command=b""), Apply(slot=2, command=b"")]], every=2
    )
    host.start(0)
    host.step(Tick(), 1)
    assert isinstance(replica.events[-1], Compact) and replica.events[-1].slot == 2


def test_recover_passes_records_and_applied_slot() -> None:
    seen: list[tuple[list[bytes], int]] = []
    disk = MemDisk()
    disk.log[:] = [b"r1", b"r2"]
    ports = Ports()

    def make(records: Sequence[bytes], applied: int) -> ScriptedReplica:
        seen.append((list(records), applied))
        return ScriptedReplica([])

    host = Host(
        0,
        disk,
        make_replica=make,
        open_storage=lambda d: (MemWAL(d.log), DictKV()),
        transport=ports,
        clients=ports,
        timers=ports,
    )
    host.recover()
    assert seen == [([b"r1", b"r2"], 0)]


def test_host_reexports_the_ports_and_the_backend() -> None:
    import harness.runtime.backend
    import harness.runtime.host
    import harness.runtime.ports

    for name in harness.runtime.host.__all__:
        obj = getattr(harness.runtime.host, name)
        rooms = (harness.runtime.ports, harness.runtime.backend)
        homes = [m for m in rooms if getattr(m, name, None) is obj]
        assert homes or name == "Host", name
    assert harness.runtime.host.GroupSpec is harness.runtime.backend.GroupSpec
    assert harness.runtime.host.TIMEOUT is harness.runtime.ports.TIMEOUT
