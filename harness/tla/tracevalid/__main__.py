"""``python -m harness.tracevalid FILE [--tlc]``: validate an NDJSON trace (see the package doc)."""

from harness.tla.tracevalid.cli import main

raise SystemExit(main())
