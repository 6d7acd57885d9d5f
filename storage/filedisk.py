"""`FileDisk`: the `Disk` interface over real files in one directory.

Durability follows `storage.disk`: ``fsync`` fsyncs the file; creating a file (its first
write), ``rename`` and ``delete`` fsync the directory before they return, so the directory
entry survives a power failure. Open file descriptors are cached per name (a WAL appends and
fsyncs the same file many times a second); `close` releases them.

OS errors other than a missing file surface as `storage.DiskIOError`; a missing file is
``FileNotFoundError``, as the interface says.
"""

from __future__ import annotations

import os
from pathlib import Path

from storage.disk import Disk, check_name
from storage.errors import DiskIOError


class FileDisk(Disk):
    """A flat directory of files; see the module docstring for the durability rules.

    Args:
        root: the directory holding the files; created (with parents) if missing.

    Use one FileDisk per directory per process: descriptors are cached, so a file another
    instance renames or deletes would still be seen through a stale descriptor here.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._fds: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"FileDisk({str(self.root)!r})"

    # -- helpers -----------------------------------------------------------------------

    def _path(self, name: str) -> str:
        check_name(name)
        return os.path.join(self.root, name)

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise DiskIOError(f"directory fsync failed: root={self.root} error={exc}") from exc

    def _fd(self, name: str, *, create: bool = False) -> int:
        """Return a cached read-write descriptor for ``name``.

        With ``create``, a missing file is created and the directory fsynced (creation is
        durable on return). Without it, a missing file raises FileNotFoundError.
        """
        fd = self._fds.get(name)
        if fd is not None:
            return fd
        path = self._path(name)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            if not create:
                raise
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            self._fds[name] = fd
            self._fsync_dir()
            return fd
        self._fds[name] = fd
        return fd

    def _forget(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    # -- Disk ------------------------------------------------------------------------------

    def list(self) -> list[str]:
        """Return every regular file name in the directory, sorted."""
        return sorted(entry.name for entry in os.scandir(self.root) if entry.is_file())

    def exists(self, name: str) -> bool:
        """Return whether ``name`` exists."""
        return os.path.isfile(self._path(name))

    def size(self, name: str) -> int:
        """Return the size of ``name`` in bytes; FileNotFoundError if missing."""
        fd = self._fds.get(name)
        if fd is not None:
            return os.fstat(fd).st_size
        return os.stat(self._path(name)).st_size

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Return up to ``length`` bytes from ``offset`` (to the end if None)."""
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"read range must be non-negative: offset={offset} length={length}")
        fd = self._fd(name)
        try:
            if length is None:
                length = max(0, os.fstat(fd).st_size - offset)
            parts: list[bytes] = []
            while length > 0:
                chunk = os.pread(fd, length, offset)
                if not chunk:
                    break
                parts.append(chunk)
                offset += len(chunk)
                length -= len(chunk)
        except OSError as exc:
            raise DiskIOError(f"read failed: file={name} offset={offset} error={exc}") from exc
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def write(self, name: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` (volatile until fsync); a gap is filled with zeros."""
        if offset < 0:
            raise ValueError(f"write offset must be non-negative: offset={offset}")
        fd = self._fd(name, create=True)
        view = memoryview(data)
        try:
            while view:
                n = os.pwrite(fd, view, offset)
                view = view[n:]
                offset += n
        except OSError as exc:
            raise DiskIOError(f"write failed: file={name} offset={offset} error={exc}") from exc

    def append(self, name: str, data: bytes) -> int:
        """Append ``data`` (volatile until fsync); return the offset where it starts."""
        fd = self._fd(name, create=True)
        offset = os.fstat(fd).st_size
        self.write(name, offset, data)
        return offset

    def truncate(self, name: str, size: int) -> None:
        """Cut ``name`` to ``size`` bytes (volatile until fsync)."""
        if size < 0:
            raise ValueError(f"truncate size must be non-negative: size={size}")
        fd = self._fd(name)
        try:
            os.ftruncate(fd, size)
        except OSError as exc:
            raise DiskIOError(f"truncate failed: file={name} size={size} error={exc}") from exc

    def fsync(self, name: str) -> None:
        """Make every earlier write to ``name`` durable; DiskIOError if the OS fails it."""
        fd = self._fd(name)
        try:
            os.fsync(fd)
        except OSError as exc:
            raise DiskIOError(f"fsync failed: file={name} error={exc}") from exc

    def delete(self, name: str) -> None:
        """Remove ``name`` durably (directory fsynced); FileNotFoundError if missing."""
        path = self._path(name)
        self._forget(name)
        os.unlink(path)
        self._fsync_dir()

    def rename(self, src: str, dst: str) -> None:
        """Atomically and durably rename ``src`` to ``dst``, replacing ``dst``."""
        src_path, dst_path = self._path(src), self._path(dst)
        if not os.path.isfile(src_path):
            raise FileNotFoundError(f"rename source missing: src={src}")
        self._forget(src)
        self._forget(dst)
        os.replace(src_path, dst_path)
        self._fsync_dir()

    def close(self) -> None:
        """Close every cached descriptor. The disk stays usable (descriptors reopen lazily)."""
        for name in list(self._fds):
            self._forget(name)
