"""What the provider adapters share: reading their options from the channels file, the
HTTP client with its timeout (:class:`HttpClient`, keep-alive connections on the standard
library's ``http.client``; answers handed over as ``httpx2.Response``), and turning
transport errors and HTTP answers into the protocol's failures.

Option errors are :class:`~forbear.domain.errors.ConfigurationError` naming the provider
and the option, never a secret's value. Transport errors become
:class:`~forbear.channels.base.TransientFailure` raised ``from None``: the transport's own
messages and tracebacks name the URL and may carry parts of the request, and what the
dispatcher logs and stores must hold no address and no text.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Collection, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2

from forbear.channels.base import TransientFailure
from forbear.domain.errors import ConfigurationError

# Keys the channels file may give any adapter; each adapter names its own on top.
COMMON_KEYS = frozenset({"kind", "channels", "rate_per_second", "timeout"})

DEFAULT_TIMEOUT = 10.0  # seconds: the longest a send blocks
DEFAULT_RETRY_AFTER = 60.0  # seconds, when a provider throttles without saying how long


class Options:
    """One adapter's options from the channels file, read with types and refused with a
    message naming the provider and the key."""

    def __init__(self, name: str, options: Mapping[str, Any], allowed: Collection[str]) -> None:
        self.name = name
        self._values = dict(options)
        unknown = sorted(set(self._values) - set(allowed) - COMMON_KEYS)
        if unknown:
            raise ConfigurationError(
                f"channel provider {name!r}: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(set(allowed) | COMMON_KEYS))})"
            )

    def _fail(self, key: str, why: str) -> ConfigurationError:
        return ConfigurationError(f"channel provider {self.name!r}: option {key!r} {why}")

    def has(self, key: str) -> bool:
        return self._values.get(key) is not None

    def text(self, key: str, default: str | None = None) -> str:
        value = self._values.get(key, default)
        if value is None:
            raise self._fail(key, "is required")
        if not isinstance(value, str) or not value.strip():
            raise self._fail(key, "must be a non-empty text")
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def number(
        self, key: str, default: float | None, *, minimum: float = 0.0, maximum: float = 1e9
    ) -> float | None:
        value = self._values.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, "must be a number")
        if not minimum < float(value) <= maximum:
            raise self._fail(key, f"must be above {minimum:g} and at most {maximum:g}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self._values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "must be a whole number")
        if not minimum <= value <= maximum:
            raise self._fail(key, f"must be between {minimum} and {maximum}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._values.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "must be true or false")
        return value

    def url(self, key: str, default: str | None = None) -> str:
        value = self.text(key, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._fail(key, "must be an http(s) URL")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            # Messages carry personal data: in clear only to a stand-in on this machine.
            raise self._fail(key, "must use https (plain http only to a loopback address)")
        return value

    def mapping(self, key: str) -> dict[str, str]:
        value = self._values.get(key, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
        ):
            raise self._fail(key, "must map texts to non-empty texts")
        return dict(value)

    def rate(self) -> float | None:
        return self.number("rate_per_second", None, maximum=1e6)

    def timeout(self) -> float:
        value = self.number("timeout", DEFAULT_TIMEOUT, maximum=600)
        assert value is not None
        return value


_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_DIGIT_RUN = re.compile(r"\d{5}")


def safe_code(value: object) -> str | None:
    """A provider's error code when it looks like one (a short token starting with a
    letter, without a run of five digits): anything else may carry an address or a
    number, and is dropped."""
    if isinstance(value, str) and _TOKEN.match(value) and not _DIGIT_RUN.search(value):
        return value
    return None


def secret_for(name: str, secrets: Mapping[str, str], *, what: str) -> str:
    """The provider's secret from the secret store (``FORBEAR_CHANNEL_SECRETS``), refused
    when it is missing or empty: its value is never put in the channels file."""
    secret = secrets.get(name)
    if not secret:
        raise ConfigurationError(
            f"channel provider {name!r}: no secret in channel_secrets ({what}); "
            f'set FORBEAR_CHANNEL_SECRETS=\'{{"{name}": "..."}}\''
        )
    return secret


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_client(timeout: float) -> HttpClient:
    """A keep-alive client whose every phase (connect, write, read, the wait for a free
    connection) is bounded by ``timeout`` (:class:`HttpClient`)."""
    return HttpClient(timeout)


MAX_ANSWER = 1 << 20  # bytes: a provider's answer is a small JSON document
MAX_CONNECTIONS = 32  # sends in flight through one client
MAX_IDLE = 16  # connections kept open between sends
_DROPPED = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class HttpClient:
    """The adapters' HTTP/1.1 client: keep-alive connections from a pool (at most
    :data:`MAX_CONNECTIONS` in use, :data:`MAX_IDLE` kept), on the standard library's
    ``http.client``: about a third of httpx's CPU per request, which at a thousand sends a
    second is a good part of a core. TLS with httpx's own context (the same certificate
    store and checks); proxies from the environment are not used: where messages go is
    the channels file's decision alone. Thread-safe: the dispatcher's send threads share
    one."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._targets: dict[str, tuple[tuple[str, str, int], str]] = {}

    def _target(self, url: str) -> tuple[tuple[str, str, int], str]:
        found = self._targets.get(url)
        if found is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise TransientFailure("the provider's address is unusable", code="connection")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            found = ((parts.scheme, parts.hostname, port), path)
            self._targets[url] = found
        return found

    def _connection(self, key: tuple[str, str, int]) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection to ``key`` still open (a closed one is readable: dropped), or
        a new one; and whether it was reused."""
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                sock = conn.sock
                if sock is not None and not _readable(sock):
                    return conn, True
                conn.close()
        scheme, host, port = key
        if scheme == "https":
            if self._tls is None:
                self._tls = httpx2.create_ssl_context(trust_env=False)
            return http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._tls
            ), False
        return http.client.HTTPConnection(host, port, timeout=self.timeout), False

    def _keep(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> httpx2.Response:
        """POST ``content`` and read the answer (see :func:`post`)."""
        key, path = self._target(url)
        if not self._slots.acquire(timeout=self.timeout):
            raise TransientFailure("the provider did not answer in time", code="timeout")
        try:
            conn, reused = self._connection(key)
            try:
                return self._exchange(key, conn, path, content, headers)
            except _DROPPED:
                if not reused:
                    raise
                # the server had closed the idle connection before the request reached
                # it: once more on a new one (the message's idempotency key makes a
                # second arrival harmless anyway)
                fresh, _ = self._fresh(key)
                return self._exchange(key, fresh, path, content, headers)
        except TimeoutError:
            raise TransientFailure("the provider did not answer in time", code="timeout") from None
        except (OSError, http.client.HTTPException):
            raise TransientFailure("the provider could not be reached", code="connection") from None
        finally:
            self._slots.release()

    def _fresh(self, key: tuple[str, str, int]) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            for conn in self._idle.pop(key, []):
                conn.close()
        return self._connection(key)

    def _exchange(
        self,
        key: tuple[str, str, int],
        conn: http.client.HTTPConnection,
        path: str,
        content: bytes,
        headers: Mapping[str, str],
    ) -> httpx2.Response:
        # The socket's timeout bounds each read, not the whole answer: a server trickling
        # its body a byte at a time would hold the send forever. The body is therefore
        # read in chunks against a deadline of twice the timeout from the start, and at
        # most MAX_ANSWER bytes.
        deadline = time.monotonic() + 2 * self.timeout
        done = False
        try:
            conn.request("POST", path, body=content, headers={**_HEADERS, **headers})
            response = conn.getresponse()
            body = bytearray()
            while chunk := response.read1(65536):
                body.extend(chunk)
                if time.monotonic() > deadline:
                    raise TransientFailure("the provider did not answer in time", code="timeout")
                if len(body) > MAX_ANSWER:
                    raise TransientFailure("the provider's answer is too long", code="too_long")
            response.close()  # the answer read whole: the connection may take the next
            encoding = response.getheader("content-encoding")
            answer_headers = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
            ]
            done = not response.will_close
            return httpx2.Response(
                response.status, headers=answer_headers, content=_decoded(bytes(body), encoding)
            )
        finally:
            if done:
                self._keep(key, conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it
    (or sent what no request asked for), so it is not used again. ``poll``, which has no
    limit on descriptor numbers, where there is one."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


_HEADERS = {"Accept-Encoding": "gzip", "User-Agent": "forbear"}  # gzip: what post() decodes


def post(
    client: HttpClient, url: str, *, content: bytes, headers: Mapping[str, str]
) -> httpx2.Response:
    """POST and read the answer; a timeout or a broken connection is transient
    (:class:`~forbear.channels.base.TransientFailure` raised ``from None``: the transport's
    own messages name the URL and may carry parts of the request)."""
    return client.post(url, content=content, headers=headers)


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding.lower() == "identity":
        return body
    if encoding.lower() in ("gzip", "x-gzip"):
        import gzip

        try:
            return gzip.decompress(body)[:MAX_ANSWER]
        except (OSError, EOFError):
            raise TransientFailure("the provider's answer is unreadable", code="encoding") from None
    raise TransientFailure("the provider's answer is unreadable", code="encoding")


def retry_after(response: httpx2.Response, default: float | None) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number or an HTTP date), else
    ``default``."""
    value = response.headers.get("retry-after")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
        date_header = response.headers.get("date")
        base = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        return default
    if base is None:
        return default
    return max(0.0, (moment - base).total_seconds())
