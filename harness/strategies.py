"""``harness.strategies``: the hypothesis strategies, under the name the docs have always used.

The code lives in `harness.testing.strategies`; this name stays public and supported.
"""

from harness.testing.strategies import choice_lists as choice_lists
from harness.testing.strategies import fault_sets as fault_sets
from harness.testing.strategies import run_options as run_options
from harness.testing.strategies import schedules as schedules
from harness.testing.strategies import workloads as workloads
