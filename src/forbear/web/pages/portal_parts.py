"""What the borrower portal's pages share: rendering a portal page, the portal's error page
for a refused request, and a form's POST (signed in, the session's CSRF token, then the
work; a refusal writes nothing). :mod:`.portal` holds sign-in and the debt,
:mod:`.portal_contact` complaints, contact preferences and history, rights and articles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import Conflict, ForbearError, NotFound, ValidationError
from forbear.services import portal as svc
from forbear.services.credentials import new_token
from forbear.web.deps import WebState, state_of
from forbear.web.errors import CsrfFailed
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.render import page
from forbear.web.portal_session import (
    SIGN_IN_COOKIE,
    SIGN_IN_MAX_AGE,
    borrower_of,
    set_cookie,
)
from forbear.web.security import same

MAX_LOAN_ID = 2**31 - 1
T = TypeVar("T")


def redirect_sign_in() -> Response:
    return RedirectResponse("/portal/sign-in", 303)


def check_form_csrf(session: svc.BorrowerSession, token: str) -> None:
    if not token or not same(token, session.csrf_token):
        raise CsrfFailed()


def render(
    request: Request,
    template: str,
    session: svc.BorrowerSession | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    t = Translator(request_lang(request))
    settings = state_of(request).forbear.settings
    return page(
        request,
        template,
        None,
        status_code=status_code,
        lender={  # on every portal page: who the borrower deals with, and how to reach them
            "name": settings.lender_name,
            "licence": settings.lender_licence,
            "hotline": settings.lender_hotline,
            "payment_url": settings.lender_payment_url,
        },
        borrower=session,
        portal_csrf=session.csrf_token if session is not None else None,
        education_lang="en" if t.lang == "en" else "zh",
        **context,
    )


STATUS = {NotFound: 404, ValidationError: 422, Conflict: 409}


def problem(request: Request, session: svc.BorrowerSession | None, exc: ForbearError) -> Response:
    """A refused request on a portal page: the portal's error page in the user's words."""
    t = Translator(request_lang(request))
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    if isinstance(exc, NotFound):
        message = t("portal.error.not_found")
    elif isinstance(exc, ValidationError):
        message = t("portal.error.invalid", field=t.label("portal.field", exc.field))
    elif isinstance(exc, Conflict):
        message = t("portal.error.conflict")
    else:
        message = t("portal.error.refused")
    return render(request, "portal/error.html", session, status_code=status, message=message)


def attempt(request: Request, session: svc.BorrowerSession, work: Callable[[], T]) -> T | Response:
    try:
        return work()
    except ForbearError as exc:
        return problem(request, session, exc)


def act(
    request: Request,
    csrf_token: str,
    work: Callable[[svc.BorrowerSession, WebState], Response],
) -> Response:
    """A portal form's POST: signed in (else to the sign-in page), the session's CSRF
    token, then ``work``; a refusal is the portal's error page and nothing is written."""
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    check_form_csrf(session, csrf_token)
    web = state_of(request)
    return attempt(request, session, lambda: work(session, web))


def loan_id_of(value: str) -> int:
    """A loan id from the URL or a form; anything else is an unknown loan (the portal's
    own 404 page, not the framework's 422)."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LOAN_ID:
        raise NotFound("loan", text[:12])
    return int(text)


# ---------------------------------------------------------------------------- sign-in


def sign_in_form(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A sign-in page (no borrower yet) with a fresh CSRF token in a signed cookie (the
    double-submit check of :func:`check_sign_in_csrf`)."""
    web = state_of(request)
    value = new_token()
    response = render(
        request, template, None, status_code=status_code, sign_in_token=value, **context
    )
    set_cookie(request, response, SIGN_IN_COOKIE, web.signer.sign(value), SIGN_IN_MAX_AGE)
    return response


def check_sign_in_csrf(request: Request, token: str) -> None:
    """The sign-in form's token against its signed cookie (:class:`CsrfFailed` else)."""
    web = state_of(request)
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    expected = web.signer.unsign(cookie, max_age=SIGN_IN_MAX_AGE) if cookie else None
    if expected is None or not token or not same(expected, token):
        raise CsrfFailed()
