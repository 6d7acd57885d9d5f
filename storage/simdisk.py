"""`SimDisk`: an in-memory `Disk` with crashes and injectable faults, for the simulator.

Each file keeps its *visible* bytes (what reads return), its *durable* bytes (what survives
a crash) and the operations since its last fsync. `crash` rebuilds every file from its
durable bytes, optionally keeping a prefix of the pending operations with the last kept
write torn (only a prefix of its bytes reaches the medium, so the file ends short).

Every random decision goes through ``choose(label, n) -> int in [0, n)``, where 0 is the
nominal path (no fault). Without a ``choose``, one is built from ``seed`` (a
`random.Random` per label seeded by blake2b of seed and label, the same derivation as the
harness chooser), so the same seed and the same calls give the same bytes and faults. A
fault-free disk (the default `SimDiskFaults`) draws nothing on writes and fsyncs.

Faults, each counted in `SimDisk.fault_counts` when injected: ``bit_flip``,
``latent_read_error``, ``misdirected_write``, ``slow_fsync``, ``fsync_failure``,
``torn_write``; ``crash`` counts crashes. Explicit methods inject each one deterministically
for tests: `flip_bit`, `add_read_error`, `misdirect_next_write`, `delay_next_fsync`,
`fail_next_fsync`, and `crash` with a custom ``choose``.
"""

from __future__ import annotations

import builtins
import hashlib
import random
from collections.abc import Callable

import attrs

from storage.disk import Disk, check_name
from storage.errors import DiskIOError, SimulatedCrash

Choose = Callable[[str, int], int]

FAULT_KINDS = (
    "bit_flip",
    "latent_read_error",
    "misdirected_write",
    "slow_fsync",
    "fsync_failure",
    "torn_write",
    "crash",
)

_CHANCE_SCALE = 1 << 20
_THRESHOLDS: dict[float, int] = {}  # probability -> the first draw that is a fault


def _probability(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"probability must be in [0, 1]: {attribute.name}={value}")


def _non_negative(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"must be non-negative: {attribute.name}={value}")


@attrs.frozen(kw_only=True)
class SimDiskFaults:
    """Probabilities (per write or per fsync) and magnitudes of random faults; all 0 = none.

    Attributes:
        bit_flip_probability: per write, one random bit of the written bytes is flipped.
        latent_error_probability: per write, the written range becomes unreadable
            (reads overlapping it raise DiskIOError until a later write covers it).
        misdirected_write_probability: per write, the bytes land at another offset of
            the same file.
        fsync_failure_probability: per fsync, it raises DiskIOError (nothing made durable).
        slow_fsync_probability: per fsync, ``slow_fsync_latency_us`` is added.
        fsync_latency_us: the latency of every fsync, in simulated microseconds.
        slow_fsync_latency_us: the extra latency of a slow fsync, in microseconds.
    """

    bit_flip_probability: float = attrs.field(default=0.0, validator=_probability)
    latent_error_probability: float = attrs.field(default=0.0, validator=_probability)
    misdirected_write_probability: float = attrs.field(default=0.0, validator=_probability)
    fsync_failure_probability: float = attrs.field(default=0.0, validator=_probability)
    slow_fsync_probability: float = attrs.field(default=0.0, validator=_probability)
    fsync_latency_us: int = attrs.field(default=0, validator=_non_negative)
    slow_fsync_latency_us: int = attrs.field(default=0, validator=_non_negative)


