"""The one map from errors to HTTP answers, in the user's language (STYLE.md habit 5).

Domain errors carry data, never HTTP codes; here they become:

=============================  ======  ==========================
error                          status  ``error.code``
=============================  ======  ==========================
request body or parameters     422     ``invalid_request`` (400 ``malformed_json``)
ValidationError                422     ``validation_error``
NotFound (or out of scope)     404     ``not_found``
Unauthenticated                401     ``unauthenticated`` / ``session_invalid``
PermissionDenied               403     ``forbidden``
CsrfFailed                     403     ``csrf_failed``
Conflict                       409     ``conflict``
database integrity error       409     ``conflict`` (a concurrent writer won)
SignInThrottled / rate limit   429     ``rate_limited`` (``Retry-After``)
StorageUnavailable             503     ``unavailable``
database locked (SQLite)       503     ``busy`` (``Retry-After``)
anything else                  500     ``internal`` (logged as type and place only)
=============================  ======  ==========================

A database integrity error (a unique, foreign-key or check constraint) that reaches this
map is a check-then-write that lost to a concurrent writer -- the use cases check first
and serialise per subject (:mod:`forbear.store.locks`), so only a race gets here -- and
so are PostgreSQL's serialisation failures and deadlocks: the request changed nothing
(its transaction rolled back) and may be retried. The log names the constraint only,
never the values (PostgreSQL's detail line quotes them).

The request guard (:class:`forbear.web.guard.RequestGuard`) refuses, before any route
runs, a body over the configured size (413, ``too_large``) and text holding a NUL or
another C0 control character except tab, line feed and carriage return (400,
``control_characters``): PostgreSQL refuses NUL in text, and none of our fields takes
the others.

API paths (``/api/...``) answer JSON ``{"error": {"code", "message", "field", "details"}}``;
pages answer an HTML page (a sign-in redirect for 401). No stack trace, no request data
and no personal data ever reaches a response or the log: messages come from the
catalogue plus the error's own fields, which by contract hold no personal data
(:mod:`forbear.domain.errors`).
"""

from __future__ import annotations

import logging
import secrets
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forbear.domain.access import can
from forbear.domain.errors import (
    ConfigurationError,
    Conflict,
    ForbearError,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
    ValidationError,
)
from forbear.services.sessions import SignInFailed, SignInThrottled
from forbear.web import forms
from forbear.web.i18n import Translator, request_lang
from forbear.web.sessions import SESSION_COOKIE

log = logging.getLogger("forbear.web")


class Unauthenticated(Exception):
    """No credential (``invalid`` false) or a bad one: forged, expired, revoked."""

    def __init__(self, *, invalid: bool) -> None:
        super().__init__("unauthenticated")
        self.invalid = invalid


class CsrfFailed(Exception):
    """An unsafe request with a session cookie but without the session's CSRF token."""


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["未找到借据：42"])
    field: str | None = Field(default=None, examples=["amount"])
    details: list[str] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "malformed request, or a control character in it"),
        (401, "not signed in, or a bad credential"),
        (403, "the role may not do this, or the CSRF token is missing"),
        (404, "unknown id, or outside the caller's scope"),
        (409, "conflicts with stored data, or with a concurrent request"),
        (413, "request body over the configured limit"),
        (422, "invalid parameters or body"),
        (429, "too many requests"),
        (503, "database unavailable"),
    )
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _render(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    details: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if is_api(request):
        body = ErrorResponse(
            error=ErrorBody(code=code, message=message, field=field, details=details or [])
        )
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)
    templates = request.app.state.templates
    t = Translator(request_lang(request))
    principal = _principal(request) if status != 401 else None
    page: Response = templates.TemplateResponse(
        request,
        "error.html",
        {
            "t": t,
            "lang": t.lang,
            "other_lang": t.other,
            "principal": principal,
            "csrf_field": "csrf_token",
            "csrf_token": principal.csrf_token if principal is not None else None,
            "can": lambda permission: principal is not None and can(principal.role, permission),
            "path": request.url.path,
            "status": status,
            "message": message,
            "details": details or [],
            "field": field,
        },
        status_code=status,
        headers=headers,
    )
    return page


def _principal(request: Request) -> Any:
    """Who is signed in, for the error page's navigation and sign-out (issue 15, item 4):
    the request's principal if a route resolved it, else the session cookie's, through
    the resolver the app installs (``app.state.resolve_principal``: this module cannot
    import :mod:`forbear.web.deps`, which imports it). None when there is none or it fails."""
    found = getattr(request.state, "principal", None)
    if found is not None:
        return found
    resolve = getattr(request.app.state, "resolve_principal", None)
    if resolve is None or not request.cookies.get(SESSION_COOKIE):
        return None
    try:
        return resolve(request)
    except Exception:  # an expired or broken session: the page shows no navigation
        return None


