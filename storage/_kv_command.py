"""Commands of the key-value state machine and their results, with a compact byte encoding.

The consensus layer carries commands as opaque bytes; `Command.encode` is what clients put
in the log and `Command.decode` what every replica reads back. Encoding (little endian)::

    u8  op code (1 put, 2 delete, 3 cas, 4 append), bit 7 set when ``expected`` is present
    u64 client_id, u64 request_id, u32 key length, u32 value length
    [u32 expected length, only when bit 7 is set]
    key, value, [expected]

The same command always encodes to the same bytes.
"""

from __future__ import annotations

import struct
from typing import Any

import attrs

OPS = ("put", "delete", "cas", "append")
_CODES = {op: i + 1 for i, op in enumerate(OPS)}
_HAS_EXPECTED = 0x80
_HEAD = struct.Struct("<BQQII")
_LEN = struct.Struct("<I")
_U64_LIMIT = 1 << 64


def _is_u64(_inst: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value < _U64_LIMIT:
        name = attribute.name
        raise ValueError(f"{name} must be an int in [0, 2**64), got {name}={value!r}")


def _is_bytes(_inst: Any, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if type(value) is not bytes:
        raise TypeError(f"{attribute.name} must be bytes, got {attribute.name}={value!r}")


@attrs.frozen(kw_only=True)
class Command:
    """One state-machine command.

    Attributes:
        op: "put" (set ``key`` to ``value``), "delete" (remove ``key``), "cas" (set ``key``
            to ``value`` only if its current value is ``expected``), "append" (add ``value``
            to the end of the current value, b"" if absent).
        key: the key.
        value: put/append: the value; cas: the new value; delete: must be b"".
        expected: cas only: the value the key must hold now; None means "key absent".
            Must be None for other ops.
        client_id: the client's id, for deduplication of retries.
        request_id: the client's request number, increasing per client; 0 means "do not
            deduplicate".
    """

    op: str = attrs.field(validator=attrs.validators.in_(OPS))
    key: bytes = attrs.field(validator=_is_bytes)
    value: bytes = attrs.field(default=b"", validator=_is_bytes)
    expected: bytes | None = attrs.field(
        default=None, validator=attrs.validators.optional(_is_bytes)
    )
    client_id: int = attrs.field(default=0, validator=_is_u64)
    request_id: int = attrs.field(default=0, validator=_is_u64)

    def __attrs_post_init__(self) -> None:
        if self.expected is not None and self.op != "cas":
            raise ValueError(f"only cas takes expected: op={self.op} expected={self.expected!r}")
        if self.op == "delete" and self.value:
            raise ValueError(f"delete takes no value: value={self.value!r}")

    def encode(self) -> bytes:
        """Return the command's canonical bytes (see the module docstring)."""
        code = _CODES[self.op]
        key, value, expected = self.key, self.value, self.expected
        if expected is None:
            head = _HEAD.pack(code, self.client_id, self.request_id, len(key), len(value))
            return head + key + value
        head = _HEAD.pack(
            code | _HAS_EXPECTED, self.client_id, self.request_id, len(key), len(value)
        )
        return head + _LEN.pack(len(expected)) + key + value + expected

    @classmethod
    def decode(cls, data: bytes) -> Command:
        """Return the command encoded in ``data``.

        Raises ValueError if ``data`` is not exactly one valid encoded command (unknown op,
        lengths not matching the size, fields breaking the rules of `Command`).
        """
        if len(data) < _HEAD.size:
            raise ValueError(f"command too short: size_bytes={len(data)}")
        code, client_id, request_id, key_len, value_len = _HEAD.unpack_from(data, 0)
        at = _HEAD.size
        expected_len = -1
        if code & _HAS_EXPECTED:
            if len(data) < at + _LEN.size:
                raise ValueError(f"command too short for expected: size_bytes={len(data)}")
            (expected_len,) = _LEN.unpack_from(data, at)
            at += _LEN.size
        op_index = (code & ~_HAS_EXPECTED) - 1
        if not 0 <= op_index < len(OPS):
            raise ValueError(f"unknown command op code: code={code}")
        end = at + key_len + value_len + max(expected_len, 0)
        if end != len(data):
            raise ValueError(f"command lengths do not match its size: want={end} got={len(data)}")
        key = bytes(data[at : at + key_len])
        at += key_len
        value = bytes(data[at : at + value_len])
        expected = None if expected_len < 0 else bytes(data[at + value_len : end])
        return cls(
            op=OPS[op_index], key=key, value=value, expected=expected,
            client_id=client_id, request_id=request_id,
        )


@attrs.frozen
class Result:
    """What applying a command produced.

    Attributes:
        ok: cas: whether ``expected`` matched (and the write happened); False for a command
            that could not be decoded; True otherwise.
        value: append: the new full value; cas: the key's value after the command (None if
            absent); put, delete, no-op: None.
    """

    ok: bool
    value: bytes | None = None
