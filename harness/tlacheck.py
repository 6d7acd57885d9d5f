"""Deprecated name of `harness.tla.tlc`: ``python -m harness.tlacheck`` keeps working."""

from harness.tla.tlc import main as main

if __name__ == "__main__":
    raise SystemExit(main())
