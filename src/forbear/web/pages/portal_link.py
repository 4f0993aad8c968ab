"""Where a signed portal link in a message lands (issue 13): the portal's sign-in with the
borrower pre-selected (their mobile shown masked), never signed in without the one-time
code (:mod:`forbear.services.outreach.landing`).

``GET /portal/sign-in?t=<token>`` (the address :func:`forbear.services.portal.links.link`
writes; :mod:`.portal` hands such a request to :func:`landing`) greets the borrower and
offers to send the code; ``POST /portal/link/code`` sends it to the borrower's own mobile
(the portal's limits); ``POST /portal/link/sign-in`` checks it and opens the session. The
pages carry the link's token, never the number. A malformed, forged or expired link gets
a page that says so (400) with the ordinary sign-in next to it, and reveals nothing.
The sign-in forms' CSRF protection is the portal's: a signed double-submit cookie.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import ValidationError
from forbear.services import portal as svc
from forbear.services.outreach import landing as svc_landing
from forbear.services.portal.links import LinkRefused
from forbear.web.deps import state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.portal_parts import check_sign_in_csrf, sign_in_form
from forbear.web.portal_session import (
    SIGN_IN_COOKIE,
    client_key,
    log_dev_code,
    start_session,
)

router = APIRouter()
TOKEN_MAX = 80  # links.verify refuses anything longer


def _form(request: Request, *, status_code: int = 200, **context: Any) -> Response:
    return sign_in_form(request, "portal/link.html", status_code=status_code, **context)


def _refused(request: Request) -> Response:
    return _form(request, status_code=400, step="refused", link="", masked="")


def landing(request: Request, token: str) -> Response:
    """The page a portal link opens (no borrower signed in)."""
    web = state_of(request)
    try:
        with web.forbear.reading() as conn:
            who = svc_landing.identify(conn, web.forbear.vault, token, now=web.now())
    except LinkRefused:
        return _refused(request)
    return _form(request, step="confirm", link=token, masked=who.masked_mobile)


@router.post("/portal/link/code")
def link_code(
    request: Request,
    link: Annotated[str, Form(max_length=TOKEN_MAX)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_sign_in_csrf(request, csrf_token)
    web = state_of(request)
    t = Translator(request_lang(request))
    try:
        with web.forbear.transaction() as conn:
            who = svc_landing.identify(conn, web.forbear.vault, link, now=web.now())
            sent = svc_landing.request_code(
                conn, web.forbear.vault, link, client_key=client_key(request), now=web.now()
            )
    except LinkRefused:
        return _refused(request)
    except svc.CodeThrottled as exc:
        with web.forbear.reading() as conn:
            who = svc_landing.identify(conn, web.forbear.vault, link, now=web.now())
        minutes = max(1, -(-exc.retry_after // 60))
        response = _form(
            request,
            status_code=429,
            step="confirm",
            link=link,
            masked=who.masked_mobile,
            error=t("portal.sign_in.throttled", minutes=minutes),
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    log_dev_code(web, sent)
    return _form(request, step="code", link=link, masked=who.masked_mobile)


@router.post("/portal/link/sign-in")
def link_sign_in(
    request: Request,
    link: Annotated[str, Form(max_length=TOKEN_MAX)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_sign_in_csrf(request, csrf_token)
    web = state_of(request)
    t = Translator(request_lang(request))
    opened = None
    try:
        with web.forbear.transaction() as conn:
            who = svc_landing.identify(conn, web.forbear.vault, link, now=web.now())
            try:
                opened = svc_landing.verify_code(conn, web.forbear.vault, link, code, now=web.now())
            except ValidationError:  # a malformed code, refused like a wrong one
                opened = None
    except LinkRefused:
        return _refused(request)
    if opened is None:
        return _form(
            request,
            status_code=401,
            step="code",
            link=link,
            masked=who.masked_mobile,
            error=t("portal.sign_in.failed"),
        )
    response = RedirectResponse("/portal/home", 303)
    start_session(request, response, opened)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response
