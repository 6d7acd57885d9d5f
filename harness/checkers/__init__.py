"""History checkers: linearizability (S8) against sequential models, synthetic histories.

Modules: `linearizability` (the checker and its result), `models` (`Model`, ``register``,
``kv``), `synth` (generated histories and fault injectors for tests and benchmarks).
"""

from harness.checkers.linearizability import (
    LinearizabilityResult as LinearizabilityResult,
)
from harness.checkers.linearizability import (
    check_linearizability as check_linearizability,
)
from harness.checkers.models import KVModel as KVModel
from harness.checkers.models import Model as Model
from harness.checkers.models import RegisterModel as RegisterModel
from harness.checkers.models import get_model as get_model
