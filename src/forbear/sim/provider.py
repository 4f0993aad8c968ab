"""A provider stand-in on loopback: an SMS gateway in the Aliyun Dysms shape and a signed
JSON webhook receiver (generic, app push, AI voice), for the channel adapters' tests, the
dispatch benchmark and the kill test.

It behaves like a careful real provider:

- **signatures** are checked (Aliyun RPC signature 1.0 for SMS; ``X-Forbear-Signature``
  over ``<timestamp>.<body>`` with a 5-minute window for webhooks), and refused otherwise;
- **idempotency**: each accepted message's key (the SMS ``OutId``, the webhook's
  ``X-Idempotency-Key``) is appended to an **accept log** (one JSON line per key, fsync'd
  before the answer, with group commit so fsync does not cap the throughput). A key seen
  before is acknowledged with its first reference and not logged again; a repeat whose
  content differs from the first is counted as a *conflict*. The log is read back at start,
  so a restarted stand-in still knows its keys;
- **throughput limit** (``rate``, messages per second, a token bucket of one second): past
  it the answer is throttling (``Throttling.User`` / HTTP 429 with ``Retry-After``): the
  reference figure of the dispatch benchmark;
- **faults**, each a fraction of requests: ``throttle`` (``isv.BUSINESS_LIMIT_CONTROL`` /
  429), ``server_error`` (``isp.SYSTEM_ERROR`` / 500), ``hang`` (no answer for
  ``hang_seconds``, nothing taken), ``lost_ack`` (taken and logged, then no answer: the case
  idempotency keys exist for); ``invalid`` is a fraction of *numbers* (chosen by a hash of
  the number, so a retry meets the same answer): ``isv.MOBILE_NUMBER_ILLEGAL`` / 422
  ``invalid_address``. A number that is no mainland mobile number is always invalid.

Paths: ``POST /`` or ``/sms`` (form-encoded ``SendSms``), ``POST /hooks/<name>`` (JSON
webhook), ``GET /stats`` (counters as JSON).

Run it for the benchmark with ``python -m forbear.sim.provider --port 8090 --log
accept.log --rate 5000``; it prints one JSON line ``{"url": ...}`` when it listens and its
counters when it stops (SIGTERM or Ctrl-C).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from forbear.domain.signatures import SignatureRefused, verify

DEFAULT_KEY_ID = "forbear-standin"
_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTERNATIONAL = re.compile(r"^00\d{6,18}$")


@dataclass(frozen=True)
class Faults:
    """Fractions (0..1) of requests answered with each fault; see the module docstring."""

    throttle: float = 0.0
    server_error: float = 0.0
    hang: float = 0.0
    lost_ack: float = 0.0
    invalid: float = 0.0
    hang_seconds: float = 30.0
    throttle_retry_after: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("throttle", "server_error", "hang", "lost_ack", "invalid"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault fraction {name} must lie in 0..1, not {value}")
        if self.throttle + self.server_error + self.hang + self.lost_ack > 1.0:
            raise ValueError("the request faults add up to more than 1")


@dataclass(frozen=True)
class StandInConfig:
    log_path: Path
    host: str = "127.0.0.1"
    port: int = 0
    access_key_id: str = DEFAULT_KEY_ID
    access_key_secret: str = "standin-sms-secret"
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)  # hook name -> secret
    webhook_secret: str = "standin-webhook-secret"  # for hooks not named above
    rate: float | None = None  # messages per second; None: no limit
    templates: frozenset[str] | None = None  # provider template ids known; None: any
    faults: Faults = field(default_factory=Faults)


@dataclass(frozen=True)
class Entry:
    key: str
    kind: str
    ref: str
    digest: str
    generation: int


class AcceptLog:
    """The append-only log of accepted keys, fsync'd in groups before answers go out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Entry] = {}
        for line in read_log_lines(path):
            self._entries[line["key"]] = Entry(
                line["key"], line["kind"], line["ref"], line["digest"], 0
            )
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[str] = []
        self._generation = 0  # of the lines pending
        self._durable = 0  # the last generation fsync'd
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        if self._file.tell() > 0:
            with open(path, "rb") as tail:
                tail.seek(-1, os.SEEK_END)
                if tail.read(1) != b"\n":  # a line cut short by a crash: end it
                    self._file.write("\n")
                    self._file.flush()
        self._writer = threading.Thread(target=self._write_loop, name="accept-log", daemon=True)
        self._writer.start()

    def take(self, key: str, kind: str, digest: str) -> tuple[Entry, bool]:
        """The key's entry and whether it is new; returns once the entry is durable."""
        with self._wake:
            entry = self._entries.get(key)
            new = entry is None
            if entry is None:
                generation = self._generation + 1
                entry = Entry(key, kind, f"{kind}-{uuid.uuid4().hex[:16]}", digest, generation)
                self._entries[key] = entry
                line = {"key": key, "kind": kind, "ref": entry.ref, "digest": digest}
                line["at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
                self._pending.append(json.dumps(line, ensure_ascii=False))
                self._wake.notify_all()
            while self._durable < entry.generation and not self._closed:
                self._wake.wait()
            return entry, new

    def _write_loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending and self._closed:
                    return
                lines, self._pending = self._pending, []
                self._generation += 1
                generation = self._generation
            self._file.write("".join(f"{line}\n" for line in lines))
            self._file.flush()
            os.fsync(self._file.fileno())
            with self._wake:
                self._durable = generation
                self._wake.notify_all()

    def keys(self) -> set[str]:
        with self._lock:
            return set(self._entries)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._writer.join(timeout=10)
        self._file.close()


def read_log_lines(path: Path) -> Iterator[dict[str, str]]:
    """The accept log's lines (a line cut short by a crash at its end is skipped)."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            try:
                yield json.loads(raw)
            except ValueError:
                continue


def accepted_keys(path: Path) -> list[str]:
    """Every key in the accept log, in order, repeats included (there should be none)."""
    return [line["key"] for line in read_log_lines(path)]


class _Bucket:
    """A token bucket of ``rate`` tokens per second holding at most one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _percent(value: str) -> str:
    if _UNRESERVED.fullmatch(value):
        return value
    return quote(value, safe="-_.~")


def _rpc_signature(secret: str, params: Mapping[str, str]) -> str:
    query = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in sorted(params.items()))
    # the query holds only unreserved characters, %XX, "&" and "=" (see forbear.channels.sms)
    text = "POST&%2F&" + query.replace("%", "%25").replace("&", "%26").replace("=", "%3D")
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class StandIn:
    """The stand-in server on a thread of its own: ``start()``, ``url``, ``stop()``."""

    def __init__(self, config: StandInConfig) -> None:
        self.config = config
        self.log = AcceptLog(config.log_path)
        self._random = random.Random(config.faults.seed)
        self._random_lock = threading.Lock()
        self._bucket = _Bucket(config.rate) if config.rate else None
        self._stopping = threading.Event()
        self._counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        self._server = _Server((config.host, config.port), _Handler)
        self._server.standin = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self._server.server_port}"

    def start(self) -> StandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="provider-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self.log.close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] = self._counts.get(name, 0) + 1

    def stats(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self._counts)

    def draw(self) -> str | None:
        """The fault this request meets, if any (one draw per request)."""
        faults = self.config.faults
        with self._random_lock:
            roll = self._random.random()
        for name in ("throttle", "server_error", "hang", "lost_ack"):
            share = getattr(faults, name)
            if roll < share:
                return name
            roll -= share
        return None

    def over_rate(self) -> bool:
        return self._bucket is not None and not self._bucket.take()

    def number_invalid(self, number: str) -> bool:
        if not (_MAINLAND_MOBILE.match(number) or _INTERNATIONAL.match(number)):
            return True
        share = self.config.faults.invalid
        if share <= 0:
            return False
        bucket = int.from_bytes(hashlib.sha256(number.encode()).digest()[:4], "big")
        return bucket / 2**32 < share

    def wait_hanging(self) -> None:
        self._stopping.wait(self.config.faults.hang_seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    standin: StandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a killed worker, a timeout) is counted, not printed.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            self.standin.count("client_gone")
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An answer goes out in one write with TCP_NODELAY: headers and body written apart
    # met the client's delayed ACK (Nagle), about 40 ms per request on one connection.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None  # requests carry personal data; the counters say what happened

    # --- answers

    def _json(
        self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] = {}
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        # end_headers() would write the headers on their own; one write with the body
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        self.flush_headers()

    def _hang(self) -> None:
        self.server.standin.wait_hanging()
        self.close_connection = True

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path == "/stats":
            standin = self.server.standin
            self._json(200, {**standin.stats(), "accepted_keys": len(standin.log.keys())})
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        body = self._body()
        standin = self.server.standin
        standin.count("requests")
        if self.path in ("/", "/sms"):
            self._sms(standin, body)
        elif self.path.startswith("/hooks/") and len(self.path) > len("/hooks/"):
            self._hook(standin, self.path[len("/hooks/") :], body)
        else:
            self._json(404, {"error": "not_found"})

    # --- the SMS gateway (Aliyun Dysms SendSms)

    def _sms_answer(self, status: int, code: str, headers: Mapping[str, str] = {}) -> None:
        self._json(status, {"Code": code, "Message": code, "RequestId": uuid.uuid4().hex}, headers)

    def _sms(self, standin: StandIn, body: bytes) -> None:
        config = standin.config
        fault = standin.draw()
        if fault == "hang":
            standin.count("hang")
            return self._hang()
        if standin.over_rate():
            standin.count("rate_limited")
            return self._sms_answer(400, "Throttling.User", {"Retry-After": "1"})
        if fault == "server_error":
            standin.count("server_error")
            return self._sms_answer(500, "isp.SYSTEM_ERROR")
        if fault == "throttle":
            standin.count("throttle")
            retry = f"{config.faults.throttle_retry_after:g}"
            return self._sms_answer(200, "isv.BUSINESS_LIMIT_CONTROL", {"Retry-After": retry})
        params = dict(parse_qsl(body.decode("ascii", "replace"), keep_blank_values=True))
        signature = params.pop("Signature", "")
        if params.get("AccessKeyId") != config.access_key_id:
            standin.count("bad_signature")
            return self._sms_answer(404, "InvalidAccessKeyId.NotFound")
        expected = _rpc_signature(config.access_key_secret, params)
        if not hmac.compare_digest(expected, signature):
            standin.count("bad_signature")
            return self._sms_answer(400, "SignatureDoesNotMatch")
        missing = [
            k for k in ("PhoneNumbers", "SignName", "TemplateCode", "OutId") if not params.get(k)
        ]
        if params.get("Action") != "SendSms" or missing:
            standin.count("bad_request")
            return self._sms_answer(400, "isv.INVALID_PARAMETERS")
        try:
            template_params = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            template_params = None
        if not isinstance(template_params, dict):
            standin.count("bad_request")
            return self._sms_answer(200, "isv.INVALID_JSON_PARAM")
        if config.templates is not None and params["TemplateCode"] not in config.templates:
            standin.count("template_refused")
            return self._sms_answer(200, "isv.SMS_TEMPLATE_ILLEGAL")
        if standin.number_invalid(params["PhoneNumbers"]):
            standin.count("invalid")
            return self._sms_answer(200, "isv.MOBILE_NUMBER_ILLEGAL")
        content = "\x1f".join(
            params.get(k, "") for k in ("PhoneNumbers", "SignName", "TemplateCode", "TemplateParam")
        )
        entry = self._take(standin, params["OutId"], "sms", content.encode())
        if fault == "lost_ack":
            standin.count("lost_ack")
            return self._hang()
        payload = {"Code": "OK", "Message": "OK", "BizId": entry.ref, "RequestId": uuid.uuid4().hex}
        self._json(200, payload)

    def _take(self, standin: StandIn, key: str, kind: str, content: bytes) -> Entry:
        digest = hashlib.sha256(content).hexdigest()
        entry, new = standin.log.take(key, kind, digest)
        if new:
            standin.count("accepted")
        else:
            standin.count("duplicates")
            if entry.digest != digest:
                standin.count("conflicts")
        return entry

    # --- signed JSON webhooks

    def _hook(self, standin: StandIn, name: str, body: bytes) -> None:
        config = standin.config
        fault = standin.draw()
        if fault == "hang":
            standin.count("hang")
            return self._hang()
        if standin.over_rate():
            standin.count("rate_limited")
            return self._json(429, {"error": "rate_limited"}, {"Retry-After": "1"})
        if fault == "server_error":
            standin.count("server_error")
            return self._json(500, {"error": "server_error"})
        if fault == "throttle":
            standin.count("throttle")
            retry = f"{config.faults.throttle_retry_after:g}"
            return self._json(429, {"error": "throttled"}, {"Retry-After": retry})
        secret = config.webhook_secrets.get(name, config.webhook_secret)
        try:
            verify(
                secret.encode(),
                timestamp=self.headers.get("X-Forbear-Timestamp"),
                signature=self.headers.get("X-Forbear-Signature"),
                body=body,
                now=datetime.now(UTC),
            )
        except SignatureRefused as exc:
            standin.count("bad_signature")
            return self._json(401, {"error": f"signature_{exc.reason}"})
        key = self.headers.get("X-Idempotency-Key")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not key or not isinstance(payload, dict):
            standin.count("bad_request")
            return self._json(400, {"error": "bad_request"})
        address = payload.get("to") or payload.get("phone") or payload.get("user_id")
        phone_like = isinstance(address, str) and address.lstrip("+").isdigit()
        if (
            not isinstance(address, str)
            or not address
            or (phone_like and standin.number_invalid(address.removeprefix("+86")))
        ):
            standin.count("invalid")
            return self._json(422, {"error": "invalid_address"})
        entry = self._take(standin, key, name, body)
        if fault == "lost_ack":
            standin.count("lost_ack")
            return self._hang()
        self._json(200, {"provider_ref": entry.ref})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m forbear.sim.provider", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True, help="the accept log (JSON lines)")
    parser.add_argument("--rate", type=float, default=None, help="messages per second")
    parser.add_argument("--access-key-id", default=DEFAULT_KEY_ID)
    for name in ("throttle", "server-error", "hang", "lost-ack", "invalid"):
        parser.add_argument(f"--{name}", type=float, default=0.0, help="fraction 0..1")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    # Secrets from the environment, not the command line (visible to every user in ps).
    config = StandInConfig(
        log_path=args.log,
        host=args.host,
        port=args.port,
        access_key_id=args.access_key_id,
        access_key_secret=os.environ.get("STANDIN_SMS_SECRET", "standin-sms-secret"),
        webhook_secret=os.environ.get("STANDIN_WEBHOOK_SECRET", "standin-webhook-secret"),
        rate=args.rate,
        faults=Faults(
            throttle=args.throttle,
            server_error=args.server_error,
            hang=args.hang,
            lost_ack=args.lost_ack,
            invalid=args.invalid,
            hang_seconds=args.hang_seconds,
            seed=args.seed,
        ),
    )
    standin = StandIn(config).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(json.dumps({"url": standin.url}), flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    stats = standin.stats()
    standin.stop()
    print(json.dumps({"stats": stats}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
