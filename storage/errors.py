"""Errors raised by the storage layer.

Every message is one line: the broken rule, where (file and offset), and the values involved.
None of these errors is ever "repaired" by deleting data: the caller decides.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class: something about stored data or the disk is wrong."""


class CorruptionError(StorageError):
    """Stored bytes fail their checksum, or have the wrong structure, at a known place.

    Raised instead of silently truncating: a checksum failure followed by valid data means
    committed records may sit behind it, and dropping them would lose acknowledged writes.
    """

    def __init__(self, message: str, *, file: str, offset: int) -> None:
        super().__init__(f"{message} (file={file} offset={offset})")
        self.file = file
        self.offset = offset


class DiskIOError(StorageError):
    """The disk failed an operation (a latent read error, an injected fault, an OS error)."""


class StorageClosedError(StorageError):
    """The object was closed, or fail-stopped after an earlier error, and refuses further use."""


class SimulatedCrash(Exception):
    """The simulator crashed the process at a point inside an operation (a crash point).

    Not a `StorageError`: nothing is wrong with the data; the process is simply gone, and the
    caller (the simulator) must drop every volatile state and crash the disk. Raised by an
    armed `storage.SimDisk` (`SimDisk.arm_crash`) or by a host at one of its crash points.

    Attributes:
        point: the crash point's name (``"mid-checkpoint"``, ``"fsync-then-send"``, ...).
    """

    def __init__(self, point: str) -> None:
        super().__init__(f"simulated crash at point={point}")
        self.point = point
