"""The borrower portal's pages (``/portal``), mobile first, Chinese first.

Sign-in by mobile number and a one-time code (:mod:`forbear.services.portal`); the
borrower session lives in its own cookie (:data:`PORTAL_COOKIE`: a random token, signed,
HttpOnly, SameSite=Lax, Secure outside development), separate from the staff's. Nothing
about a debt is shown before sign-in: the sign-in page, the rights page and the education
articles are the only pages open to anyone. Every form carries the borrower session's
CSRF token (the sign-in forms, before a session, a signed double-submit cookie). A loan of
somebody else answers 404 like a loan that does not exist, and nothing is written.

In development mode the server log carries one line with the code of a sign-in request
(the issue's demo: there is no SMS gateway); never the number, and never outside
development.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import Conflict, ForbearError, NotFound, ValidationError
from forbear.domain.money import parse_yuan
from forbear.services import complaints as complaint_service
from forbear.services import contacts as contact_service
from forbear.services import education
from forbear.services import portal as svc
from forbear.services.credentials import new_token
from forbear.settings import Environment
from forbear.store.portal import PAYMENT_METHODS
from forbear.web import reads
from forbear.web.deps import WebState, state_of
from forbear.web.errors import CsrfFailed
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.render import page
from forbear.web.security import request_client, same

log = logging.getLogger("forbear.web.portal")
router = APIRouter()
PORTAL_COOKIE = "forbear_portal"
SIGN_IN_COOKIE = "forbear_portal_sign_in"
SIGN_IN_MAX_AGE = 900
MAX_LOAN_ID = 2**31 - 1
T = TypeVar("T")

COMPLAINT_CATEGORIES = ("harassment", "third_party", "privacy", "amount", "attitude", "other")


# ---------------------------------------------------------------------------- sessions


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


def _redirect_sign_in() -> Response:
    return RedirectResponse("/portal/sign-in", 303)


def _check_form_csrf(session: svc.BorrowerSession, token: str) -> None:
    if not token or not same(token, session.csrf_token):
        raise CsrfFailed()


def _book_date(request: Request) -> date:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = reads.book_date(conn, web.today())
    return found or web.today()


def _render(
    request: Request,
    template: str,
    session: svc.BorrowerSession | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    t = Translator(request_lang(request))
    return page(
        request,
        template,
        None,
        status_code=status_code,
        borrower=session,
        portal_csrf=session.csrf_token if session is not None else None,
        education_lang="en" if t.lang == "en" else "zh",
        **context,
    )


STATUS = {NotFound: 404, ValidationError: 422, Conflict: 409}


def _problem(request: Request, session: svc.BorrowerSession | None, exc: ForbearError) -> Response:
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
    return _render(request, "portal/error.html", session, status_code=status, message=message)


def _attempt(request: Request, session: svc.BorrowerSession, work: Callable[[], T]) -> T | Response:
    try:
        return work()
    except ForbearError as exc:
        return _problem(request, session, exc)


def _act(
    request: Request,
    csrf_token: str,
    work: Callable[[svc.BorrowerSession, WebState], Response],
) -> Response:
    """A portal form's POST: signed in (else to the sign-in page), the session's CSRF
    token, then ``work``; a refusal is the portal's error page and nothing is written."""
    session = borrower_of(request)
    if session is None:
        return _redirect_sign_in()
    _check_form_csrf(session, csrf_token)
    web = state_of(request)
    return _attempt(request, session, lambda: work(session, web))


# ---------------------------------------------------------------------------- sign-in


