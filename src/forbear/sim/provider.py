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
  ``invalid_address``. A number that is no mainland mobile number is always invalid;
- **a batch action** (``Action=SendBatchSms``, up to :data:`MAX_BATCH` numbers, one
  template): the arrays of Aliyun's ``SendBatchSms`` (``PhoneNumberJson``,
  ``SignNameJson``, ``TemplateParamJson``, each number with its own parameters) and, as a
  gateway that dedups per message needs, ``OutIdJson``: one idempotency key per number.
  The answer holds a status per number (``SendStatusSet``: ``OutId``, ``Code``, ``BizId``,
  as Tencent's ``SendSms`` answers per number). The faults: ``hang``, ``server_error`` and
  ``lost_ack`` strike the whole request (one draw per request, as for a single send);
  ``throttle``, the rate limit (which counts messages, not requests) and ``invalid`` strike
  single numbers, whose status then says so while the others are accepted. Each key is
  accepted once, in the same accept log: a batch sent again after a timeout is answered
  with each key's first reference.

Paths: ``POST /`` or ``/sms`` (form-encoded ``SendSms`` or ``SendBatchSms``), ``POST
/hooks/<name>`` (JSON webhook), ``GET /stats`` (counters as JSON).

Run it for the benchmark with ``python -m forbear.sim.provider --port 8090 --log
accept.log --rate 5000``; it prints one JSON line ``{"url": ...}`` when it listens and its
counters when it stops (SIGTERM or Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from forbear.domain.signatures import SignatureRefused, verify

DEFAULT_KEY_ID = "forbear-standin"
MAX_BATCH = 100  # numbers in one SendBatchSms request (Aliyun's own limit)
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
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
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

    def _enter(self, key: str, kind: str, digest: str) -> tuple[Entry, bool]:
        """The key's entry, entered (its line pending) when new; under ``_wake``."""
        entry = self._entries.get(key)
        if entry is not None:
            return entry, False
        generation = self._generation + 1
        entry = Entry(key, kind, f"{kind}-{uuid.uuid4().hex[:16]}", digest, generation)
        self._entries[key] = entry
        line = {"key": key, "kind": kind, "ref": entry.ref, "digest": digest}
        line["at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        self._pending.append(json.dumps(line, ensure_ascii=False))
        self._wake.notify_all()
        return entry, True

    def take(self, key: str, kind: str, digest: str) -> tuple[Entry, bool]:
        """The key's entry and whether it is new; returns once the entry is durable."""
        with self._wake:
            entry, new = self._enter(key, kind, digest)
            while self._durable < entry.generation and not self._closed:
                self._wake.wait()
            return entry, new

    async def take_async(self, key: str, kind: str, digest: str) -> tuple[Entry, bool]:
        """:meth:`take` for the server's event loop: waits for the entry's group to be
        fsync'd without blocking the loop (the writer thread wakes it)."""
        with self._wake:
            entry, new = self._enter(key, kind, digest)
            if self._durable >= entry.generation or self._closed:
                return entry, new
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((entry.generation, waiter))
        await waiter
        return entry, new

    async def take_many_async(self, items: list[tuple[str, str, str]]) -> list[tuple[Entry, bool]]:
        """:meth:`take_async` for several ``(key, kind, digest)`` at once: entered together,
        answered when the last of them is durable (one wait for the batch)."""
        with self._wake:
            taken = [self._enter(key, kind, digest) for key, kind, digest in items]
            last = max((entry.generation for entry, _ in taken), default=0)
            if self._durable >= last or self._closed:
                return taken
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((last, waiter))
        await waiter
        return taken

    def _wake_waiters(self) -> None:
        """Resolve the loop's waiters whose entries are durable (under ``_wake``)."""
        still = []
        for generation, waiter in self._waiters:
            if generation <= self._durable or self._closed:
                loop = waiter.get_loop()
                if not waiter.done() and not loop.is_closed():
                    loop.call_soon_threadsafe(_resolve, waiter)
            else:
                still.append((generation, waiter))
        self._waiters = still

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
                self._wake_waiters()

    def keys(self) -> set[str]:
        with self._lock:
            return set(self._entries)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
            self._wake_waiters()
        self._writer.join(timeout=10)
        self._file.close()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


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
    """The stand-in server, an asyncio event loop on a thread of its own: ``start()``,
    ``url``, ``stop()``. One thread serves every connection (keep-alive HTTP/1.1, each
    answer written whole at once with TCP_NODELAY); the accept log's writer thread fsyncs
    and wakes the answers waiting for it. A thread per connection, as ``http.server``
    serves, spent more of the shared cores on switching threads than on the requests."""

    def __init__(self, config: StandInConfig) -> None:
        self.config = config
        self.log = AcceptLog(config.log_path)
        self._random = random.Random(config.faults.seed)
        self._random_lock = threading.Lock()
        self._bucket = _Bucket(config.rate) if config.rate else None
        self._stopping = threading.Event()
        self._counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        self._socket = socket.create_server((config.host, config.port), backlog=256)
        self._loop = asyncio.new_event_loop()
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self._socket.getsockname()[1]}"

    def start(self) -> StandIn:
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="provider-standin", daemon=True
        )
        self._thread.start()
        started.wait(10)
        return self

    def _run(self, started: threading.Event) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        self._stop_event = asyncio.Event()
        server = loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._socket, limit=1 << 20)
        )
        started.set()
        try:
            loop.run_until_complete(self._stop_event.wait())
            server.close()
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
        finally:
            loop.close()

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(timeout=30)
        else:
            self._socket.close()
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

    def draw(
        self, names: tuple[str, ...] = ("throttle", "server_error", "hang", "lost_ack")
    ) -> str | None:
        """The fault this request (or batch item) meets among ``names``, if any (one draw)."""
        faults = self.config.faults
        with self._random_lock:
            roll = self._random.random()
        for name in names:
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

    async def wait_hanging(self) -> None:
        """No answer for ``hang_seconds`` (or until the stand-in stops)."""
        await asyncio.sleep(self.config.faults.hang_seconds)

    # --- the connection: requests read one after another, answers written whole

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                request = _parse_head(head)
                if request is None:
                    writer.write(_answer(400, {"error": "bad_request"}, close=True))
                    return
                method, path, headers, keep = request
                length = headers.get("content-length", "0")
                if not length.isdigit() or int(length) > MAX_BODY:
                    writer.write(_answer(400, {"error": "bad_request"}, close=True))
                    return
                body = await reader.readexactly(int(length)) if int(length) else b""
                answer = await self._respond(method, path, headers, body)
                if answer is None:  # a hang or a lost acknowledgement: no answer, closed
                    return
                writer.write(answer)
                if not keep:
                    return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.count("client_gone")  # a killed worker, a timeout
        except asyncio.CancelledError:
            return  # stopping: a connection left hanging ends here (not logged as a fault)
        finally:
            writer.close()

    async def _respond(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> bytes | None:
        if method == "GET":
            if path == "/stats":
                return _answer(200, {**self.stats(), "accepted_keys": len(self.log.keys())})
            return _answer(404, {"error": "not_found"})
        if method != "POST":
            return _answer(501, {"error": "unsupported_method"})
        self.count("requests")
        if path in ("/", "/sms"):
            return await self._sms(body)
        if path.startswith("/hooks/") and len(path) > len("/hooks/"):
            return await self._hook(path[len("/hooks/") :], headers, body)
        return _answer(404, {"error": "not_found"})

    # --- the SMS gateway (Aliyun Dysms SendSms)

    async def _sms(self, body: bytes) -> bytes | None:
        config = self.config
        params = dict(parse_qsl(body.decode("ascii", "replace"), keep_blank_values=True))
        if params.get("Action") == "SendBatchSms":
            return await self._sms_batch(params)
        fault = self.draw()
        if fault == "hang":
            self.count("hang")
            await self.wait_hanging()
            return None
        if self.over_rate():
            self.count("rate_limited")
            return _sms_answer(400, "Throttling.User", {"Retry-After": "1"})
        if fault == "server_error":
            self.count("server_error")
            return _sms_answer(500, "isp.SYSTEM_ERROR")
        if fault == "throttle":
            self.count("throttle")
            retry = f"{config.faults.throttle_retry_after:g}"
            return _sms_answer(200, "isv.BUSINESS_LIMIT_CONTROL", {"Retry-After": retry})
        refused = self._signature_refused(params)
        if refused is not None:
            return refused
        missing = [
            k for k in ("PhoneNumbers", "SignName", "TemplateCode", "OutId") if not params.get(k)
        ]
        if params.get("Action") != "SendSms" or missing:
            self.count("bad_request")
            return _sms_answer(400, "isv.INVALID_PARAMETERS")
        try:
            template_params = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            template_params = None
        if not isinstance(template_params, dict):
            self.count("bad_request")
            return _sms_answer(200, "isv.INVALID_JSON_PARAM")
        if config.templates is not None and params["TemplateCode"] not in config.templates:
            self.count("template_refused")
            return _sms_answer(200, "isv.SMS_TEMPLATE_ILLEGAL")
        if self.number_invalid(params["PhoneNumbers"]):
            self.count("invalid")
            return _sms_answer(200, "isv.MOBILE_NUMBER_ILLEGAL")
        content = "\x1f".join(
            params.get(k, "") for k in ("PhoneNumbers", "SignName", "TemplateCode", "TemplateParam")
        )
        entry = await self._take(params["OutId"], "sms", content.encode())
        if fault == "lost_ack":
            self.count("lost_ack")
            await self.wait_hanging()
            return None
        payload = {"Code": "OK", "Message": "OK", "BizId": entry.ref, "RequestId": uuid.uuid4().hex}
        return _answer(200, payload)

    def _signature_refused(self, params: dict[str, str]) -> bytes | None:
        """The answer refusing a request whose key id or signature is wrong (``Signature``
        taken out of ``params``); None when it is right."""
        config = self.config
        signature = params.pop("Signature", "")
        if params.get("AccessKeyId") != config.access_key_id:
            self.count("bad_signature")
            return _sms_answer(404, "InvalidAccessKeyId.NotFound")
        expected = _rpc_signature(config.access_key_secret, params)
        if not hmac.compare_digest(expected, signature):
            self.count("bad_signature")
            return _sms_answer(400, "SignatureDoesNotMatch")
        return None

    async def _sms_batch(self, params: dict[str, str]) -> bytes | None:
        """``SendBatchSms`` with a key per number (module docstring): a status per number."""
        config = self.config
        self.count("batch_requests")
        fault = self.draw(("server_error", "hang", "lost_ack"))
        if fault == "hang":
            self.count("hang")
            await self.wait_hanging()
            return None
        if fault == "server_error":
            self.count("server_error")
            return _sms_answer(500, "isp.SYSTEM_ERROR")
        refused = self._signature_refused(params)
        if refused is not None:
            return refused
        arrays = _json_arrays(
            params, ("PhoneNumberJson", "SignNameJson", "TemplateParamJson", "OutIdJson")
        )
        if arrays is None or not params.get("TemplateCode"):
            self.count("bad_request")
            return _sms_answer(400, "isv.INVALID_PARAMETERS")
        numbers, signs, template_params, keys = arrays
        if not 0 < len(numbers) <= MAX_BATCH:
            self.count("bad_request")
            return _sms_answer(400, "isv.INVALID_PARAMETERS")
        template = params["TemplateCode"]
        if config.templates is not None and template not in config.templates:
            self.count("template_refused")
            return _sms_answer(200, "isv.SMS_TEMPLATE_ILLEGAL")
        statuses: list[dict[str, str]] = []
        to_take: list[tuple[int, str, str, str]] = []  # position, key, kind, digest
        throttled = False
        for number, sign, item_params, key in zip(
            numbers, signs, template_params, keys, strict=True
        ):
            self.count("batch_items")
            if not (isinstance(key, str) and key and isinstance(number, str) and number):
                self.count("bad_request")
                statuses.append(_item(key, "isv.INVALID_PARAMETERS"))
                continue
            if not isinstance(sign, str) or not sign or not isinstance(item_params, dict):
                self.count("bad_request")
                statuses.append(_item(key, "isv.INVALID_JSON_PARAM"))
                continue
            if self.over_rate():  # the limit counts messages, not requests
                self.count("rate_limited")
                statuses.append(_item(key, "Throttling.User"))
                throttled = True
                continue
            if self.draw(("throttle",)) == "throttle":
                self.count("throttle")
                statuses.append(_item(key, "isv.BUSINESS_LIMIT_CONTROL"))
                throttled = True
                continue
            if self.number_invalid(number):
                self.count("invalid")
                statuses.append(_item(key, "isv.MOBILE_NUMBER_ILLEGAL"))
                continue
            # the same content a single SendSms of this message is digested from
            shown = json.dumps(item_params, ensure_ascii=False, sort_keys=True)
            content = "\x1f".join((number, sign, template, shown))
            digest = hashlib.sha256(content.encode()).hexdigest()
            to_take.append((len(statuses), key, "sms", digest))
            statuses.append({})
        taken = await self.log.take_many_async([(k, kind, d) for _, k, kind, d in to_take])
        for (position, key, _, digest), (entry, new) in zip(to_take, taken, strict=True):
            self._counted(entry, new, digest)
            statuses[position] = {**_item(key, "OK"), "BizId": entry.ref}
        if fault == "lost_ack":
            self.count("lost_ack")
            await self.wait_hanging()
            return None
        headers = {"Retry-After": f"{config.faults.throttle_retry_after:g}"} if throttled else {}
        payload = {
            "Code": "OK",
            "Message": "OK",
            "RequestId": uuid.uuid4().hex,
            "SendStatusSet": statuses,
        }
        return _answer(200, payload, headers)

    def _counted(self, entry: Entry, new: bool, digest: str) -> None:
        if new:
            self.count("accepted")
        else:
            self.count("duplicates")
            if entry.digest != digest:
                self.count("conflicts")

    async def _take(self, key: str, kind: str, content: bytes) -> Entry:
        digest = hashlib.sha256(content).hexdigest()
        entry, new = await self.log.take_async(key, kind, digest)
        self._counted(entry, new, digest)
        return entry

    # --- signed JSON webhooks

    async def _hook(self, name: str, headers: Mapping[str, str], body: bytes) -> bytes | None:
        config = self.config
        fault = self.draw()
        if fault == "hang":
            self.count("hang")
            await self.wait_hanging()
            return None
        if self.over_rate():
            self.count("rate_limited")
            return _answer(429, {"error": "rate_limited"}, {"Retry-After": "1"})
        if fault == "server_error":
            self.count("server_error")
            return _answer(500, {"error": "server_error"})
        if fault == "throttle":
            self.count("throttle")
            retry = f"{config.faults.throttle_retry_after:g}"
            return _answer(429, {"error": "throttled"}, {"Retry-After": retry})
        secret = config.webhook_secrets.get(name, config.webhook_secret)
        try:
            verify(
                secret.encode(),
                timestamp=headers.get("x-forbear-timestamp"),
                signature=headers.get("x-forbear-signature"),
                body=body,
                now=datetime.now(UTC),
            )
        except SignatureRefused as exc:
            self.count("bad_signature")
            return _answer(401, {"error": f"signature_{exc.reason}"})
        key = headers.get("x-idempotency-key")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not key or not isinstance(payload, dict):
            self.count("bad_request")
            return _answer(400, {"error": "bad_request"})
        address = payload.get("to") or payload.get("phone") or payload.get("user_id")
        phone_like = isinstance(address, str) and address.lstrip("+").isdigit()
        if (
            not isinstance(address, str)
            or not address
            or (phone_like and self.number_invalid(address.removeprefix("+86")))
        ):
            self.count("invalid")
            return _answer(422, {"error": "invalid_address"})
        entry = await self._take(key, name, body)
        if fault == "lost_ack":
            self.count("lost_ack")
            await self.wait_hanging()
            return None
        return _answer(200, {"provider_ref": entry.ref})


MAX_BODY = 1 << 20  # bytes: a request larger than this is refused


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str], bool] | None:
    """Method, path, headers (names in lower case) and whether the connection stays open,
    from a request's head; None when it is malformed."""
    try:
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, path, version = lines[0].split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return method, path, headers, keep


