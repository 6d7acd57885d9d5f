"""The client's verdicts against scripted fake nodes: ok, fail only when the operation surely
did not happen, info when it may have; redirects follow the leader hint; retries keep the
request id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from harness.net.client import Client
from harness.net.codec import ClientReply, ClientRequest, decode_request, encode_reply
from harness.net.config import ClusterConfig, parse_config
from harness.net.frame import HELLO, REPLY, REQUEST, ROLE_PEER, Hello
from harness.net.stream import FramedStream

Answer = Callable[[int, ClientRequest], ClientReply | None]
"""(node, request) -> the reply, or None: swallow the request (never answer)."""


async def _fake_node(node: int, answer: Answer, seen: list[tuple[int, ClientRequest]],
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")

    async def handle(stream: trio.SocketStream) -> None:
        fs = FramedStream(stream)
        async with stream:
            first = await fs.receive()
            assert first is not None and first[0] == HELLO
            await fs.send(HELLO, Hello(cluster_id="c", role=ROLE_PEER, node_id=node).encode())
            while (frame := await fs.receive()) is not None:
                assert frame[0] == REQUEST
                req = decode_request(frame[1])
                seen.append((node, req))
                reply = answer(node, req)
                if reply is not None:
                    await fs.send(REPLY, encode_reply(reply))

    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handle, listeners)


async def _with_nodes(answer: Answer, body: Callable[[Client], object], n: int = 3
                      ) -> list[tuple[int, ClientRequest]]:
    seen: list[tuple[int, ClientRequest]] = []
    async with trio.open_nursery() as nursery:
        ports = [await nursery.start(_fake_node, i, answer, seen) for i in range(n)]
        config = _config(ports)
        client = Client(config, attempt_timeout_s=0.15, op_timeout_s=0.6, backoff_s=0.01)
        with trio.fail_after(10):
            await body(client)  # type: ignore[misc]
        await client.aclose()
        nursery.cancel_scope.cancel()
    return seen


def _config(ports: list[int]) -> ClusterConfig:
    data = {"cluster": {"id": "c"}, "node": [
        {"id": i, "host": "127.0.0.1", "port": p, "data_dir": f"n{i}"}
        for i, p in enumerate(ports)
    ]}
    return parse_config(Path("/nonexistent/cluster.toml"), data)


def _ok(value: bytes | None = None, applied: bool = True) -> Answer:
    return lambda node, req: ClientReply(client_id=req.client_id, request_id=req.request_id,
                                         status="ok", value=value, applied=applied)


async def test_redirect_to_the_hinted_leader_then_ok_with_the_same_request_id() -> None:
    def answer(node: int, req: ClientRequest) -> ClientReply:
        if node != 2:
            return ClientReply(client_id=req.client_id, request_id=req.request_id,
                               status="error", error="not-leader", leader_hint=2)
        return _ok()(node, req)  # type: ignore[return-value]

    results = []

    async def body(c: Client) -> None:
        results.append(await c.put(b"k", b"v"))

    seen = await _with_nodes(answer, body)
    assert results[0].type == "ok"
    assert [node for node, _ in seen] == [0, 2]
    assert len({req.request_id for _, req in seen}) == 1


async def test_a_write_nobody_answers_is_info_and_a_read_is_fail() -> None:
    results = []

    async def body(c: Client) -> None:
        results.append(await c.put(b"k", b"v"))
        results.append(await c.get(b"k"))

    seen = await _with_nodes(lambda node, req: None, body)
    assert [r.type for r in results] == ["info", "fail"]
    writes = [req for _, req in seen if req.write]
    assert len(writes) >= 2 and len({r.request_id for r in writes}) == 1  # retries, same id


async def test_refusals_without_indeterminate_are_fail_and_with_it_info() -> None:
    def refuse(indeterminate: bool) -> Answer:
        return lambda node, req: ClientReply(
            client_id=req.client_id, request_id=req.request_id, status="error",
            error="not-leader", indeterminate=indeterminate,
        )

    for indeterminate, want in ((False, "fail"), (True, "info")):
        results = []

        async def body(c: Client) -> None:
            results.append(await c.put(b"k", b"v"))  # noqa: B023

        await _with_nodes(refuse(indeterminate), body)
        assert results[0].type == want, indeterminate


async def test_a_cas_that_does_not_match_is_fail_with_the_current_value() -> None:
    results = []

    async def body(c: Client) -> None:
        results.append(await c.cas(b"k", b"old", b"new"))

    await _with_nodes(_ok(value=b"other", applied=False), body)
    assert results[0].type == "fail" and results[0].error == "cas-mismatch"
    assert results[0].value == b"other"
