"""Length-prefixed, checksummed frames: the only thing that crosses a TCP connection.

A frame is a 10-byte header and a payload::

    u8  version (VERSION)
    u8  kind (HELLO, PEER, REQUEST, REPLY, STATUS, STATUS_REPLY, REFUSE)
    u32 payload length in bytes, big endian, at most the reader's ``max_frame_bytes``
    u32 CRC32C of version, kind, length and payload, big endian

`FrameDecoder` is sans-I/O: feed it bytes, it returns whole frames or raises `FrameError`
whose ``reason`` is one of `REASONS` (the transport counts errors by reason, logs them with
the peer and resets the connection). The version and length are checked before the payload
is awaited, so a huge length is refused at once instead of buffered.

The first frame on every connection is a HELLO (`Hello`): the cluster id, the role of the
dialer (a peer node, a client or an admin) and, for a peer, its node id. A node answers a
hello from another cluster with a REFUSE frame and closes.
"""

from __future__ import annotations

import struct

import attrs
import crc32c

from harness.net.codec import CodecError, Reader, put_bytes, put_uint

VERSION = 1
HEADER = struct.Struct(">BBII")
DEFAULT_MAX_FRAME_BYTES = 8 << 20

HELLO, PEER, REQUEST, REPLY, STATUS, STATUS_REPLY, REFUSE = range(1, 8)
KINDS = frozenset((HELLO, PEER, REQUEST, REPLY, STATUS, STATUS_REPLY, REFUSE))

REASONS: tuple[str, ...] = (
    "bad-version", "bad-kind", "oversized", "bad-crc", "truncated", "malformed", "bad-hello",
    "wrong-cluster", "unexpected-kind",
)
"""Why a frame (or a connection) was refused; the keys of a node's error counters."""

ROLE_PEER, ROLE_CLIENT, ROLE_ADMIN = 0, 1, 2


class FrameError(Exception):
    """A peer sent something that is not a valid frame: ``reason`` (in REASONS) and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode_frame(kind: int, payload: bytes) -> bytes:
    """Return the frame bytes carrying ``payload`` as a frame of ``kind``."""
    head = struct.pack(">BBI", VERSION, kind, len(payload))
    crc = crc32c.crc32c(payload, crc32c.crc32c(head))
    return head + struct.pack(">I", crc) + payload


class FrameDecoder:
    """Splits a byte stream into frames (see module doc); poisoned after the first error.

    Args:
        max_frame_bytes: the largest payload accepted; a longer length is ``oversized``.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._failed: FrameError | None = None

    def feed(self, data: bytes | bytearray) -> list[tuple[int, bytes]]:
        """Add ``data``; return the frames now complete as (kind, payload), in order.

        Raises FrameError on the first invalid header or checksum; every later call raises
        the same error (the connection must be reset, its stream cannot be resynchronised).
        """
        if self._failed is not None:
            raise self._failed
        self._buf += data
        frames: list[tuple[int, bytes]] = []
        buf = self._buf
        at = 0
        try:
            while len(buf) - at >= HEADER.size:
                version, kind, length, crc = HEADER.unpack_from(buf, at)
                if version != VERSION:
                    raise FrameError("bad-version", f"version={version} want={VERSION}")
                if kind not in KINDS:
                    raise FrameError("bad-kind", f"kind={kind}")
                if length > self.max_frame_bytes:
                    raise FrameError(
                        "oversized", f"length_bytes={length} max={self.max_frame_bytes}"
                    )
                end = at + HEADER.size + length
                if len(buf) < end:
                    break
                payload = bytes(buf[at + HEADER.size : end])
                want = crc32c.crc32c(payload, crc32c.crc32c(bytes(buf[at : at + 6])))
                if want != crc:
                    raise FrameError("bad-crc", f"crc={crc:#010x} want={want:#010x}")
                frames.append((kind, payload))
                at = end
        except FrameError as exc:
            self._failed = exc
            raise
        finally:
            del buf[:at]
        return frames

    def eof(self) -> None:
        """The stream ended; raises FrameError("truncated") if a partial frame is buffered."""
        if self._buf and self._failed is None:
            self._failed = FrameError("truncated", f"stream ended inside a frame, "
                                      f"buffered_bytes={len(self._buf)}")
            raise self._failed

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)


@attrs.frozen(kw_only=True)
class Hello:
    """The first frame of a connection: who dials (``role``) and, for a peer, its ``node_id``."""

    cluster_id: str
    role: int
    node_id: int = 0

    def encode(self) -> bytes:
        out = bytearray()
        put_bytes(out, self.cluster_id.encode())
        put_uint(out, self.role)
        put_uint(out, self.node_id)
        return bytes(out)

    @classmethod
    def decode(cls, payload: bytes) -> Hello:
        """Raises FrameError("bad-hello") on a payload that is not a hello."""
        try:
            r = Reader(payload)
            cluster = r.bytes_().decode()
            role, node = r.uint(), r.uint()
            r.end()
        except (CodecError, UnicodeDecodeError) as exc:
            raise FrameError("bad-hello", str(exc)) from None
        if role not in (ROLE_PEER, ROLE_CLIENT, ROLE_ADMIN):
            raise FrameError("bad-hello", f"role={role}")
        return cls(cluster_id=cluster, role=role, node_id=node)
