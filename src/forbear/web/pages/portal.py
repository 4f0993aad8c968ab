"""The borrower portal's pages (``/portal``), mobile first, Chinese first.

Sign-in by mobile number and a one-time code (:mod:`forbear.services.portal`); the
borrower session lives in its own cookie (:data:`PORTAL_COOKIE`: a random token, signed,
HttpOnly, SameSite=Lax, Secure outside development), separate from the staff's. Nothing
about a debt is shown before sign-in: the sign-in page, the rights page and the education
articles are the only pages open to anyone. Every form carries the borrower session's
CSRF token (the sign-in forms, before a session, a signed double-submit cookie). A loan of
somebody else answers 404 like a loan that does not exist, and nothing is written.

Complaints, contact preferences and history, rights and articles are
:mod:`.portal_contact`; the session cookie :mod:`forbear.web.portal_session`.

In development mode the server log carries one line with the code of a sign-in request
(the issue's demo: there is no SMS gateway); never the number, and never outside
development.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.money import parse_yuan
from forbear.services import education
from forbear.services import portal as svc
from forbear.web import collection_views as views
from forbear.web.deps import WebState, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages import portal_link
from forbear.web.pages.portal_parts import (
    act,
    attempt,
    check_form_csrf,
    check_sign_in_csrf,
    loan_id_of,
    redirect_sign_in,
    render,
    sign_in_form,
)
from forbear.web.portal_session import (
    PORTAL_COOKIE,
    SIGN_IN_COOKIE,
    book_date,
    borrower_of,
    client_key,
    log_dev_code,
    start_session,
)

router = APIRouter()
__all__ = ["PORTAL_COOKIE", "router"]


# ---------------------------------------------------------------------------- sign-in


@router.get("/portal")
def portal_root(request: Request) -> Response:
    target = "/portal/home" if borrower_of(request) is not None else "/portal/sign-in"
    return RedirectResponse(target, 303)


@router.get("/portal/sign-in")
def sign_in_page(
    request: Request, t: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    if borrower_of(request) is not None:
        return RedirectResponse("/portal/home", 303)
    if t is not None:  # a signed link from a message: the borrower pre-selected (issue 13)
        return portal_link.landing(request, t)
    return sign_in_form(request, "portal/sign_in.html", step="mobile", mobile="")


@router.post("/portal/code")
def request_code(
    request: Request,
    mobile: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_sign_in_csrf(request, csrf_token)
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
        return sign_in_form(
            request,
            "portal/sign_in.html",
            status_code=422,
            step="mobile",
            mobile="",
            error=t("portal.sign_in.bad_mobile"),
        )
    except svc.CodeThrottled as exc:
        response = sign_in_form(
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
    return sign_in_form(request, "portal/sign_in.html", step="code", mobile=mobile.strip())


@router.post("/portal/sign-in")
def sign_in(
    request: Request,
    mobile: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_sign_in_csrf(request, csrf_token)
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
        return sign_in_form(
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
        check_form_csrf(session, csrf_token)
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
        return redirect_sign_in()
    web = state_of(request)
    as_of = book_date(request)
    with web.forbear.transaction() as conn:
        loans = svc.loans_of(conn, session.borrower_id)
        owed = [svc.owed(conn, session.borrower_id, loan.loan_id, as_of) for loan in loans]
        suggested = education.suggest(
            {"dpd": max((o.dpd for o in owed), default=0)}
            | {"active_plan": any(o.active_plan_id for o in owed)}
        )
    return render(
        request,
        "portal/home.html",
        session,
        owed=owed,
        as_of=as_of,
        done=done,
        suggested=suggested,
    )


@router.get("/portal/loans/{loan_id}")
def loan_page(
    request: Request, loan_id: str, done: str | None = None, survey: str | None = None
) -> Response:
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    return _loan(request, session, loan_id, done=done, survey=_survey(survey))


def _loan(
    request: Request,
    session: svc.BorrowerSession,
    loan_id: str,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    """The loan page: what is owed, the plan in force or offered with its schedule, and
    only the forms that make sense (none to pay, promise, plan or dispute on a loan that
    is paid off or no longer active)."""
    web = state_of(request)
    as_of = book_date(request)

    def read() -> Response:
        with web.forbear.transaction() as conn:
            owed = svc.owed(conn, session.borrower_id, loan_id_of(loan_id), as_of)
            plan = svc.current_plan(conn, session.borrower_id, owed.loan.loan_id)
        settled = owed.status != "active" or owed.outstanding_total <= 0
        return render(
            request,
            "portal/loan.html",
            session,
            status_code=status_code,
            owed=owed,
            as_of=as_of,
            plan=plan,
            settled=settled,
            methods=svc.PAYMENT_METHODS,
            reasons=svc.DISPUTE_REASONS,
            **extra,
        )

    return attempt(request, session, read)


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
        loan = loan_id_of(loan_id)
        with web.forbear.transaction() as conn:
            svc.answer_survey(
                conn,
                borrower_id=session.borrower_id,
                loan_id=loan,
                subject_type=subject_type,
                subject_id=int(subject_id),
                score=int(score),
                now=web.now(),
            )
        return _done(loan, "survey")

    return act(request, csrf_token, work)


@router.post("/portal/loans/{loan_id}/pay")
def pay(
    request: Request,
    loan_id: str,
    amount: Annotated[str, Form(max_length=30)] = "",
    method: Annotated[str, Form(max_length=30)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        as_of = book_date(request)
        fen = parse_yuan(amount)
        with web.forbear.transaction() as conn:
            svc.record_payment_intent(
                conn,
                borrower_id=session.borrower_id,
                loan_id=loan_id_of(loan_id),
                amount=fen,
                method=method,
                as_of=as_of,
                now=web.now(),
            )
        return _done(loan_id_of(loan_id), "pay")

    return act(request, csrf_token, work)


@router.post("/portal/loans/{loan_id}/promise")
def promise(
    request: Request,
    loan_id: str,
    amount: Annotated[str, Form(max_length=30)] = "",
    promised_on: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        as_of = book_date(request)
        try:
            fen = parse_yuan(amount, field="amount")
            try:
                day = date.fromisoformat(promised_on.strip())
            except ValueError:
                raise ValidationError("promised_on", "a date (YYYY-MM-DD)") from None
            with web.forbear.transaction() as conn:
                made = svc.make_promise(
                    conn,
                    borrower_id=session.borrower_id,
                    loan_id=loan_id_of(loan_id),
                    amount=fen,
                    promised_on=day,
                    as_of=as_of,
                    now=web.now(),
                )
        except (ValidationError, Conflict) as exc:  # beside the form, what was typed kept
            return _loan(
                request,
                session,
                loan_id,
                status_code=422 if isinstance(exc, ValidationError) else 409,
                promise_error=_refused_words(request, exc),
                promise_error_field=exc.field if isinstance(exc, ValidationError) else None,
                promise_form={"amount": amount, "promised_on": promised_on},
            )
        return _done(loan_id_of(loan_id), "promise", survey=f"promise:{made}")

    return act(request, csrf_token, work)


def _refused_words(request: Request, exc: ValidationError | Conflict) -> str:
    """A refused portal form value in the borrower's language: the field's label and the
    reason with its limit (:func:`forbear.web.collection_views.refusal_words`)."""
    t = Translator(request_lang(request))
    if isinstance(exc, Conflict):
        return t("portal.error.conflict")
    label, reason = views.refusal_words(exc, t, "portal")
    if reason == exc.reason:  # a check without words of its own: the label, in general
        return t("portal.error.invalid", field=label)
    return t("portal.refuse.field", field=label, reason=reason)


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
                loan_id=loan_id_of(loan_id),
                reason=reason,
                now=web.now(),
            )
        return _done(loan_id_of(loan_id), "dispute")

    return act(request, csrf_token, work)


@router.get("/portal/loans/{loan_id}/plans")
def plans_page(request: Request, loan_id: str) -> Response:
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    web = state_of(request)
    as_of = book_date(request)

    def read() -> Response:
        with web.forbear.transaction() as conn:
            owed = svc.owed(conn, session.borrower_id, loan_id_of(loan_id), as_of)
            options, reason = svc.plan_options(conn, session.borrower_id, owed.loan.loan_id, as_of)
        return render(
            request,
            "portal/plans.html",
            session,
            owed=owed,
            options=options,
            unavailable=reason is not None or not options,
        )

    return attempt(request, session, read)


@router.get("/portal/loans/{loan_id}/plans/review")
def review_plan(
    request: Request, loan_id: str, option: Annotated[str, Query(max_length=40)] = ""
) -> Response:
    """The confirm step: the chosen plan's every instalment (date and amount) and its
    total cost, before the borrower agrees."""
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    web = state_of(request)
    as_of = book_date(request)

    def read() -> Response:
        with web.forbear.transaction() as conn:
            owed = svc.owed(conn, session.borrower_id, loan_id_of(loan_id), as_of)
            chosen = svc.plan_option(conn, session.borrower_id, owed.loan.loan_id, option, as_of)
        return render(request, "portal/plan_review.html", session, owed=owed, o=chosen)

    return attempt(request, session, read)


@router.post("/portal/loans/{loan_id}/plans/{plan_id}/accept")
def accept_offer(
    request: Request,
    loan_id: str,
    plan_id: str,
    confirm: Annotated[str, Form(max_length=2)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The borrower accepts a plan offered to them (approved by a supervisor, or offered
    by an agent) after seeing its schedule on the loan page."""

    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        if confirm != "1":
            raise ValidationError("confirm", "tick to confirm you agree to the schedule")
        with web.forbear.transaction() as conn:
            svc.accept_offer(
                conn,
                borrower_id=session.borrower_id,
                loan_id=loan_id_of(loan_id),
                plan_id=loan_id_of(plan_id),
                as_of=book_date(request),
            )
        return _done(loan_id_of(loan_id), "plan", survey=f"plan:{loan_id_of(plan_id)}")

    return act(request, csrf_token, work)


@router.post("/portal/loans/{loan_id}/plans")
def choose_plan(
    request: Request,
    loan_id: str,
    option: Annotated[str, Form(max_length=40)] = "",
    confirm: Annotated[str, Form(max_length=2)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if confirm != "1":  # no plan without its schedule seen first: to the confirm step
        target = f"/portal/loans/{loan_id_of(loan_id)}/plans/review?option={quote(option)}"
        return RedirectResponse(target, 303)

    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        as_of = book_date(request)
        with web.forbear.transaction() as conn:
            chosen = svc.choose_plan(
                conn,
                borrower_id=session.borrower_id,
                loan_id=loan_id_of(loan_id),
                option=option,
                as_of=as_of,
            )
        return _done(loan_id_of(loan_id), "plan", survey=f"plan:{chosen.id}")

    return act(request, csrf_token, work)


@router.get("/portal/requests")
def requests_page(request: Request) -> Response:
    """My requests: the borrower's promises, disputes (with the evidence upload while one
    is open), complaints, plans and plan requests, with their statuses."""
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = svc.my_requests(conn, session.borrower_id, now=web.now())
    return render(request, "portal/requests.html", session, items=found)
