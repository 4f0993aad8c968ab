"""The FastAPI app: JSON API under ``/api/v1``, server-rendered pages, static files.

:func:`create_app` wires it from a :class:`forbear.bootstrap.Forbear` (built from the
settings when none is given; tests pass one over their own database) and a clock (the
real one by default; the end-to-end tests pass a settable one). One router module per
area (``forbear.web.api.*``, ``forbear.web.pages.*``): promises, plans, legal and
complaints slot in as further modules.

Security headers on every answer: a strict Content-Security-Policy (scripts only from
this origin: no inline script), ``X-Frame-Options: DENY``, ``nosniff``,
``Referrer-Policy: same-origin``, ``Cache-Control: no-store`` (pages and API answers
hold personal data, masked or not), and outside development
``Strict-Transport-Security`` (a year, subdomains included: the browser never again asks
for the app over plain HTTP, so a session cookie cannot leak to a downgrade). The request
guard (:mod:`forbear.web.guard`) refuses oversized bodies (413) and control characters
(400) before any route runs. Swagger UI and ReDoc are off: they load scripts from
a CDN; the OpenAPI description is at ``/api/v1/openapi.json``.

Static files (issue 15, item 10): answers of 500 bytes or more are gzip-compressed for a
browser that accepts it (Plotly's 4.8 MB bundle is compressed once, in memory, and served
as is); a URL versioned with the file's content hash (``static_url`` in templates,
``/static/forbear.css?v=<hash>``) is cached for a year (``immutable``), an unversioned one
for an hour and revalidated by its ETag. Pages stay ``no-store``.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import threading
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forbear.bootstrap import bootstrap
from forbear.settings import Environment, Settings
from forbear.web import errors, forms
from forbear.web.deps import Clock, Database, WebState, authenticate
from forbear.web.guard import RequestGuard
from forbear.web.i18n import LANG_COOKIE, parse_lang
from forbear.web.security import CookieSigner, load_session_secret

if TYPE_CHECKING:
    from forbear.assistant.engine import Assistant

log = logging.getLogger("forbear.web")
access_log = logging.getLogger("forbear.web.access")
HERE = Path(__file__).parent
API_TITLE = "Forbear API"
API_VERSION = "1.0.0"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
API_DESCRIPTION = """\
Forbear's JSON API for the lender's systems and the workbench.

**Authentication**: `Authorization: Bearer fbr_...` (an API token of a staff or service
account: `forbear staff token USERNAME --name NAME`), or the web session cookie; with the
cookie, unsafe methods need the `X-CSRF-Token` header (the token is in `GET /api/v1/me`).

**Roles and scope**: every route needs a permission of the caller's role; accounts outside
the caller's scope (an agency's placements, bucket scope) answer 404 like unknown ones.
Personal data is masked for the caller's role; `POST /accounts/{loan_id}/unmask` shows one
field for a stated purpose and is audited.

**Money** is an integer number of fen with a formatted yuan string beside it.
**Language**: `Accept-Language: en` (or `?lang=en`) for English messages; Chinese otherwise.
"""


class Guardrails:
    """Request log lines without personal data, security headers, the language cookie."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool) -> None:
        self.app = app
        # outside development: Secure cookies and HSTS (the app is served over HTTPS)
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        started = time.perf_counter()
        status = 500
        chosen = parse_lang(request.query_params.get("lang"))

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = message.setdefault("headers", [])
                for name, value in (
                    ("content-security-policy", CSP),
                    ("x-frame-options", "DENY"),
                    ("x-content-type-options", "nosniff"),
                    ("referrer-policy", "same-origin"),
                ):
                    headers.append((name.encode(), value.encode()))
                if self.secure_cookies:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                if not request.url.path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                elif status == 200:
                    versioned = request.query_params.get("v")
                    headers.append((b"cache-control", static_cache(versioned).encode()))
                if chosen is not None and not request.url.path.startswith("/api/"):
                    cookie = f"{LANG_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax"
                    if self.secure_cookies:
                        cookie += "; Secure"
                    headers.append((b"set-cookie", cookie.encode()))
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            path = safe_path(request.url.path)
            principal = getattr(request.state, "principal", None)
            who = f"user={principal.user_id}" if principal is not None else "user=-"
            # The path with anything that could be data blanked, never the query string or
            # a body: a mistyped URL may carry a phone number.
            access_log.info(
                "%s %s %s %.1fms %s",
                scope.get("method", "?"),
                path,
                status,
                (time.perf_counter() - started) * 1000,
                who,
            )


YEAR = 31_536_000
# The browser-side pattern of a yuan amount (``<input pattern="{{ AMOUNT_PATTERN }}">``):
# what :func:`forbear.domain.money.parse_yuan` accepts, full-width digits and commas and a
# leading ¥ or ￥ included ("１２３", "¥1,200.50"). Valid under the ``v`` flag browsers use.
AMOUNT_PATTERN = r"\s*[¥￥]?\s*[0-9０-９][0-9０-９,，]*(\.[0-9０-９]{1,2})?\s*"


def static_cache(version: str | None) -> str:
    """Cache-Control of a static file: a year and immutable when its URL carries the
    content hash (a new file gets a new URL), else an hour, then revalidated (ETag)."""
    if version:
        return f"public, max-age={YEAR}, immutable"
    return "public, max-age=3600, must-revalidate"


