"""The borrower portal's session on the web, shared by its pages and its API: the portal
cookie (:data:`PORTAL_COOKIE`: a random token, signed, HttpOnly, SameSite=Lax, Secure
outside development, separate from the staff's), the signed-in borrower of a request,
the keyed client address for the code-request limits, the book date, and the development
log line with a sign-in code. The use cases are :mod:`forbear.services.portal`.
"""

from __future__ import annotations

import logging
from datetime import date

from fastapi import Request
from fastapi.responses import Response

from forbear.services import portal as svc
from forbear.services.days import book_date as stored_book_date
from forbear.settings import Environment
from forbear.web.deps import WebState, state_of
from forbear.web.security import request_client

log = logging.getLogger("forbear.web.portal")
PORTAL_COOKIE = "forbear_portal"
SIGN_IN_COOKIE = "forbear_portal_sign_in"
SIGN_IN_MAX_AGE = 900


def client_key(request: Request) -> str:
    """A keyed hash of the client's address (``X-Forwarded-For`` only from a trusted
    proxy: :func:`forbear.web.security.client_address`), for the code-request limits."""
    web = state_of(request)
    host = request_client(request, web.forbear.settings.trusted_proxy_networks)
    return web.signer.key("portal-client", host)


def borrower_of(request: Request) -> svc.BorrowerSession | None:
    """The signed-in borrower of this request, or None (no, forged or ended session)."""
    if hasattr(request.state, "borrower"):
        found: svc.BorrowerSession | None = request.state.borrower
        return found
    web = state_of(request)
    session = None
    cookie = request.cookies.get(PORTAL_COOKIE)
    if cookie:
        token = web.signer.unsign(cookie, max_age=int(svc.ABSOLUTE.total_seconds()))
        if token is not None:
            with web.forbear.transaction() as conn:
                session = svc.from_session(conn, token, web.now())
    request.state.borrower = session
    return session


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=state_of(request).secure_cookies,
    )


def start_session(request: Request, response: Response, opened: svc.NewBorrowerSession) -> None:
    web = state_of(request)
    set_cookie(
        request,
        response,
        PORTAL_COOKIE,
        web.signer.sign(opened.token),
        int(svc.ABSOLUTE.total_seconds()),
    )


def log_dev_code(web: WebState, sent: svc.CodeSent) -> None:
    """The development demo's only way to see a code (no SMS gateway): one log line with
    the request id and the code, never the number; nothing outside development."""
    if sent.code is not None and web.forbear.settings.environment is Environment.DEVELOPMENT:
        log.info("development only: sign-in code of request %s is %s", sent.request_id, sent.code)


def book_date(request: Request) -> date:
    """The book date the portal shows amounts on (the latest stored, else today)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = stored_book_date(conn, web.today())
    return found or web.today()