def _json_arrays(params: Mapping[str, str], names: tuple[str, ...]) -> list[list[Any]] | None:
    """The JSON arrays ``params`` holds under ``names``, all of one length; None otherwise."""
    found: list[list[Any]] = []
    for name in names:
        try:
            value = json.loads(params.get(name) or "null")
        except ValueError:
            return None
        if not isinstance(value, list) or (found and len(value) != len(found[0])):
            return None
        found.append(value)
    return found


def _item(key: object, code: str) -> dict[str, str]:
    """One number's status in a batch answer (no number in it: the key says which)."""
    return {"OutId": key if isinstance(key, str) else "", "Code": code, "Message": code}


def _sms_answer(status: int, code: str, headers: Mapping[str, str] = {}) -> bytes:
    return _answer(status, {"Code": code, "Message": code, "RequestId": uuid.uuid4().hex}, headers)


def _answer(
    status: int,
    payload: Mapping[str, Any],
    headers: Mapping[str, str] = {},
    *,
    close: bool = False,
) -> bytes:
    """A whole JSON answer, head and body, to be written at once."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
        "Server: forbear-standin",
        f"Date: {formatdate(usegmt=True)}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        *(["Connection: close"] if close else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_REASONS = {s.value: s.phrase for s in HTTPStatus}


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
