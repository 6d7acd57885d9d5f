"""Tools around a failure: find it, keep it, reproduce it, make it small, draw it.

- `sweep`: many seeds (local processes or Dask), failures grouped by signature;
- `artifact`: the artifact folder of a simulator failure (seed, options, choices, fingerprint);
- `shrink`: minimise a failing choice list while the same property still fails;
- `report`, `htmlreport`: one self-contained HTML page per failure;
- `explore_artifact`, `explore_replay`, `report_explore`: the same for an explorer trace,
  replayed through the simulator's host loop and drawn as a message-sequence chart.

Imports the simulator and the explorer, never the CLI.
"""
