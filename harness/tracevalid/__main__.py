"""``python -m harness.tracevalid FILE [--tlc]``: see `harness.tla.tracevalid`."""

from harness.tla.tracevalid.cli import main

raise SystemExit(main())
