"""Helpers of the channel adapters' tests: they run against real servers on loopback (the
provider stand-in of forbear.sim.provider, an aiosmtpd SMTP server), no database."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from forbear.channels.base import ChannelFailure, OutgoingMessage
from forbear.sim.provider import Faults, StandIn, StandInConfig

SMS_SECRET = "sms-secret-for-tests"
HOOK_SECRET = "hook-secret-for-tests"

StandInFactory = Callable[..., StandIn]


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandInFactory]:
    """Start stand-ins (``standin(faults=Faults(...), rate=..., log=...)``), all stopped at
    the end; by default they share one accept log under tmp_path."""
    started: list[StandIn] = []

    def start(
        *, faults: Faults | None = None, log: Path | None = None, **config: object
    ) -> StandIn:
        server = StandIn(
            StandInConfig(
                log_path=log or tmp_path / "accept.log",
                access_key_secret=SMS_SECRET,
                webhook_secret=HOOK_SECRET,
                faults=faults or Faults(),
                **config,  # type: ignore[arg-type]
            )
        ).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def clean_of(failure: ChannelFailure, message: OutgoingMessage) -> None:
    """The failure, its text and its whole printed traceback name neither the address nor
    the body nor a template parameter."""
    printed = "".join(traceback.format_exception(failure)) + str(failure) + repr(failure)
    secrets = [message.to, message.body, *message.params.values()]
    if message.subject:
        secrets.append(message.subject)
    for secret in (s for s in secrets if s.strip()):
        assert secret not in printed, f"{secret!r} leaked into {printed!r}"


class _Fixed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _FixedServer

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append((dict(self.headers.items()), self.rfile.read(length)))
        body = json.dumps(self.server.answer_body).encode()
        self.send_response(self.server.answer_status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _FixedServer(ThreadingHTTPServer):
    daemon_threads = True
    answer_status: int
    answer_body: dict[str, object]
    seen: list[tuple[dict[str, str], bytes]]


@contextmanager
def answering(status: int, body: dict[str, object]) -> Iterator[_FixedServer]:
    """A loopback server answering every POST with ``status`` and ``body``; it keeps what
    it was sent in ``.seen`` (headers, body)."""
    server = _FixedServer(("127.0.0.1", 0), _Fixed)
    server.answer_status, server.answer_body, server.seen = status, body, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
