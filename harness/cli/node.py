"""``paxlab node --config CLUSTER.toml --id N``: run one node of a real cluster in this process.

The node serves its configured port until SIGTERM or SIGINT, then steps down (a leader
releases its lease) and exits 0. A bad config, a data directory that is missing or belongs to
another cluster or node, or a port in use: one line on stderr, exit 2, nothing written. A
storage error fail-stops the node: exit 1 (the data directory is left for recovery).

``--peer-addr J=HOST:PORT`` (repeatable) dials peer J at another address than the config's;
the load nemesis puts its fault proxies there.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import trio

from harness.cli import EXIT_OK, EXIT_USAGE
from harness.net.config import ConfigError, check_data_dir, load_config
from harness.net.node import NodeServer
from storage.errors import StorageError

EXIT_FAILSTOP = 1
_PROG = "paxlab node"


def _peer_addr(text: str) -> tuple[int, tuple[str, int]]:
    try:
        node, addr = text.split("=", 1)
        host, port = addr.rsplit(":", 1)
        return int(node), (host, int(port))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be ID=HOST:PORT, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "node", help="run one node of a real cluster (TCP, real disk and clock)",
        description="Run node --id of the cluster in --config until SIGTERM.",
    )
    parser.add_argument("--config", required=True, help="the cluster's TOML file")
    parser.add_argument("--id", type=int, required=True, dest="node_id", help="this node's id")
    parser.add_argument("--peer-addr", type=_peer_addr, action="append", default=[],
                        metavar="ID=HOST:PORT", help="dial peer ID at this address instead")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING"))
    parser.set_defaults(func=run_node)


async def _serve(server: NodeServer) -> str | None:
    """Run the node; returns an error line if its port cannot be bound."""
    try:
        listeners = await server.bind()
    except OSError as exc:
        spec = server.spec
        return (f"node {spec.id}: cannot listen on {spec.host}:{spec.port}: "
                f"{exc.strerror or exc}")
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    server.request_stop()
                    return

        nursery.start_soon(on_signal)
        await server.run(listeners)
        nursery.cancel_scope.cancel()
    return None


def run_node(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        config.node(args.node_id)
        check_data_dir(config, args.node_id)
        for peer, _ in args.peer_addr:
            if peer == args.node_id or peer not in config.ids:
                raise ConfigError(f"--peer-addr: {peer} is not a peer of node {args.node_id}")
    except ConfigError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = NodeServer(config, args.node_id, dict(args.peer_addr))
    try:
        error = trio.run(_serve, server)
    except BaseExceptionGroup as group:
        storage = group.subgroup(StorageError)
        if storage is None:
            raise
        logging.getLogger(__name__).error(
            "n%d fail-stop on storage error: %s", args.node_id, storage.exceptions[0]
        )
        return EXIT_FAILSTOP
    except StorageError as exc:
        logging.getLogger(__name__).error("n%d fail-stop on storage error: %s", args.node_id, exc)
        return EXIT_FAILSTOP
    if error is not None:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def standalone(argv: list[str] | None = None) -> int:
    """``python -m harness.cli.node --config ... --id N``: the same command without importing
    every other subcommand (node processes start faster; `harness.net.procs` uses it)."""
    from harness.cli import _Parser

    parser: argparse.ArgumentParser = _Parser(prog="paxlab")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["node", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(standalone())
