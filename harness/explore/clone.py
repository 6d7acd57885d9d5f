"""A fast structural copy of a replica, for copy-on-write states in the explorer.

`copy.deepcopy` costs about 135 us per replica; this copier is several times faster because
it knows which values are immutable (ints, bytes, str, enums, functions, frozen attrs
classes, tuples of those) and shares them instead of walking them. Mutable values (dicts,
lists, sets, mutable attrs instances, plain objects) are copied recursively, so the copy
shares no mutable state with the original. A type it does not know falls back to
`copy.deepcopy`, so a new field in the replica never makes the copy shallow by accident.
"""

from __future__ import annotations

import copy
import enum
import types
from collections.abc import Callable
from typing import Any

import attrs

_IMMUTABLE: set[type] = {
    int, bool, float, str, bytes, type(None), range, frozenset,
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
}
_COPIERS: dict[type, Callable[[Any], Any]] = {}


def _is_frozen_attrs(t: type) -> bool:
    if not attrs.has(t):
        return False
    try:
        probe = object.__new__(t)
        name = attrs.fields(t)[0].name if attrs.fields(t) else None
        if name is None:
            return True
        t.__setattr__(probe, name, None)
    except attrs.exceptions.FrozenInstanceError:
        return True
    except Exception:
        return False
    return False


def clone(value: Any) -> Any:
    """Return a copy of ``value`` that shares no mutable object with it."""
    t = type(value)
    if t in _IMMUTABLE:
        return value
    copier = _COPIERS.get(t)
    if copier is None:
        copier = _make_copier(t)
        _COPIERS[t] = copier
    return copier(value)


def _copy_dict(d: dict[Any, Any]) -> dict[Any, Any]:
    imm = _IMMUTABLE
    return {k: v if type(v) in imm else clone(v) for k, v in d.items()}


def _copy_list(xs: list[Any]) -> list[Any]:
    imm = _IMMUTABLE
    return [v if type(v) in imm else clone(v) for v in xs]


def _copy_tuple(xs: tuple[Any, ...]) -> tuple[Any, ...]:
    out = tuple(clone(v) for v in xs)
    return xs if all(a is b for a, b in zip(out, xs, strict=True)) else out


def _make_copier(t: type) -> Callable[[Any], Any]:
    if t is dict:
        return _copy_dict
    if t is list:
        return _copy_list
    if t is tuple:
        return _copy_tuple
    if t is set:
        return set  # elements of a set are hashable, assumed immutable
    if issubclass(t, enum.Enum) or _is_frozen_attrs(t):
        _IMMUTABLE.add(t)
        return _identity
    if attrs.has(t) and "__slots__" in t.__dict__:
        names = tuple(a.name for a in attrs.fields(t))

        def copy_slots(v: Any) -> Any:
            new = object.__new__(t)
            imm = _IMMUTABLE
            for n in names:
                x = getattr(v, n)
                object.__setattr__(new, n, x if type(x) in imm else clone(x))
            return new

        return copy_slots
    if hasattr(t, "__dict__") and not hasattr(t, "__slots__") and t.__module__ != "builtins":

        def copy_plain(v: Any) -> Any:
            new = object.__new__(t)
            new.__dict__.update(_copy_dict(v.__dict__))
            return new

        return copy_plain
    return copy.deepcopy


def _identity(v: Any) -> Any:
    return v


def copy_replica(replica: Any) -> Any:
    """Return an independent copy of a replica: its own ``clone()`` when it has one (the
    consensus package's hand-written copy, several times faster), else `clone`."""
    own = getattr(replica, "clone", None)
    return clone(replica) if own is None else own()
