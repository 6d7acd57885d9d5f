"""Deprecated name of `harness.testing.pytest_plugin` (for ``-p harness.pytest_plugin``).

Installing paxlab registers the plugin under the entry point ``paxlab``; nothing needs this.
"""

from harness.testing.pytest_plugin import paxlab_cluster as paxlab_cluster
from harness.testing.pytest_plugin import paxlab_run as paxlab_run
from harness.testing.pytest_plugin import paxlab_schedule as paxlab_schedule
from harness.testing.pytest_plugin import pytest_addoption as pytest_addoption
from harness.testing.pytest_plugin import pytest_runtest_setup as pytest_runtest_setup
