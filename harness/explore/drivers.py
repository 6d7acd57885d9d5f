"""Where the partitions of a parallel search run: worker processes or Dask actors.

`ProcessDriver` starts one ``spawn`` process per partition (a fresh interpreter: no state
inherited by fork), each serving one `harness.explore.partition.Partition` over a pipe;
workers ignore SIGINT, so Ctrl-C reaches the coordinator alone, which then stops them.
`DaskDriver` creates one partition per worker of a Dask scheduler as an actor. Both give
the coordinator (`harness.explore.levels.LevelSearch`) the same two calls and are always
closed by the caller (`close` joins or terminates what they started).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness.explore.bounds import Bounds, BoundsError
from harness.explore.levels import ExploreWorkerError
from harness.explore.partition import Partition

MAX_JOBS = 64
"""More partitions than this is a usage error (each is a process)."""
JOIN_TIMEOUT_S = 5.0
"""How long `ProcessDriver.close` waits for a worker before terminating it."""
CONNECT_TIMEOUT_S = 10.0
"""How long to wait for a Dask scheduler before the search is a usage error."""

_PAXLAB_ROOT = str(Path(__file__).resolve().parents[2])
_PAXLAB_PACKAGES: tuple[str, ...] = ("consensus", "storage", "harness")


def parse_executor(text: str) -> str:
    """The scheduler address ``tcp://HOST:PORT`` of ``dask://HOST:PORT``.

    Raises BoundsError for anything else."""
    prefix = "dask://"
    if text.startswith(prefix):
        host, sep, port = text[len(prefix):].rpartition(":")
        if sep and host and port.isdigit():
            return f"tcp://{host}:{port}"
    raise BoundsError(f"unknown executor {text!r}; use dask://HOST:PORT")


def _serve(conn: Connection, bounds: Bounds, index: int, parts: int) -> None:
    """A worker process: one partition, one call at a time, until None or a closed pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("consensus").setLevel(logging.CRITICAL)
    part = Partition(bounds, index, parts)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        method, args = request
        try:
            conn.send(("ok", getattr(part, method)(*args)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class ProcessDriver:
    """``jobs`` partitions in ``spawn`` worker processes (bounded, always joined)."""

    def __init__(self, bounds: Bounds, jobs: int) -> None:
        if not 1 <= jobs <= MAX_JOBS:
            raise BoundsError(f"jobs must be in 1..{MAX_JOBS}, got jobs={jobs}")
        ctx = multiprocessing.get_context("spawn")
        self.parts = jobs
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        try:
            for k in range(jobs):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(theirs, bounds, k, jobs),
                                   name=f"paxlab-explore-{k}", daemon=True)
                proc.start()
                theirs.close()
                self._conns.append(ours)
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise

    def _recv(self, k: int) -> Any:
        try:
            status, value = self._conns[k].recv()
        except EOFError:
            raise ExploreWorkerError(f"explore worker {k} died "
                                     f"(exit code {self._procs[k].exitcode})") from None
        if status != "ok":
            raise ExploreWorkerError(f"explore worker {k} failed:\n{value}")
        return value

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        for conn, a in zip(self._conns, args, strict=True):
            conn.send((method, a))
        return [self._recv(k) for k in range(self.parts)]

    def call_one(self, part: int, method: str, args: tuple[Any, ...]) -> Any:
        self._conns[part].send((method, args))
        return self._recv(part)

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(JOIN_TIMEOUT_S)
            if proc.is_alive():
                proc.terminate()
                proc.join(JOIN_TIMEOUT_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []


def _use_paxlab_packages() -> None:
    """In a Dask worker: put paxlab's root first on ``sys.path`` and forget namespace
    packages shadowing ours (a worker's local directory, first on its path, has a
    ``storage`` folder of its own for spilling); quiet the replicas' logs."""
    if sys.path[:1] != [_PAXLAB_ROOT]:
        sys.path.insert(0, _PAXLAB_ROOT)
    for name in _PAXLAB_PACKAGES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None) is None:
            del sys.modules[name]
    logging.getLogger("consensus").setLevel(logging.CRITICAL)


class DaskDriver:
    """One partition per worker of the Dask scheduler at ``address``, as an actor."""

    def __init__(self, bounds: Bounds, address: str,
                 timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        try:
            distributed = importlib.import_module("distributed")
        except ImportError:
            raise BoundsError(
                "the dask executor needs the dask extra: pip install -e '.[dask]'"
            ) from None
        try:
            self._client = distributed.Client(address, timeout=f"{timeout_s}s")
        except OSError as exc:
            raise BoundsError(f"cannot reach dask scheduler at address={address}: {exc}") from None
        self._actors: list[Any] = []
        try:
            self._client.run(_use_paxlab_packages)
            workers = sorted(self._client.scheduler_info()["workers"])
            if not workers:
                raise BoundsError(f"the dask cluster at address={address} has no workers")
            self.parts = len(workers)
            futures = [
                self._client.submit(Partition, bounds, k, self.parts, actor=True,
                                    workers=[w], allow_other_workers=False, pure=False)
                for k, w in enumerate(workers)
            ]
            self._actors = [f.result() for f in futures]
        except BaseException:
            self._client.close()
            raise

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        futures = [getattr(a, method)(*arg) for a, arg in zip(self._actors, args, strict=True)]
        try:
            return [f.result() for f in futures]
        except Exception as exc:
            raise ExploreWorkerError(f"a dask partition failed: {exc!r}") from exc

    def call_one(self, part: int, method: str, args: tuple[Any, ...]) -> Any:
        try:
            return getattr(self._actors[part], method)(*args).result()
        except Exception as exc:
            raise ExploreWorkerError(f"a dask partition failed: {exc!r}") from exc

    def close(self) -> None:
        try:
            if self._actors:
                for f in [a.close() for a in self._actors]:
                    f.result()
        finally:
            self._actors = []
            self._client.close()
