"""``python -m harness`` is the same as ``paxlab``."""

import sys

from harness.cli import main

sys.exit(main())
