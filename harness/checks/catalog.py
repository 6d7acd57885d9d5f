"""The built-in models by name, and building one with the options a history needs."""

from __future__ import annotations

from typing import Any

from harness.checks.lock_set_models import MutexModel, SetModel
from harness.checks.models import KVModel, Model, RegisterModel
from harness.checks.multiregister import MultiRegisterModel

MODELS: dict[str, type[Model]] = {
    "register": RegisterModel,
    "kv": KVModel,
    "mutex": MutexModel,
    "set": SetModel,
    "multi-register": MultiRegisterModel,
}


def get_model(name: str, **options: Any) -> Model:
    """Return a fresh built-in model by name, built with ``options`` (``initial``,
    ``nil_read``; see `harness.checks.models`). Options left at None are not passed.

    Raises ValueError for an unknown name, an option the model does not take, or a bad
    option value.
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown model; choose from {', '.join(MODELS)}, got model={name!r}"
        ) from None
    given = {k: v for k, v in options.items() if v is not None}
    for option in given:
        if option not in cls.options:
            takes = ", ".join(cls.options) or "no options"
            raise ValueError(f"model {name} does not take {option} (it takes {takes})")
    return cls(**given)