render = _render  # for the request guard (forbear.web.guard), which answers before routing


def _t(request: Request) -> Translator:
    return Translator(request_lang(request))


def forbear_error(request: Request, exc: Exception) -> Response:
    t = _t(request)
    if isinstance(exc, NotFound):
        kind = t.label("kind", exc.kind)
        message = t("error.not_found", kind=kind, key=exc.key)
        return _render(request, 404, "not_found", message)
    if isinstance(exc, ValidationError):
        message = t("error.validation", field=exc.field, reason=forms.reason_words(t, exc.reason))
        return _render(request, 422, "validation_error", message, field=exc.field)
    if isinstance(exc, PermissionDenied):
        role = t.label("role", exc.role)
        if exc.purpose is not None:
            purpose = t.label("purpose", exc.purpose)
            message = t("error.permission_purpose", role=role, purpose=purpose)
        else:
            message = t("error.permission", role=role)
        return _render(request, 403, "forbidden", message, details=[exc.action])
    if isinstance(exc, SignInThrottled):
        minutes = max(1, -(-exc.retry_after // 60))
        headers = {"Retry-After": str(exc.retry_after)}
        message = t("sign_in.rate_limited", minutes=minutes)
        return _render(request, 429, "rate_limited", message, headers=headers)
    if isinstance(exc, SignInFailed):
        return _render(request, 401, "sign_in_failed", t("sign_in.failed"))
    if isinstance(exc, Conflict):
        return _render(request, 409, "conflict", t("error.conflict", reason=exc.message))
    if isinstance(exc, StorageUnavailable):
        log.error("storage unavailable: %s", type(exc).__name__)
        return _render(request, 503, "unavailable", t("error.unavailable"))
    if isinstance(exc, ConfigurationError):
        log.error("configuration error on %s", _route(request))
        return _render(request, 500, "configuration", t("error.config"))
    if isinstance(exc, ForbearError):
        # an expected refusal of another layer (content filter, ...): its message holds
        # no personal data by contract
        return _render(request, 400, "refused", exc.message)
    return internal_error(request, exc)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def unauthenticated(request: Request, exc: Exception) -> Response:
    """401: the API answers JSON; a page goes to sign-in and back. A form posted with an
    expired session is not lost: its fields (minus secrets) are stashed in a short-lived,
    encrypted cookie bound to the page the form was on (:mod:`forbear.web.forms`), and the
    sign-in page says so; after signing in, the user is back on that page with the form
    filled in again."""
    assert isinstance(exc, Unauthenticated)
    stashed: str | None = None
    back: str | None = None
    if (
        not is_api(request)
        and request.method == "POST"
        and request.headers.get("content-type", "").startswith(_FORM_TYPES)
    ):
        back = _form_page(request)
        try:
            form = await request.form()
            fields = forms.kept(form.multi_items())
        except Exception:  # an unreadable body: nothing to keep
            fields = {}
        if fields and back is not None:
            web = request.app.state.web
            stashed = forms.stash(
                web.signer.form_secret,
                page=back,
                action=request.url.path,
                fields=fields,
                now=web.now().timestamp(),
            )
    response = _unauthenticated(request, exc, back=back, kept=stashed is not None)
    if stashed is not None:
        web = request.app.state.web
        response.set_cookie(
            forms.STASH_COOKIE,
            stashed,
            max_age=forms.STASH_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=bool(web.secure_cookies),
        )
    return response


def _form_page(request: Request) -> str | None:
    """The path (and query) of the page a form was posted from: the Referer, when it is
    this site's (the app sends ``Referrer-Policy: same-origin``)."""
    referer = request.headers.get("referer")
    if not referer:
        return None
    found = urlsplit(referer)
    if found.netloc != request.url.netloc or not found.path.startswith("/"):
        return None
    if found.path.startswith(("/sign-in", "/api/", "//")):
        return None
    return found.path + (f"?{found.query}" if found.query else "")


def _unauthenticated(
    request: Request, exc: Unauthenticated, *, back: str | None, kept: bool
) -> Response:
    t = _t(request)
    if is_api(request):
        code, key = (
            ("session_invalid", "error.session_invalid")
            if exc.invalid
            else (
                "unauthenticated",
                "error.unauthenticated",
            )
        )
        response = _render(
            request, 401, code, t(key), headers={"WWW-Authenticate": 'Bearer realm="forbear"'}
        )
    else:
        # back to the page after signing in; a form post cannot be replayed that way, but
        # its page can be opened again with the form filled in (see above)
        target = request.url.path if request.method == "GET" else (back or "/workbench")
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        suffix = "&expired=1" if exc.invalid else ""
        if kept:
            suffix += "&kept=1"
        response = RedirectResponse(f"/sign-in?next={quote(target, safe='')}{suffix}", 303)
    if exc.invalid:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def csrf_failed(request: Request, exc: Exception) -> Response:
    return _render(request, 403, "csrf_failed", _t(request)("error.csrf"))


_TYPE_WORDS = {
    "int": "type.integer",
    "string": "type.string",
    "bool": "type.boolean",
    "date": "type.date",
    "float": "type.number",
    "dict": "type.object",
    "model": "type.object",
    "list": "type.list",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def _problem(t: Translator, error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    name = _field_name(tuple(error.get("loc", ())))
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return t("field.missing", field=name)
    if kind == "extra_forbidden":
        return t("field.extra", field=name)
    if kind in ("literal_error", "enum"):
        return t("field.choice", field=name, choices=str(ctx.get("expected", "")))
    for prefix in ("greater_than", "less_than", "too_short", "too_long"):
        if kind.startswith(prefix):
            limit = ", ".join(f"{k} {v}" for k, v in ctx.items() if k != "actual_length")
            return t("field.range", field=name, limit=limit or kind)
    for prefix, key in _TYPE_WORDS.items():
        if kind.startswith(prefix):
            return t("field.type", field=name, expected=t(key))
    return t("field.invalid", field=name)


def request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    t = _t(request)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _render(request, 400, "malformed_json", t("error.bad_json"))
    problems = [_problem(t, e) for e in errors]
    field = _field_name(tuple(errors[0].get("loc", ()))) if errors else None
    message = t("error.body") + "; ".join(problems)
    return _render(request, 422, "invalid_request", message, field=field, details=problems)


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    t = _t(request)
    if exc.status_code == 404:
        return _render(request, 404, "not_found", t("error.not_found_page"))
    if exc.status_code == 405:
        return _render(
            request, 405, "method_not_allowed", t("error.method"), headers=dict(exc.headers or {})
        )
    return _render(
        request, exc.status_code, "http_error", str(exc.detail), headers=dict(exc.headers or {})
    )


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "?"))


def internal_error(request: Request, exc: BaseException) -> Response:
    """A bug, not bad input: logged as its type and place only (its message may quote
    data), answered with a reference the administrator finds in the log."""
    ref = secrets.token_hex(4)
    log.error(
        "internal error %s: %s at %s on %s", ref, type(exc).__name__, place(exc), _route(request)
    )
    return _render(request, 500, "internal", _t(request)("error.internal", ref=ref))


def place(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


class ErrorGuard:
    """Outermost catch for exceptions no handler took: a 500 in the user's language
    instead of Starlette's plain text (and no traceback in the server's log, which would
    carry the exception's message)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            request = Request(scope)
            if started:
                log.error(
                    "internal error after the response started: %s at %s",
                    type(exc).__name__,
                    place(exc),
                )
                return
            response = internal_error(request, exc)
            await response(scope, receive, send)


# PostgreSQL SQLSTATEs of a transaction that lost to a concurrent one
_CONCURRENT_STATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


def _constraint(exc: DBAPIError) -> str:
    """The violated constraint's name (PostgreSQL), or SQLite's first line, which names
    the table and column only: never a value."""
    orig = exc.orig
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if name:
        return str(name)
    if orig is not None and orig.__class__.__module__.startswith("sqlite3"):
        return str(orig).strip().splitlines()[0][:120] if str(orig).strip() else "?"
    return "?"


def database_error(request: Request, exc: Exception) -> Response:
    """A database error no use case turned into a domain error (see the table above)."""
    assert isinstance(exc, DBAPIError)
    t = _t(request)
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(exc, IntegrityError) or state in _CONCURRENT_STATES:
        log.warning(
            "concurrent write refused on %s: %s (%s)",
            _route(request),
            type(exc.orig).__name__,
            _constraint(exc),
        )
        return _render(request, 409, "conflict", t("request.concurrent"))
    text = str(exc.orig) if exc.orig is not None else ""
    if "database is locked" in text or "database table is locked" in text:
        log.warning("database locked on %s", _route(request))
        return _render(request, 503, "busy", t("request.busy"), headers={"Retry-After": "1"})
    return internal_error(request, exc)


def install(app: Any) -> None:
    app.add_exception_handler(ForbearError, forbear_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(CsrfFailed, csrf_failed)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


__all__ = ["ERROR_RESPONSES", "CsrfFailed", "ErrorGuard", "ErrorResponse", "HTMLResponse"]
