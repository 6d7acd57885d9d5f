"""The disk interface shared by the real file disk and the simulated one.

A `Disk` is a flat namespace of named files. Names are plain strings without ``/``; layers
above pick prefixes (``wal-…``, ``btree-…``) so several users can share one disk.

Durability contract (both implementations keep it; the WAL and the B-tree rely on it):

- ``write``/``append`` change the file's contents at once for later reads, but the new bytes
  are *volatile* until ``fsync(name)`` returns. A crash loses every unsynced byte (the
  simulated disk may keep a torn prefix of the last unsynced write).
- Creating a file (first write), ``rename`` and ``delete`` are durable when they return: the
  file disk fsyncs the directory for them.
- ``rename`` is atomic and replaces ``dst``.
"""

from __future__ import annotations

import abc


class Disk(abc.ABC):
    """A flat namespace of files with explicit durability (see the module docstring)."""

    @abc.abstractmethod
    def list(self) -> list[str]:
        """Return every file name, sorted."""

    @abc.abstractmethod
    def exists(self, name: str) -> bool:
        """Return whether ``name`` exists."""

    @abc.abstractmethod
    def size(self, name: str) -> int:
        """Return the current (possibly unsynced) size of ``name`` in bytes.

        Raises FileNotFoundError if it does not exist.
        """

    @abc.abstractmethod
    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Return up to ``length`` bytes from ``offset`` (all to the end if None).

        Returns fewer bytes at the end of the file. Raises FileNotFoundError if missing,
        `storage.DiskIOError` on a (latent) read error.
        """

    @abc.abstractmethod
    def write(self, name: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset``, creating the file if needed (volatile until fsync).

        Writing past the end fills the gap with zero bytes.
        """

    @abc.abstractmethod
    def append(self, name: str, data: bytes) -> int:
        """Append ``data`` (volatile until fsync), creating the file if needed.

        Returns the offset at which ``data`` starts.
        """

    @abc.abstractmethod
    def truncate(self, name: str, size: int) -> None:
        """Cut ``name`` to ``size`` bytes (volatile until fsync)."""

    @abc.abstractmethod
    def fsync(self, name: str) -> None:
        """Make every earlier write to ``name`` durable.

        Raises `storage.DiskIOError` if the disk fails it; after that the file's durable
        contents are unknown and callers must fail-stop (the WAL does).
        """

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Remove ``name`` durably. Raises FileNotFoundError if missing."""

    @abc.abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """Atomically and durably rename ``src`` to ``dst``, replacing ``dst``."""


def check_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a valid flat file name."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ValueError(f"invalid disk file name: name={name!r} (flat names only, no '/')")
