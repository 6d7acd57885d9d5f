"""The nemesis's fault proxy, in process: each fault does what it says to the byte stream."""

from __future__ import annotations

import random

import trio

from harness.net.proxy import FaultProxy


async def _sink(port_box: list[int], received: list[bytes], task_status: trio.TaskStatus[None]
                = trio.TASK_STATUS_IGNORED) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port_box.append(listeners[0].socket.getsockname()[1])

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            while data := await stream.receive_some(65536):
                received.append(data)

    task_status.started()
    await trio.serve_listeners(handle, listeners)


async def _send_through(proxy_port: int, data: bytes) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", proxy_port)
    async with stream:
        try:
            await stream.send_all(data)
            await trio.sleep(0.1)
        except trio.BrokenResourceError:
            pass


async def _run_case(configure: object, data: bytes) -> bytes:
    received: list[bytes] = []
    box: list[int] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(_sink, box, received)
        proxy = FaultProxy(0, 1, box[0], random.Random(1))
        port = await nursery.start(proxy.run)
        configure(proxy)  # type: ignore[operator]
        with trio.fail_after(5):
            await _send_through(port, data)
            await trio.sleep(0.2)
        nursery.cancel_scope.cancel()
    return b"".join(received)


DATA = bytes(range(256)) * 4


async def test_a_healthy_link_forwards_every_byte() -> None:
    assert await _run_case(lambda p: None, DATA) == DATA


async def test_blocked_and_partitioned_links_forward_nothing() -> None:
    def one_way(p: FaultProxy) -> None:
        p.forward.blocked = True

    assert await _run_case(one_way, DATA) == b""
    assert await _run_case(lambda p: p.partition(), DATA) == b""


async def test_corrupt_truncate_duplicate_and_delay_change_the_stream_as_said() -> None:
    def corrupt(p: FaultProxy) -> None:
        p.forward.corrupt = 1.0

    got = await _run_case(corrupt, DATA)
    assert len(got) == len(DATA) and got != DATA

    def truncate(p: FaultProxy) -> None:
        p.forward.truncate = True

    got = await _run_case(truncate, DATA)
    assert 0 < len(got) < len(DATA) and DATA.startswith(got)

    def duplicate(p: FaultProxy) -> None:
        p.forward.duplicate = 1.0

    got = await _run_case(duplicate, DATA)
    assert len(got) == 2 * len(DATA)  # every chunk twice (one chunk on loopback: DATA twice)

    def delay(p: FaultProxy) -> None:
        p.forward.delay_s = 0.05

    assert await _run_case(delay, DATA) == DATA
