"""The request guard: what no route should ever see, refused in one place before routing.

- **Oversized bodies** (413, ``too_large``): a body over ``Settings.max_body_bytes``
  (1 MiB by default) is refused from its ``Content-Length`` without reading it, or as soon
  as a chunked body grows past the limit -- for JSON, forms and multipart alike, before
  anything parses it.
- **Control characters** (400, ``control_characters``): NUL and the other C0 control
  characters except tab, line feed and carriage return, in the URL path, a query
  parameter (name or value), a JSON string (key or value), or a form field (name or
  value; uploaded file contents are not text and are not checked). PostgreSQL refuses NUL
  in text (a 500 before this guard), and none of Forbear's fields takes the others. The
  answer names the field, never its value.

A body that is not valid JSON or not a well-formed form is passed on untouched: the route
answers it as it always has (400 ``malformed_json``, 422). The body is read once, kept
(at most the limit), and handed to the app as if it came from the client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forbear.web import errors
from forbear.web.i18n import Translator, request_lang

# C0 controls except tab (09), line feed (0A) and carriage return (0D)
FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\[\]-]{1,64}$")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    """The body grew past the limit while it was read."""


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a parsed JSON value with its dotted path (keys are strings too)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, str(key)
            yield from strings(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}.{i}" if path else str(i))


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit % (1024 * 1024) else f"{limit // (1024 * 1024)} MiB"


class RequestGuard:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        where = self._url_problem(scope)
        if where is not None:
            await self._refuse_controls(request, where, scope, receive, send)
            return
        if scope.get("method", "GET") not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse_size(request, scope, receive, send)
            return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await self._refuse_size(request, scope, receive, send)
            return
        where = await self._body_problem(scope, body)
        if where is not None:
            await self._refuse_controls(request, where, scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _url_problem(self, scope: Scope) -> tuple[str, str] | None:
        if FORBIDDEN.search(scope.get("path", "")):
            return ("request.where.path", "")
        raw = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(raw, keep_blank_values=True, errors="replace"):
            if FORBIDDEN.search(name) or FORBIDDEN.search(value):
                return ("request.where.query", name)
        return None

    async def _body_problem(self, scope: Scope, body: bytes) -> tuple[str, str] | None:
        if not body:
            return None
        request = Request(scope, _replay(body, None))
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            try:
                parsed = json.loads(body)
            except ValueError:
                return None  # the route answers malformed JSON itself
            for path, text in strings(parsed):
                if FORBIDDEN.search(text):
                    return ("request.where.body", path)
            return None
        if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.form()
            except Exception:  # malformed: the route's own parsing answers it
                return None
            try:
                for name, value in form.multi_items():
                    if FORBIDDEN.search(name):
                        return ("request.where.body", "")
                    if isinstance(value, UploadFile):
                        if value.filename and FORBIDDEN.search(value.filename):
                            return ("request.where.body", name)
                    elif FORBIDDEN.search(value):
                        return ("request.where.body", name)
            finally:
                await form.close()
            return None
        if kind.startswith("text/") and FORBIDDEN.search(body.decode("utf-8", errors="replace")):
            return ("request.where.body", "")
        return None

    async def _refuse_controls(
        self, request: Request, where: tuple[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        t = Translator(request_lang(request))
        key, name = where
        if name and not _SAFE_NAME.match(name):
            name = ""
        if key == "request.where.path":
            message = t("request.control_chars", field=t(key))
            field = None
        elif name:
            message = t("request.control_chars", field=t(key, name=name))
            field = name
        else:
            message = t("request.control_chars_any")
            field = None
        response = errors.render(request, 400, "control_characters", message, field=field)
        await response(scope, receive, send)

    async def _refuse_size(
        self, request: Request, scope: Scope, receive: Receive, send: Send
    ) -> None:
        t = Translator(request_lang(request))
        message = t("request.too_large", limit=_size(self.max_body_bytes))
        # the unread body stays unread: the connection is closed after the answer
        response = errors.render(
            request, 413, "too_large", message, headers={"Connection": "close"}
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive | None) -> Receive:
    """A ``receive`` that gives ``body`` once, then waits on the real one (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replay