def content_hash(path: Path) -> str:
    """The first 12 hex digits of the SHA-256 of a file (for versioned static URLs)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


class FormRestore:
    """Hands a form stashed when its session expired (:mod:`forbear.web.forms`) to the
    page it was on, once: on a GET of that page the fields go to ``request.state``
    (``base.html`` embeds them; ``/static/forms.js`` fills the form) and the cookie is
    dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        value = request.cookies.get(forms.STASH_COOKIE)
        path = request.url.path
        if not value or path.startswith(("/static/", "/api/", "/sign-in")):
            await self.app(scope, receive, send)
            return
        web = request.app.state.web if "app" in scope else None
        if web is None:
            await self.app(scope, receive, send)
            return
        page = path + (f"?{request.url.query}" if request.url.query else "")
        found = forms.restore(
            web.signer.form_secret, value, page=page, now=web.now().timestamp()
        ) or forms.restore(web.signer.form_secret, value, page=path, now=web.now().timestamp())
        if found is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["restored_form"] = found

        async def dropping(message: Message) -> None:
            if message["type"] == "http.response.start" and int(message["status"]) == 200:
                cookie = f"{forms.STASH_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, dropping)


_UNSAFE_SEGMENT = re.compile(r"\d{6,}|[^A-Za-z0-9._~/{}-]+")


def safe_path(path: str) -> str:
    """``path`` for the log: runs of 6+ digits and any other character than letters,
    digits and ``._~-`` become ``*`` (ids of loans and attempts stay readable)."""
    return _UNSAFE_SEGMENT.sub("*", path)[:200]


class AssistantUnavailable(RuntimeError):
    """The engine could not be built a moment ago (its model is missing and could not be
    trained): not tried again before :data:`AssistantHolder.RETRY_AFTER` seconds."""


class AssistantHolder:
    """The borrower assistant's engine (:mod:`forbear.assistant.engine`), built on first use
    (loading the intent model takes a while and most requests never need it, nor most
    tests), once per app, thread-safe. The portal chat, the assistant API and the inbound
    reply endpoint reach it as ``request.app.state.assistant.get()``. A build that fails is
    not retried for :data:`RETRY_AFTER` seconds (a missing model would otherwise be trained
    again for every message). Tests may hand in an engine built over a model they share."""

    RETRY_AFTER = 60.0

    def __init__(self, forbear: Database, engine: Assistant | None = None) -> None:
        self._forbear = forbear
        self._lock = threading.Lock()
        self._engine: Assistant | None = engine
        self._failed_at: float | None = None

    def get(self) -> Assistant:
        engine = self._engine
        if engine is not None:
            return engine
        with self._lock:
            if self._engine is not None:
                return self._engine
            if self._failed_at is not None and (
                time.monotonic() - self._failed_at < self.RETRY_AFTER
            ):
                raise AssistantUnavailable("the assistant's engine failed to build just now")
            from forbear.assistant.engine import build

            try:
                self._engine = build(self._forbear)
            except Exception:
                self._failed_at = time.monotonic()
                raise
            return self._engine


def plotly_js() -> Path:
    """Plotly's JavaScript as the ``plotly`` Python package ships it (works offline)."""
    return Path(str(resources.files("plotly").joinpath("package_data/plotly.min.js")))


@lru_cache(maxsize=1)
def plotly_gzipped() -> bytes:
    """Plotly's bundle gzip-compressed once per process (4.8 MB -> about 1.4 MB)."""
    return gzip.compress(plotly_js().read_bytes(), compresslevel=9, mtime=0)


@lru_cache(maxsize=64)
def _static_version(name: str) -> str:
    if name == "vendor/plotly.min.js":
        return content_hash(plotly_js())
    path = (HERE / "static" / name).resolve()
    if not path.is_relative_to(HERE / "static") or not path.is_file():
        return ""
    return content_hash(path)


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: cached for a year, a new file a new URL."""
    version = _static_version(name)
    return f"/static/{name}?v={version}" if version else f"/static/{name}"


def create_app(
    forbear: Database | None = None,
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
) -> FastAPI:
    """The web app over ``forbear`` (bootstrapped from ``settings`` when None)."""
    from forbear.web.api import router as api_router
    from forbear.web.metrics import router as metrics_router
    from forbear.web.pages import router as pages_router

    if forbear is None:
        forbear = bootstrap(settings)
    secret = load_session_secret(forbear.settings)
    secure = forbear.settings.environment is not Environment.DEVELOPMENT
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.web = WebState(
        forbear=forbear,
        signer=CookieSigner(secret),
        clock=clock or forbear.clock,
        secure_cookies=secure,
    )
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.templates.env.globals["static_url"] = static_url
    app.state.templates.env.globals["AMOUNT_PATTERN"] = AMOUNT_PATTERN
    app.state.assistant = AssistantHolder(forbear)
    # the error pages show the navigation of whoever is signed in (forbear.web.errors)
    app.state.resolve_principal = authenticate
    errors.install(app)
    app.include_router(api_router)
    app.include_router(pages_router)
    app.include_router(metrics_router)  # /metrics: this machine only (forbear.web.metrics)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly(request: Request) -> Response:
        etag = f'"{_static_version("vendor/plotly.min.js")}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            return Response(
                plotly_gzipped(),
                media_type="text/javascript",
                headers={"Content-Encoding": "gzip", "ETag": etag, "Vary": "Accept-Encoding"},
            )
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"ETag": etag})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    # after the vendor route, which it would otherwise shadow
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_middleware(errors.ErrorGuard)
    app.add_middleware(FormRestore)
    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    app.add_middleware(RequestGuard, max_body_bytes=forbear.settings.max_body_bytes)
    app.add_middleware(Guardrails, secure_cookies=secure)
    return app