class SeededChoose:
    """A ``choose(label, n)`` drawing from one `random.Random` per label, seeded by blake2b.

    Matches `harness.runtime.chooser.Chooser.choose` in seeded mode (same derivation, ``n == 1``
    draws nothing), without storage importing harness.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def __call__(self, label: str, n: int) -> int:
        if n < 1:
            raise ValueError(f"choose needs n >= 1, got n={n} for label={label!r}")
        if n == 1:
            return 0
        stream = self._streams.get(label)
        if stream is None:
            digest = hashlib.blake2b(f"{self.seed}\x00{label}".encode(), digest_size=8).digest()
            stream = random.Random(int.from_bytes(digest, "big"))
            self._streams[label] = stream
        return stream.randrange(n)


@attrs.define
class _SimFile:
    """One file: visible bytes, durable bytes, pending ops, unreadable ranges."""

    data: bytearray = attrs.field(factory=bytearray)
    durable: bytearray = attrs.field(factory=bytearray)
    # (offset, bytes) for a write, (size, None) for a truncate; in order since the last fsync.
    pending: builtins.list[tuple[int, bytes | None]] = attrs.field(factory=builtins.list)
    # [start, end) byte ranges whose reads fail.
    bad_ranges: builtins.list[tuple[int, int]] = attrs.field(factory=builtins.list)


def _apply(buf: bytearray, offset: int, data: bytes | None) -> None:
    """Apply one pending op to ``buf``: a write (gap zero-filled) or a truncate."""
    if data is None:
        del buf[offset:]
        return
    if offset > len(buf):
        buf.extend(bytes(offset - len(buf)))
    buf[offset : offset + len(data)] = data


class SimDisk(Disk):
    """An in-memory disk with crash semantics and faults (see the module docstring).

    Args:
        seed: root of the default ``choose`` (ignored when ``choose`` is given).
        faults: random fault rates; None means a fault-free disk.
        choose: ``choose(label, n) -> int in [0, n)``, 0 the nominal path.

    Attributes:
        fault_counts: injected faults by kind (keys of `FAULT_KINDS`, all present).
        fsync_count: fsyncs that succeeded.
        last_fsync_latency_us: simulated latency of the latest fsync (the host charges it
            as simulated time; nothing sleeps). 0 before any fsync.
        total_fsync_latency_us: sum over every successful fsync, so a host can charge an
            operation that fsyncs several times (a WAL segment roll) by the difference.
    """

    def __init__(
        self, seed: int = 0, *, faults: SimDiskFaults | None = None, choose: Choose | None = None
    ) -> None:
        self.faults = faults if faults is not None else SimDiskFaults()
        self._choose: Choose = choose if choose is not None else SeededChoose(seed)
        self._files: dict[str, _SimFile] = {}
        self.fault_counts: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self.fsync_count = 0
        self.last_fsync_latency_us = 0
        self.total_fsync_latency_us = 0
        self._misdirect_next: dict[str, int] = {}
        self._fail_next_fsync: dict[str | None, int] = {}
        self._delay_next_fsync_us: builtins.list[int] = []
        self._crash_after_ops: int | None = None
        self._crash_point = ""

    def __repr__(self) -> str:
        return f"SimDisk(files={len(self._files)} faults={self.faults!r})"

    # -- helpers ----------------------------------------------------------------------------

    def _file(self, name: str) -> _SimFile:
        check_name(name)
        f = self._files.get(name)
        if f is None:
            raise FileNotFoundError(f"no such file on SimDisk: name={name}")
        return f

    def _chance(self, label: str, p: float) -> bool:
        """True (the fault happens) with probability ``p``; draws nothing when ``p == 0``.

        Values near the top of the range are faults, so choice 0 is always nominal.
        """
        if p <= 0.0:
            return False
        threshold = _THRESHOLDS.get(p)
        if threshold is None:
            threshold = _THRESHOLDS[p] = _CHANCE_SCALE - max(1, round(p * _CHANCE_SCALE))
        return self._choose(label, _CHANCE_SCALE) >= threshold

    def _count(self, kind: str) -> None:
        self.fault_counts[kind] += 1

    # -- explicit fault injection -----------------------------------------------------------

    def flip_bit(self, name: str, offset: int, bit: int) -> None:
        """Flip bit ``bit`` (0..7) of the stored byte at ``offset``, durable and visible."""
        f = self._file(name)
        if not 0 <= bit < 8 or not 0 <= offset < len(f.data):
            raise ValueError(f"flip_bit out of range: name={name} offset={offset} bit={bit}")
        mask = 1 << bit
        f.data[offset] ^= mask
        if offset < len(f.durable):
            f.durable[offset] ^= mask
        for i, (at, data) in enumerate(f.pending):
            if data is not None and at <= offset < at + len(data):
                patched = bytearray(data)
                patched[offset - at] ^= mask
                f.pending[i] = (at, bytes(patched))
        self._count("bit_flip")

    def flip_tail_bit(self, prefix: str, within_bytes: int) -> str | None:
        """Flip one drawn bit among the last ``within_bytes`` durable bytes of the newest file
        named ``prefix...`` (sorted by name: a WAL's last segment), a fault aimed where the
        most recent records live. Returns the file hit (None: no such file, or it is empty).
        Draws ``disk.tail.offset`` and ``disk.tail.bit``."""
        names = [n for n in sorted(self._files) if n.startswith(prefix)]
        if not names or within_bytes < 1:
            return None
        name = names[-1]
        size = len(self._files[name].durable)
        if size == 0:
            return None
        span = min(within_bytes, size)
        offset = size - 1 - self._choose("disk.tail.offset", span)
        self.flip_bit(name, offset, self._choose("disk.tail.bit", 8))
        return name

    def add_read_error(self, name: str, offset: int, length: int) -> None:
        """Make reads overlapping ``[offset, offset + length)`` raise DiskIOError.

        The range heals when a later write overlaps it (the sector is remapped).
        """
        f = self._file(name)
        if offset < 0 or length < 1:
            raise ValueError(f"read error range invalid: offset={offset} length={length}")
        f.bad_ranges.append((offset, offset + length))
        self._count("latent_read_error")

    def misdirect_next_write(self, name: str, offset: int) -> None:
        """Make the next write or append to ``name`` land at ``offset`` instead."""
        check_name(name)
        if offset < 0:
            raise ValueError(f"misdirect offset must be non-negative: offset={offset}")
        self._misdirect_next[name] = offset

    def fail_next_fsync(self, name: str | None = None) -> None:
        """Make the next fsync of ``name`` (of any file if None) raise DiskIOError."""
        self._fail_next_fsync[name] = self._fail_next_fsync.get(name, 0) + 1

    def delay_next_fsync(self, extra_latency_us: int) -> None:
        """Add ``extra_latency_us`` to the latency of the next fsync (a slow fsync)."""
        if extra_latency_us < 0:
            raise ValueError(f"latency must be non-negative: extra_latency_us={extra_latency_us}")
        self._delay_next_fsync_us.append(extra_latency_us)

    def arm_crash(self, after_ops: int, point: str) -> None:
        """Crash the process inside the next operation that changes the disk, after
        ``after_ops`` such operations (write, append, truncate, fsync, delete, rename) have
        completed: that one raises `storage.SimulatedCrash` (``point``) before it happens.

        The caller must then `crash` the disk (what was not fsynced is lost or torn). A crash
        point inside a multi-step storage operation (a B-tree checkpoint) is armed this way;
        `disarm_crash` cancels it if the operation ended first.
        """
        if after_ops < 0:
            raise ValueError(f"after_ops must be >= 0, got after_ops={after_ops}")
        self._crash_after_ops = after_ops
        self._crash_point = point

    def disarm_crash(self) -> None:
        """Cancel an armed crash that has not fired (`arm_crash`)."""
        self._crash_after_ops = None

    def _maybe_crash(self) -> None:
        left = self._crash_after_ops
        if left is None:
            return
        if left == 0:
            self._crash_after_ops = None
            raise SimulatedCrash(self._crash_point)
        self._crash_after_ops = left - 1

    # -- crash ------------------------------------------------------------------------------

    def crash(self, torn: bool = True) -> None:
        """Lose every unsynced byte, as a power failure does (and disarm `arm_crash`).

        With ``torn`` (the default), for each file with pending operations (sorted by name)
        ``choose("disk.crash.keep", n + 1)`` picks how many of its ``n`` pending operations
        reached the medium (0, the nominal choice, keeps none) and, if the last kept one is
        a write, ``choose("disk.crash.tear", len)`` how many of its trailing bytes are cut
        (0 keeps it whole; more is a torn write, counted). With ``torn=False`` nothing
        unsynced survives and nothing is drawn. Latent read errors stay (they are on the
        medium); pending one-shot injections stay armed.
        """
        self._count("crash")
        self._crash_after_ops = None
        for name in sorted(self._files):
            f = self._files[name]
            if torn and f.pending:
                keep = self._choose("disk.crash.keep", len(f.pending) + 1)
                for i in range(keep):
                    at, data = f.pending[i]
                    if i == keep - 1 and data is not None and len(data) > 1:
                        cut = self._choose("disk.crash.tear", len(data))
                        if cut:
                            data = data[: len(data) - cut]
                            self._count("torn_write")
                    _apply(f.durable, at, data)
            f.pending.clear()
            f.data = bytearray(f.durable)

    # -- Disk -------------------------------------------------------------------------------

    def list(self) -> builtins.list[str]:
        """Return every file name, sorted."""
        return sorted(self._files)

    def exists(self, name: str) -> bool:
        """Return whether ``name`` exists."""
        check_name(name)
        return name in self._files

    def size(self, name: str) -> int:
        """Return the visible size of ``name``; FileNotFoundError if missing."""
        return len(self._file(name).data)

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Return up to ``length`` visible bytes from ``offset``; DiskIOError on a bad range."""
        f = self._file(name)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"read range must be non-negative: offset={offset} length={length}")
        end = len(f.data) if length is None else min(len(f.data), offset + length)
        for start, stop in f.bad_ranges:
            if start < end and offset < stop:
                raise DiskIOError(
                    f"latent read error: file={name} offset={offset} bad_range={start}..{stop}"
                )
        return bytes(f.data[offset:end])

    def write(self, name: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` (volatile until fsync); may inject write faults."""
        if offset < 0:
            raise ValueError(f"write offset must be non-negative: offset={offset}")
        if self._crash_after_ops is not None:
            self._maybe_crash()
        f = self._files.get(name)
        if f is None:
            check_name(name)  # names already in the namespace were checked
            f = self._files[name] = _SimFile()  # creation is durable at once
        data = bytes(data)
        if not data:
            return  # like pwrite of 0 bytes: no change, not even past the end
        faults = self.faults
        if self._chance("disk.bit_flip", faults.bit_flip_probability):
            i = self._choose("disk.bit_flip.offset", len(data))
            bit = self._choose("disk.bit_flip.bit", 8)
            patched = bytearray(data)
            patched[i] ^= 1 << bit
            data = bytes(patched)
            self._count("bit_flip")
        target = self._misdirect_next.pop(name, None)
        if target is None and self._chance(
            "disk.misdirect", faults.misdirected_write_probability
        ):
            target = self._choose("disk.misdirect.offset", len(f.data) + 1)
            if target == offset:
                target = offset + 1
        if target is not None:
            self._count("misdirected_write")
            offset = target
        end = offset + len(data)
        if f.bad_ranges:
            f.bad_ranges = [(s, e) for s, e in f.bad_ranges if e <= offset or s >= end]
        if self._chance("disk.latent_error", faults.latent_error_probability):
            f.bad_ranges.append((offset, end))
            self._count("latent_read_error")
        f.pending.append((offset, data))
        _apply(f.data, offset, data)

    def append(self, name: str, data: bytes) -> int:
        """Append ``data`` (volatile until fsync); return the offset where it should start."""
        check_name(name)
        f = self._files.get(name)
        offset = 0 if f is None else len(f.data)
        self.write(name, offset, data)
        return offset

    def truncate(self, name: str, size: int) -> None:
        """Cut ``name`` to ``size`` bytes (volatile until fsync); growing fills zeros."""
        f = self._file(name)
        if size < 0:
            raise ValueError(f"truncate size must be non-negative: size={size}")
        if self._crash_after_ops is not None:
            self._maybe_crash()
        if size >= len(f.data):
            if size > len(f.data):
                self._grow(f, size)
            return
        f.pending.append((size, None))
        _apply(f.data, size, None)
        f.bad_ranges = [(s, min(e, size)) for s, e in f.bad_ranges if s < size]

    def _grow(self, f: _SimFile, size: int) -> None:
        fill = bytes(size - len(f.data))
        f.pending.append((len(f.data), fill))
        _apply(f.data, len(f.data), fill)

    def fsync(self, name: str) -> None:
        """Make ``name``'s pending ops durable; may fail (DiskIOError) or be slow."""
        f = self._files.get(name) or self._file(name)
        if self._crash_after_ops is not None:
            self._maybe_crash()
        faults = self.faults
        failing = (
            self._fail_next_fsync.get(name) or self._fail_next_fsync.get(None)
            if self._fail_next_fsync
            else None
        )
        if failing:
            key: str | None = name if self._fail_next_fsync.get(name) else None
            self._fail_next_fsync[key] = failing - 1
            if not self._fail_next_fsync[key]:
                del self._fail_next_fsync[key]
        if failing or self._chance("disk.fsync_fail", faults.fsync_failure_probability):
            self._count("fsync_failure")
            raise DiskIOError(f"injected fsync failure: file={name}")
        latency_us = faults.fsync_latency_us
        if self._delay_next_fsync_us:
            latency_us += self._delay_next_fsync_us.pop(0)
            self._count("slow_fsync")
        elif self._chance("disk.slow_fsync", faults.slow_fsync_probability):
            latency_us += faults.slow_fsync_latency_us
            self._count("slow_fsync")
        self.last_fsync_latency_us = latency_us
        self.total_fsync_latency_us += latency_us
        for at, data in f.pending:
            _apply(f.durable, at, data)
        f.pending.clear()
        self.fsync_count += 1

    def delete(self, name: str) -> None:
        """Remove ``name`` durably; FileNotFoundError if missing."""
        self._file(name)
        if self._crash_after_ops is not None:
            self._maybe_crash()
        del self._files[name]

    def rename(self, src: str, dst: str) -> None:
        """Atomically and durably move ``src`` (with its unsynced state) to ``dst``."""
        f = self._file(src)
        check_name(dst)
        if self._crash_after_ops is not None:
            self._maybe_crash()
        del self._files[src]
        self._files[dst] = f

    # -- inspection for tests ---------------------------------------------------------------

    def durable_bytes(self, name: str) -> bytes:
        """Return the bytes of ``name`` that would survive a crash now (for tests)."""
        return bytes(self._file(name).durable)