def _sign_in_form(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    web = state_of(request)
    value = new_token()
    response = _render(
        request, template, None, status_code=status_code, sign_in_token=value, **context
    )
    set_cookie(request, response, SIGN_IN_COOKIE, web.signer.sign(value), SIGN_IN_MAX_AGE)
    return response


def _check_sign_in_csrf(request: Request, token: str) -> None:
    web = state_of(request)
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    expected = web.signer.unsign(cookie, max_age=SIGN_IN_MAX_AGE) if cookie else None
    if expected is None or not token or not same(expected, token):
        raise CsrfFailed()


@router.get("/portal")
def portal_root(request: Request) -> Response:
    target = "/portal/home" if borrower_of(request) is not None else "/portal/sign-in"
    return RedirectResponse(target, 303)


@router.get("/portal/sign-in")
def sign_in_page(request: Request) -> Response:
    if borrower_of(request) is not None:
        return RedirectResponse("/portal/home", 303)
    return _sign_in_form(request, "portal/sign_in.html", step="mobile", mobile="")


@router.post("/portal/code")
def request_code(
    request: Request,
    mobile: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _check_sign_in_csrf(request, csrf_token)
    web = state_of(request)
    t = Translator(request_lang(request))
    try:
        with web.forbear.transaction() as conn:
            sent = svc.request_code(
                conn,
                web.forbear.vault,
                mobile=mobile,
                client_key=client_key(request),
                now=web.now(),
            )
    except ValidationError:
        return _sign_in_form(
            request,
            "portal/sign_in.html",
            status_code=422,
            step="mobile",
            mobile="",
            error=t("portal.sign_in.bad_mobile"),
        )
    except svc.CodeThrottled as exc:
        response = _sign_in_form(
            request,
            "portal/sign_in.html",
            status_code=429,
            step="mobile",
            mobile="",
            error=t("portal.sign_in.throttled", minutes=max(1, -(-exc.retry_after // 60))),
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    log_dev_code(web, sent)
    return _sign_in_form(request, "portal/sign_in.html", step="code", mobile=mobile.strip())


@router.post("/portal/sign-in")
def sign_in(
    request: Request,
    mobile: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _check_sign_in_csrf(request, csrf_token)
    web = state_of(request)
    t = Translator(request_lang(request))
    opened = None
    try:
        with web.forbear.transaction() as conn:
            opened = svc.verify_code(
                conn, web.forbear.vault, mobile=mobile, code=code, now=web.now()
            )
    except ValidationError:
        pass
    if opened is None:
        return _sign_in_form(
            request,
            "portal/sign_in.html",
            status_code=401,
            step="code",
            mobile=mobile.strip()[:40],
            error=t("portal.sign_in.failed"),
        )
    response = RedirectResponse("/portal/home", 303)
    start_session(request, response, opened)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.post("/portal/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    session = borrower_of(request)
    response = RedirectResponse("/portal/sign-in", 303)
    if session is not None:
        _check_form_csrf(session, csrf_token)
        web = state_of(request)
        with web.forbear.transaction() as conn:
            svc.sign_out(conn, session, web.now())
    response.delete_cookie(PORTAL_COOKIE, path="/")
    return response


# ---------------------------------------------------------------------------- the debt


@router.get("/portal/home")
def home(request: Request, done: str | None = None) -> Response:
    session = borrower_of(request)
    if session is None:
        return _redirect_sign_in()
    web = state_of(request)
    as_of = _book_date(request)
    with web.forbear.transaction() as conn:
        loans = svc.loans_of(conn, session.borrower_id)
        owed = [svc.owed(conn, session.borrower_id, loan.loan_id, as_of) for loan in loans]
        suggested = education.suggest(
            {"dpd": max((o.dpd for o in owed), default=0)}
            | {"active_plan": any(o.active_plan_id for o in owed)}
        )
    return _render(
        request,
        "portal/home.html",
        session,
        owed=owed,
        as_of=as_of,
        done=done,
        suggested=suggested,
    )


def _loan_id(value: str) -> int:
    """A loan id from the URL or a form; anything else is an unknown loan (the portal's
    own 404 page, not the framework's 422)."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LOAN_ID:
        raise NotFound("loan", text[:12])
    return int(text)


@router.get("/portal/loans/{loan_id}")
def loan_page(
    request: Request, loan_id: str, done: str | None = None, survey: str | None = None
) -> Response:
    session = borrower_of(request)
    if session is None:
        return _redirect_sign_in()
    web = state_of(request)
    as_of = _book_date(request)

    def read() -> svc.Owed:
        with web.forbear.transaction() as conn:
            return svc.owed(conn, session.borrower_id, _loan_id(loan_id), as_of)

    owed = _attempt(request, session, read)
    if isinstance(owed, Response):
        return owed
    return _render(
        request,
        "portal/loan.html",
        session,
        owed=owed,
        as_of=as_of,
        done=done,
        survey=_survey(survey),
        methods=PAYMENT_METHODS,
        reasons=svc.DISPUTE_REASONS,
    )


def _done(loan_id: int, what: str, survey: str | None = None) -> Response:
    """Back to the loan page with its notice (and, after a promise or a plan, the
    one-question satisfaction survey about it)."""
    ask = f"&survey={survey}" if survey else ""
    return RedirectResponse(f"/portal/loans/{loan_id}?done={what}{ask}", 303)


SURVEY_SUBJECTS = ("plan", "promise")


def _survey(value: str | None) -> dict[str, Any] | None:
    """``plan:12`` / ``promise:7`` from the query, else None (anything else is ignored:
    the survey only appears, the answer is checked when it is posted)."""
    kind, _, number = (value or "").partition(":")
    if kind in SURVEY_SUBJECTS and number.isdigit() and 1 <= int(number) <= 2**31:
        return {"subject_type": kind, "subject_id": int(number)}
    return None


@router.post("/portal/survey")
def answer_survey(
    request: Request,
    subject_type: Annotated[str, Form(max_length=20)] = "",
    subject_id: Annotated[str, Form(max_length=12)] = "",
    loan_id: Annotated[str, Form(max_length=12)] = "",
    score: Annotated[str, Form(max_length=2)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        if subject_type not in SURVEY_SUBJECTS or not subject_id.isdigit():
            raise ValidationError("subject_id", "a plan or a promise of yours")
        if not score.isdigit():
            raise ValidationError("score", "a whole number from 1 to 5")
        loan = _loan_id(loan_id)
        with web.forbear.transaction() as conn:
            svc.own_loan(conn, session.borrower_id, loan)
            complaint_service.record_satisfaction(
                conn,
                borrower_id=session.borrower_id,
                subject_type=subject_type,
                subject_id=int(subject_id),
                score=int(score),
                actor=session.actor,
                now=web.now(),
                loan_id=loan,
            )
        return _done(loan, "survey")

    return _act(request, csrf_token, work)


@router.post("/portal/loans/{loan_id}/pay")
def pay(
    request: Request,
    loan_id: str,
    amount: Annotated[str, Form(max_length=30)] = "",
    method: Annotated[str, Form(max_length=30)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        as_of = _book_date(request)
        fen = parse_yuan(amount)
        with web.forbear.transaction() as conn:
            svc.record_payment_intent(
                conn,
                borrower_id=session.borrower_id,
                loan_id=_loan_id(loan_id),
                amount=fen,
                method=method,
                as_of=as_of,
                now=web.now(),
            )
        return _done(_loan_id(loan_id), "pay")

    return _act(request, csrf_token, work)


@router.post("/portal/loans/{loan_id}/promise")
def promise(
    request: Request,
    loan_id: str,
    amount: Annotated[str, Form(max_length=30)] = "",
    promised_on: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        as_of = _book_date(request)
        fen = parse_yuan(amount)
        try:
            day = date.fromisoformat(promised_on)
        except ValueError:
            raise ValidationError("promised_on", "a date (YYYY-MM-DD)") from None
        with web.forbear.transaction() as conn:
            made = svc.make_promise(
                conn,
                borrower_id=session.borrower_id,
                loan_id=_loan_id(loan_id),
                amount=fen,
                promised_on=day,
                as_of=as_of,
                now=web.now(),
            )
        return _done(_loan_id(loan_id), "promise", survey=f"promise:{made}")

    return _act(request, csrf_token, work)


@router.post("/portal/loans/{loan_id}/dispute")
def dispute(
    request: Request,
    loan_id: str,
    reason: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        with web.forbear.transaction() as conn:
            svc.dispute(
                conn,
                borrower_id=session.borrower_id,
                loan_id=_loan_id(loan_id),
                reason=reason,
                now=web.now(),
            )
        return _done(_loan_id(loan_id), "dispute")

    return _act(request, csrf_token, work)


@router.get("/portal/loans/{loan_id}/plans")
def plans_page(request: Request, loan_id: str) -> Response:
    session = borrower_of(request)
    if session is None:
        return _redirect_sign_in()
    web = state_of(request)
    as_of = _book_date(request)

    def read() -> Response:
        with web.forbear.transaction() as conn:
            owed = svc.owed(conn, session.borrower_id, _loan_id(loan_id), as_of)
            options, reason = svc.plan_options(conn, session.borrower_id, owed.loan.loan_id, as_of)
        return _render(
            request,
            "portal/plans.html",
            session,
            owed=owed,
            options=options,
            unavailable=reason is not None or not options,
        )

    return _attempt(request, session, read)


@router.post("/portal/loans/{loan_id}/plans")
def choose_plan(
    request: Request,
    loan_id: str,
    option: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        as_of = _book_date(request)
        with web.forbear.transaction() as conn:
            chosen = svc.choose_plan(
                conn,
                borrower_id=session.borrower_id,
                loan_id=_loan_id(loan_id),
                option=option,
                as_of=as_of,
            )
        return _done(_loan_id(loan_id), "plan", survey=f"plan:{chosen.id}")

    return _act(request, csrf_token, work)


# ---------------------------------------------------------------------------- complain


@router.get("/portal/complain")
def complain_page(request: Request, done: str | None = None) -> Response:
    session = borrower_of(request)
    if session is None:
        return _redirect_sign_in()
    web = state_of(request)
    with web.forbear.transaction() as conn:
        loans = svc.loans_of(conn, session.borrower_id)
    return _render(
        request,
        "portal/complain.html",
        session,
        loans=loans,
        categories=COMPLAINT_CATEGORIES,
        done=done,
    )


@router.post("/portal/complain")
def complain(
    request: Request,
    category: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    loan_id: Annotated[str, Form(max_length=12)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        loan: int | None = None
        if loan_id.strip():
            if not loan_id.strip().isdigit():
                raise ValidationError("loan_id", "a loan of yours")
            loan = _loan_id(loan_id)
        with web.forbear.transaction() as conn:
            if loan is not None:
                svc.own_loan(conn, session.borrower_id, loan)
            complaint_service.file_complaint(
                conn,
                web.forbear.vault,
                borrower_id=session.borrower_id,
                loan_id=loan,
                source="portal",
                category=category,
                description=description,
                actor=session.actor,
                now=web.now(),
            )
        return RedirectResponse("/portal/complain?done=1", 303)

    return _act(request, csrf_token, work)


# ---------------------------------------------------------------------------- contact


@router.get("/portal/preferences")
def preferences_page(request: Request, done: str | None = None) -> Response:
    session = borrower_of(request)
    if session is None:
        return _redirect_sign_in()
    web = state_of(request)
    with web.forbear.transaction() as conn:
        stopped = svc.opted_out(conn, session.borrower_id)
    return _render(
        request,
        "portal/preferences.html",
        session,
        channels=[c.value for c in svc.OPT_OUT_CHANNELS],
        stopped=stopped,
        done=done,
    )


@router.post("/portal/preferences")
def opt_out(
    request: Request,
    channel: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        with web.forbear.transaction() as conn:
            svc.opt_out(conn, borrower_id=session.borrower_id, channel=channel, now=web.now())
        return RedirectResponse("/portal/preferences?done=1", 303)

    return _act(request, csrf_token, work)


@router.get("/portal/contacts")
def contacts_page(request: Request) -> Response:
    session = borrower_of(request)
    if session is None:
        return _redirect_sign_in()
    web = state_of(request)
    zone = web.forbear.settings.zone
    with web.forbear.transaction() as conn:
        history = svc.contact_history(conn, session.borrower_id)
    rows = [(h.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), h) for h in history]
    return _render(request, "portal/contacts.html", session, rows=rows)


@router.get("/portal/rights")
def rights_page(request: Request) -> Response:
    session = borrower_of(request)
    web = state_of(request)
    with web.forbear.transaction() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
    return _render(request, "portal/rights.html", session, rights=svc.rights(rules))


# ---------------------------------------------------------------------------- learn


@router.get("/portal/learn")
def learn(request: Request) -> Response:
    session = borrower_of(request)
    t = Translator(request_lang(request))
    items = education.articles("en" if t.lang == "en" else "zh")
    return _render(request, "portal/learn.html", session, articles=items)


@router.get("/portal/learn/{slug}")
def article_page(request: Request, slug: str) -> Response:
    session = borrower_of(request)
    web = state_of(request)
    t = Translator(request_lang(request))
    lang = "en" if t.lang == "en" else "zh"
    if slug not in education.slugs():
        return _render(
            request,
            "portal/error.html",
            session,
            status_code=404,
            message=t("portal.error.no_article"),
        )
    item = education.article(slug, lang)
    with web.forbear.transaction() as conn:
        education.record_view(
            conn, slug, session.borrower_id if session else None, web.now(), lang=lang
        )
    return _render(request, "portal/article.html", session, article=item)
