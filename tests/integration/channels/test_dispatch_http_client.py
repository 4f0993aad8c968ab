"""The adapters' HTTP client (``forbear.channels.providers.HttpClient``) against small
servers on loopback: keep-alive connections reused from send to send, a connection the
server closed while idle replaced without the send failing, an answer that says
``Connection: close`` not reused, and an unreachable or silent server transient."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from forbear.channels.base import TransientFailure
from forbear.channels.providers import HttpClient, post


@contextmanager
def serve(
    *, answers_per_connection: int | None, close_header: bool = False
) -> Iterator[dict[str, int]]:
    """A server answering every POST with 200 and a small JSON body; after
    ``answers_per_connection`` answers it closes the connection (without saying so unless
    ``close_header``). Yields counters: connections accepted, requests answered."""
    counts = {"connections": 0, "requests": 0, "port": 0}
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    counts["port"] = listener.getsockname()[1]
    stop = threading.Event()

    def one(conn: socket.socket) -> None:
        answered = 0
        buffer = b""
        with conn:
            while not stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                body = b'{"ok": true}'
                extra = b"Connection: close\r\n" if close_header else b""
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + extra
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                counts["requests"] += 1
                answered += 1
                if answers_per_connection is not None and answered >= answers_per_connection:
                    return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            counts["connections"] += 1
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _send(client: HttpClient, port: int) -> int:
    answer = post(client, f"http://127.0.0.1:{port}/send", content=b"a=1", headers={"X-Test": "1"})
    assert answer.json() == {"ok": True}
    return answer.status_code


def test_one_connection_carries_sends_one_after_another() -> None:
    with serve(answers_per_connection=None) as counts:
        client = HttpClient(5.0)
        assert [_send(client, counts["port"]) for _ in range(20)] == [200] * 20
        client.close()
    assert counts["requests"] == 20
    assert counts["connections"] == 1


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    with serve(answers_per_connection=1) as counts:
        client = HttpClient(5.0)
        for _ in range(5):
            assert _send(client, counts["port"]) == 200
        client.close()
    assert counts["requests"] == 5
    assert counts["connections"] == 5


def test_an_answer_saying_connection_close_is_not_reused() -> None:
    with serve(answers_per_connection=None, close_header=True) as counts:
        client = HttpClient(5.0)
        for _ in range(3):
            assert _send(client, counts["port"]) == 200
        client.close()
    assert counts["connections"] == 3


def test_an_unreachable_server_is_transient() -> None:
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens there now
    with pytest.raises(TransientFailure) as refused:
        _send(HttpClient(2.0), port)
    assert refused.value.code == "connection"


def test_a_server_that_never_answers_is_a_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)  # accepted by the kernel, never read nor answered
    try:
        with pytest.raises(TransientFailure) as silent:
            _send(HttpClient(0.5), listener.getsockname()[1])
        assert silent.value.code == "timeout"
    finally:
        listener.close()
