"""Request dependencies: the app's state, who is asking, the role's permission, CSRF.

Authentication, first match wins: an ``Authorization: Bearer fbr_...`` API token, else the
signed session cookie. Authorisation: every route declares the permission it needs
(:func:`require` / :func:`require_any`, permissions of ``forbear/domain/access_roles.yaml``).
CSRF: every unsafe request (POST, PUT, PATCH, DELETE) authenticated by the session cookie
must carry the session's CSRF token, in the ``X-CSRF-Token`` header (API) or the
``csrf_token`` form field (pages). Token-authenticated requests carry no cookie, so they
need none.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from fastapi import Depends, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from forbear.domain.access import can
from forbear.domain.errors import PermissionDenied
from forbear.services import sessions
from forbear.services.privacy import PiiVault  # the vault use cases read personal data with
from forbear.settings import Settings
from forbear.web.errors import CsrfFailed, Unauthenticated
from forbear.web.i18n import Lang, Translator, request_lang
from forbear.web.security import CookieSigner, same
from forbear.web.sessions import COOKIE_MAX_AGE, SESSION_COOKIE, Principal

if TYPE_CHECKING:  # the assistant is imported only when a message comes
    from forbear.assistant.engine import Assistant

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Clock = Callable[[], datetime]


class Database(Protocol):
    """What the web app needs of :class:`forbear.bootstrap.Forbear`."""

    settings: Settings
    vault: PiiVault

    @property
    def clock(self) -> Clock: ...

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def reading(self) -> AbstractContextManager[Connection]: ...


@dataclass
class WebState:
    forbear: Database
    signer: CookieSigner
    clock: Clock
    secure_cookies: bool

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().astimezone(self.forbear.settings.zone).date()


def state_of(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def assistant_engine(request: Request) -> Assistant:
    """The app's one assistant engine, built on first use
    (:class:`forbear.web.app.AssistantHolder`); the portal chat, the API and the SMS reply
    endpoint all answer through it."""
    engine: Assistant = request.app.state.assistant.get()
    return engine


def lang_of(request: Request) -> Lang:
    return request_lang(request)


def gate_lang(request: Request) -> Literal["zh", "en"]:
    """The language code :func:`forbear.domain.compliance.gate.explain` takes."""
    return "en" if request_lang(request) == "en" else "zh"


def translator(request: Request) -> Translator:
    return Translator(request_lang(request))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(request: Request) -> Principal | None:
    """The principal of this request, or None; raises :class:`Unauthenticated` for a
    credential that was presented and is bad (a forged, expired or revoked one)."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    web = state_of(request)
    principal: Principal | None = None
    token = _bearer(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if token is not None:
        with web.forbear.transaction() as conn:
            principal = sessions.from_api_token(conn, token, web.now())
        if principal is None:
            raise Unauthenticated(invalid=True)
    elif cookie:
        value = web.signer.unsign(cookie, max_age=COOKIE_MAX_AGE)
        if value is not None:
            with web.forbear.transaction() as conn:
                principal = sessions.from_session(conn, value, web.now())
        if principal is None:
            raise Unauthenticated(invalid=True)
    request.state.principal = principal
    return principal


def current_principal(request: Request) -> Principal:
    principal = authenticate(request)
    if principal is None:
        raise Unauthenticated(invalid=False)
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method not in UNSAFE or principal.via != "session":
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or principal.csrf_token is None or not same(sent, principal.csrf_token):
        raise CsrfFailed()


def require(permission: str) -> Callable[..., Any]:
    """A dependency: the principal, if its role holds ``permission`` (else 403)."""
    return require_any(permission)


def require_any(*permissions: str) -> Callable[..., Any]:
    """A dependency: the principal, if its role holds one of ``permissions``."""

    async def dependency(request: Request) -> Principal:
        # the database work runs in the thread pool, never on the event loop
        principal = await run_in_threadpool(current_principal, request)
        if not any(can(principal.role, p) for p in permissions):
            raise PermissionDenied(principal.role.value, " / ".join(permissions))
        await _check_csrf(request, principal)
        return principal

    dependency.__name__ = f"require_{'_or_'.join(p.replace('.', '_') for p in permissions)}"
    return dependency


async def signed_in(request: Request) -> Principal:
    """Any signed-in principal (CSRF still checked on unsafe methods)."""
    principal = await run_in_threadpool(current_principal, request)
    await _check_csrf(request, principal)
    return principal


SignedIn = Annotated[Principal, Depends(signed_in)]
