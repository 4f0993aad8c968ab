"""Sign-in and sign-out pages.

The sign-in form has no session yet, so its CSRF protection is a double submit: a
random value in a signed, HttpOnly cookie and the same value in the form; SameSite=Lax
keeps other sites from posting with the cookie. The ``next`` target must be a path on
this site (no open redirect). The rate limits and their atomicity are
:mod:`forbear.services.sessions`'s; the client address honours ``X-Forwarded-For`` only from a
configured trusted proxy (:func:`forbear.web.security.client_address`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.access import Role
from forbear.services import sessions
from forbear.services.credentials import new_token
from forbear.web.deps import SignedIn, authenticate, state_of
from forbear.web.errors import CsrfFailed, Unauthenticated
from forbear.web.forms import STASH_COOKIE
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.render import page
from forbear.web.pages.workbench import landing
from forbear.web.security import request_client, same
from forbear.web.sessions import COOKIE_MAX_AGE, SESSION_COOKIE

router = APIRouter()
SIGN_IN_COOKIE = "forbear_sign_in"
SIGN_IN_MAX_AGE = 3600


def safe_next(target: str | None, role: Role | None = None) -> str:
    """``target`` if it is a path on this site, else the landing page of ``role`` (an
    admin lands on staff management, legal on its console, everyone else on the
    workbench: a page each may open)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return landing(role) if role is not None else "/workbench"
    return target


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=state_of(request).secure_cookies,
    )


def _form(
    request: Request,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    username: str = "",
    next_: str = "",
) -> Response:
    web = state_of(request)
    value = new_token()
    response = page(
        request,
        "sign_in.html",
        None,
        status_code=status_code,
        error=error,
        notice=notice,
        username=username,
        next=next_ if next_ and safe_next(next_) == next_ else "",
        sign_in_token=value,
    )
    _set_cookie(request, response, SIGN_IN_COOKIE, web.signer.sign(value), SIGN_IN_MAX_AGE)
    return response


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    next: str | None = None,
    expired: str | None = None,
    out: str | None = None,
    kept: str | None = None,
) -> Response:
    t = Translator(request_lang(request))
    try:
        principal = authenticate(request)
        if principal is not None:
            return RedirectResponse(safe_next(next, principal.role), 303)
    except Unauthenticated:
        expired = "1"
    if kept:  # a form posted with an expired session was kept (forbear.web.forms)
        notice: str | None = t("workbench.session.stashed")
    else:
        notice = t("sign_in.expired") if expired else (t("sign_in.signed_out") if out else None)
    response = _form(request, notice=notice, next_=next or "")
    if expired:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    web = state_of(request)
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    expected = web.signer.unsign(cookie, max_age=SIGN_IN_MAX_AGE) if cookie else None
    if expected is None or not csrf_token or not same(expected, csrf_token):
        raise CsrfFailed()
    client = request_client(request, web.forbear.settings.trusted_proxy_networks)
    result = sessions.sign_in(
        web.forbear.transaction,
        web.signer.key,
        username=username,
        password=password,
        client=client,
        now=web.now(),
    )
    t = Translator(request_lang(request))
    if isinstance(result, sessions.Refused):
        if result.retry_after is not None:
            minutes = max(1, -(-result.retry_after // 60))
            message, status = t("sign_in.rate_limited", minutes=minutes), 429
        else:
            message, status = t("sign_in.failed"), 401
        response = _form(
            request, error=message, status_code=status, username=username[:64], next_=next
        )
        if result.retry_after is not None:
            response.headers["Retry-After"] = str(result.retry_after)
        return response
    response = RedirectResponse(safe_next(next, result.principal.role), 303)
    _set_cookie(
        request,
        response,
        SESSION_COOKIE,
        web.signer.sign(result.token),
        COOKIE_MAX_AGE,
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.post("/sign-out")
def sign_out(request: Request, principal: SignedIn) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        sessions.sign_out(conn, principal, web.now())
    response = RedirectResponse("/sign-in?out=1", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(STASH_COOKIE, path="/")  # nothing typed stays for the next user
    return response
