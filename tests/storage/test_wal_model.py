"""The WAL against a model, under crashes and every SimDisk fault (hypothesis stateful).

Model: the payload of every LSN appended, the last LSN, the durable LSN. Invariants: what
was synced before a crash is there after recovery with the right bytes; unless a fault was
injected, recovery succeeds; with a fault, recovery may raise CorruptionError or DiskIOError
but never returns wrong bytes; recovering twice gives the same state.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from storage import WAL, CorruptionError, DiskIOError, SimDisk, SimDiskFaults, StorageClosedError

SEGMENT_BYTES = 256


class WALMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._fresh(0)

    def _fresh(self, seed: int) -> None:
        """A new disk and WAL, and a model of an empty log."""
        self.disk = SimDisk(seed)
        self.wal = WAL.open(self.disk, segment_bytes=SEGMENT_BYTES)
        self.payloads: dict[int, bytes] = {}
        self.last = 0
        self.durable = 0
        self.damaged = False  # a fault that may destroy synced bytes was injected
        self.fsync_armed = False
        self.poisoned = False
        self.broken = False  # recovery refused the disk: nothing more to do

    @initialize(seed=st.integers(0, 2**32))
    def make_disk(self, seed: int) -> None:
        self._fresh(seed)

    def _usable(self) -> bool:
        return not self.poisoned and not self.broken

    def _disk_failed(self) -> None:
        assert self.fsync_armed, "DiskIOError without an injected fsync failure"
        self.fsync_armed = False
        self.poisoned = True
        try:
            self.wal.append(b"after poison")
        except StorageClosedError as exc:
            assert "poisoned" in str(exc)
        else:
            raise AssertionError("a poisoned WAL accepted an append")

    # -- operations -------------------------------------------------------------------------

    @precondition(lambda self: self._usable())
    @rule(payload=st.binary(max_size=60))
    def append(self, payload: bytes) -> None:
        try:
            lsn = self.wal.append(payload)
        except DiskIOError:
            self._disk_failed()
            return
        assert lsn == self.last + 1
        self.last = lsn
        self.payloads[lsn] = payload
        self.durable = max(self.durable, self.wal.durable_lsn)  # a roll made records durable

    @precondition(lambda self: self._usable())
    @rule()
    def sync(self) -> None:
        try:
            made = self.wal.sync()
        except DiskIOError:
            self._disk_failed()
            return
        assert made == self.last - self.durable
        self.durable = self.last

    @precondition(lambda self: self._usable())
    @rule(data=st.data())
    def truncate_prefix(self, data: st.DataObject) -> None:
        lsn = data.draw(st.integers(0, self.last + 2), label="lsn")
        before = self.wal.first_lsn
        self.wal.truncate_prefix(lsn)
        after = self.wal.first_lsn
        assert before <= after <= max(before, min(lsn + 1, self.last))
        assert self.wal.last_lsn == self.last

    @precondition(lambda self: self._usable())
    @rule(data=st.data())
    def truncate_suffix(self, data: st.DataObject) -> None:
        lsn = data.draw(st.integers(self.wal.first_lsn - 1, max(self.last, 0)), label="lsn")
        try:
            self.wal.truncate_suffix(lsn)
        except DiskIOError:
            self.durable = min(self.durable, lsn)
            self._disk_failed()
            return
        for gone in range(lsn + 1, self.last + 1):
            self.payloads.pop(gone, None)
        self.last = min(self.last, lsn)
        self.durable = min(self.durable, lsn)

    @precondition(lambda self: not self.broken)
    @rule()
    def crash_and_recover(self) -> None:
        first_before = self.wal.first_lsn
        self.wal.close()
        self.disk.crash()
        try:
            wal = self._recover()
            got = list(wal.records())
        except (CorruptionError, DiskIOError):
            assert self.damaged, "recovery refused an undamaged disk"
            event("recovery refused a damaged disk")
            self.broken = True
            return
        event(f"recovered (damaged={self.damaged} torn_tail={wal.recovery_dropped_bytes > 0})")
        self._check_recovered(wal, got, first_before)
        again = WAL.open(self.disk, segment_bytes=SEGMENT_BYTES)
        assert again.recovery_dropped_bytes == 0
        assert (again.first_lsn, again.last_lsn) == (wal.first_lsn, wal.last_lsn)
        assert list(again.records()) == got
        self.wal = again
        self.poisoned = self.fsync_armed = False
        for gone in range(wal.last_lsn + 1, self.last + 1):
            self.payloads.pop(gone, None)
        self.last = self.durable = wal.last_lsn

    @precondition(lambda self: self._usable() and not self.fsync_armed and self.last > self.durable)
    @rule()
    def crash_during_sync(self) -> None:
        """Power fails between the group-commit write and its fsync: a torn tail, maybe."""
        self.disk.fail_next_fsync()
        self.fsync_armed = True
        self.sync()
        assert self.poisoned
        self.crash_and_recover()

    def _recover(self) -> WAL:
        try:
            return WAL.open(self.disk, segment_bytes=SEGMENT_BYTES)
        except DiskIOError:
            if not self.fsync_armed:
                raise
        self.fsync_armed = False  # the injected failure hit recovery's fsync: try again
        return WAL.open(self.disk, segment_bytes=SEGMENT_BYTES)

    @precondition(lambda self: self.broken)
    @rule(seed=st.integers(0, 2**32))
    def start_over(self, seed: int) -> None:
        """Recovery refused a damaged disk (a failed node): continue on a new one."""
        self._fresh(seed)

    def _check_recovered(self, wal: WAL, got: list[tuple[int, bytes]], first: int) -> None:
        # Never wrong bytes, never invented records.
        assert wal.last_lsn <= self.last
        for lsn, payload in got:
            assert payload == self.payloads[lsn], f"wrong bytes recovered for lsn={lsn}"
        assert [lsn for lsn, _ in got] == list(range(wal.first_lsn, wal.last_lsn + 1))
        # Everything synced survived (a detected fault would have raised above).
        assert wal.last_lsn >= self.durable, (wal.last_lsn, self.durable)
        assert wal.first_lsn == first

    # -- faults -----------------------------------------------------------------------------

    def _pick(self, data: st.DataObject) -> tuple[str, int] | None:
        files = [f for f in self.disk.list() if self.disk.size(f) > 0]
        if not files:
            return None
        file = data.draw(st.sampled_from(files), label="file")
        return file, data.draw(st.integers(0, self.disk.size(file) - 1), label="offset")

    @precondition(lambda self: not self.broken)
    @rule(data=st.data(), bit=st.integers(0, 7))
    def inject_bit_flip(self, data: st.DataObject, bit: int) -> None:
        picked = self._pick(data)
        if picked is not None:
            self.disk.flip_bit(picked[0], picked[1], bit)
            self.damaged = True

    @precondition(lambda self: not self.broken)
    @rule(data=st.data(), length=st.integers(1, 64))
    def inject_read_error(self, data: st.DataObject, length: int) -> None:
        picked = self._pick(data)
        if picked is not None:
            self.disk.add_read_error(picked[0], picked[1], length)
            self.damaged = True

    @precondition(lambda self: self._usable())
    @rule(data=st.data())
    def inject_misdirected_write(self, data: st.DataObject) -> None:
        tail = self.wal.segment_files[-1]
        offset = data.draw(st.integers(0, self.disk.size(tail)), label="offset")
        self.disk.misdirect_next_write(tail, offset)
        self.damaged = True

    @precondition(lambda self: self._usable() and not self.fsync_armed and self.last > self.durable)
    @rule(extra_us=st.integers(0, 10**6))
    def inject_slow_fsync(self, extra_us: int) -> None:
        """A slow fsync changes only the latency the host is charged, never the data."""
        before = self.disk.total_fsync_latency_us
        self.disk.delay_next_fsync(extra_us)
        self.sync()  # consumes the delay
        assert self.disk.total_fsync_latency_us - before == extra_us

    @precondition(lambda self: self._usable() and not self.fsync_armed)
    @rule()
    def inject_fsync_failure(self) -> None:
        self.disk.fail_next_fsync()
        self.fsync_armed = True

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def matches_model(self) -> None:
        if not self._usable():
            return
        assert self.wal.last_lsn == self.last
        assert self.wal.durable_lsn == self.durable
        try:
            got = list(self.wal.records())
        except (CorruptionError, DiskIOError):
            assert self.damaged
            return
        want = range(self.wal.first_lsn, self.last + 1)
        assert got == [(lsn, self.payloads[lsn]) for lsn in want]


TestWALModel = WALMachine.TestCase
TestWALModel.settings = settings(TestWALModel.settings, stateful_step_count=40)


def _faulty_run(seed: int) -> tuple[str, list[tuple[int, bytes]], dict[int, bytes], int]:
    """Write 200 records on a disk with random write faults, crash, recover.

    Returns (outcome, recovered records, written payloads, faults injected besides crashes).
    """
    faults = SimDiskFaults(
        bit_flip_probability=0.005,
        latent_error_probability=0.005,
        misdirected_write_probability=0.005,
    )
    disk = SimDisk(seed, faults=faults)
    wal = WAL.open(disk, segment_bytes=512)
    written: dict[int, bytes] = {}
    for i in range(200):
        payload = f"{seed}:{i}".encode() * (i % 5)
        written[wal.append(payload)] = payload
        if i % 10 == 9:
            wal.sync()
    disk.crash()
    injected = sum(n for k, n in disk.fault_counts.items() if k not in ("crash", "torn_write"))
    try:
        recovered = WAL.open(disk, segment_bytes=512)
        return "ok", list(recovered.records()), written, injected
    except (CorruptionError, DiskIOError) as exc:
        return f"refused: {exc}", [], written, injected


def test_random_faults_never_return_wrong_bytes() -> None:
    """Random per-write faults: recovery either refuses or returns the right bytes."""
    refused = ok = 0
    for seed in range(30):
        outcome, got, written, injected = _faulty_run(seed)
        if outcome != "ok":
            assert injected > 0, outcome
            refused += 1
            continue
        ok += 1
        assert all(written[lsn] == payload for lsn, payload in got)
        assert len(got) == 200 or injected > 0
    assert refused > 0 and ok > 0, (refused, ok)


def test_same_seed_same_recovery() -> None:
    for seed in (1, 7, 23):
        assert _faulty_run(seed) == _faulty_run(seed)
