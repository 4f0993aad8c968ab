"""The borrower portal's API (``/api/v1/portal/...``); the education library
(``/api/v1/education/...``) is :mod:`forbear.web.api.education`.

A borrower authenticates with the portal session cookie (``POST /portal/session`` after
``POST /portal/code``); unsafe methods need the session's CSRF token in ``X-CSRF-Token``.
Staff credentials do not open borrower routes, and a borrower session opens no staff
route. A loan that is not the signed-in borrower's answers 404 like an unknown one, and
nothing is written. Code requests answer 202 whether or not the number is a borrower's
(no enumeration); beyond the limits, 429 with ``Retry-After``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from forbear.domain.complaints import ComplaintCategory as DomainComplaintCategory
from forbear.services import contacts as contact_service
from forbear.services import portal as svc
from forbear.web import portal_session
from forbear.web.api.schemas import Money
from forbear.web.deps import CSRF_HEADER, require_any, state_of
from forbear.web.errors import CsrfFailed, ErrorBody, ErrorResponse, Unauthenticated
from forbear.web.i18n import Translator, request_lang
from forbear.web.permissions import MANAGEMENT_VIEW, MAX_ID
from forbear.web.security import same
from forbear.web.sessions import Principal

router = APIRouter(tags=["portal"])
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
Manager = Annotated[Principal, Depends(require_any(*MANAGEMENT_VIEW))]

PaymentMethod = Literal["bank_transfer", "alipay", "wechat_pay", "union_pay"]
DisputeReason = Literal["amount_wrong", "already_paid", "not_my_loan", "other"]
OptOutChannel = Literal["call", "ai_call", "sms", "im", "email"]
ComplaintCategory = DomainComplaintCategory  # the one list: forbear.domain.complaints


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- auth


def borrower(request: Request) -> svc.BorrowerSession:
    session = portal_session.borrower_of(request)
    if session is None:
        raise Unauthenticated(invalid=False)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not same(sent, session.csrf_token):
            raise CsrfFailed()
    return session


Borrower = Annotated[svc.BorrowerSession, Depends(borrower)]


def _throttled(request: Request, exc: svc.CodeThrottled) -> Response:
    t = Translator(request_lang(request))
    body = ErrorResponse(
        error=ErrorBody(
            code="rate_limited", message=t("portal.error.throttled", seconds=exc.retry_after)
        )
    )
    return JSONResponse(
        body.model_dump(), status_code=429, headers={"Retry-After": str(exc.retry_after)}
    )


class CodeRequest(Strict):
    mobile: str = Field(min_length=1, max_length=32, examples=["13812345678"])


class CodeAccepted(BaseModel):
    accepted: bool = Field(examples=[True])
    expires_in_seconds: int = Field(examples=[300])


@router.post(
    "/portal/code",
    response_model=CodeAccepted,
    status_code=202,
    summary="Send a sign-in code by SMS (same answer for unknown numbers)",
)
def request_code(request: Request, body: CodeRequest) -> CodeAccepted | Response:
    web = state_of(request)
    try:
        with web.forbear.transaction() as conn:
            sent = svc.request_code(
                conn,
                web.forbear.vault,
                mobile=body.mobile,
                client_key=portal_session.client_key(request),
                now=web.now(),
            )
    except svc.CodeThrottled as exc:
        return _throttled(request, exc)
    portal_session.log_dev_code(web, sent)
    return CodeAccepted(accepted=True, expires_in_seconds=int(svc.CODE_TTL.total_seconds()))


class SessionRequest(Strict):
    mobile: str = Field(min_length=1, max_length=32, examples=["13812345678"])
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$", examples=["123456"])


class SessionOut(BaseModel):
    csrf_token: str = Field(description="send as X-CSRF-Token on unsafe requests")
    expires_at: datetime


@router.post(
    "/portal/session",
    response_model=SessionOut,
    status_code=201,
    summary="Sign in with the code: sets the portal session cookie",
)
def open_session(request: Request, body: SessionRequest) -> SessionOut | Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        opened = svc.verify_code(
            conn, web.forbear.vault, mobile=body.mobile, code=body.code, now=web.now()
        )
    if opened is None:
        t = Translator(request_lang(request))
        error = ErrorResponse(
            error=ErrorBody(code="sign_in_failed", message=t("portal.error.code"))
        )
        return JSONResponse(error.model_dump(), status_code=401)
    out = SessionOut(csrf_token=opened.session.csrf_token, expires_at=web.now() + svc.ABSOLUTE)
    response = JSONResponse(out.model_dump(mode="json"), status_code=201)
    portal_session.start_session(request, response, opened)
    return response


@router.delete("/portal/session", status_code=204, summary="Sign out of the portal")
def close_session(request: Request, session: Borrower) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        svc.sign_out(conn, session, web.now())
    response = Response(status_code=204)
    response.delete_cookie(portal_session.PORTAL_COOKIE, path="/")
    return response


# ---------------------------------------------------------------------------- loans


class OwedOut(BaseModel):
    loan_id: int
    loan_ref: str = Field(examples=["L000123"])
    as_of: date
    status: str = Field(examples=["active"])
    dpd: int = Field(examples=[35])
    overdue_principal: Money
    overdue_interest: Money
    overdue_fee: Money
    overdue_penalty: Money
    overdue_total: Money
    oldest_due_date: date | None
    next_due_date: date | None
    next_due_amount: Money | None
    outstanding_total: Money
    active_plan_id: int | None


def owed_out(o: svc.Owed) -> OwedOut:
    return OwedOut(
        loan_id=o.loan.loan_id,
        loan_ref=o.loan.loan_ref,
        as_of=o.as_of,
        status=o.status,
        dpd=o.dpd,
        overdue_principal=Money.of(o.overdue_principal),
        overdue_interest=Money.of(o.overdue_interest),
        overdue_fee=Money.of(o.overdue_fee),
        overdue_penalty=Money.of(o.overdue_penalty),
        overdue_total=Money.of(o.overdue_total),
        oldest_due_date=o.oldest_due_date,
        next_due_date=o.next_due_date,
        next_due_amount=Money.maybe(o.next_due_amount),
        outstanding_total=Money.of(o.outstanding_total),
        active_plan_id=o.active_plan_id,
    )


@router.get(
    "/portal/loans",
    response_model=list[OwedOut],
    summary="The signed-in borrower's loans: what is owed and when",
)
def my_loans(request: Request, session: Borrower) -> list[OwedOut]:
    web = state_of(request)
    as_of = portal_session.book_date(request)
    with web.forbear.transaction() as conn:
        loans = svc.loans_of(conn, session.borrower_id)
        return [owed_out(svc.owed(conn, session.borrower_id, x.loan_id, as_of)) for x in loans]


@router.get(
    "/portal/loans/{loan_id}", response_model=OwedOut, summary="One of the borrower's loans"
)
def my_loan(request: Request, session: Borrower, loan_id: LoanId) -> OwedOut:
    web = state_of(request)
    as_of = portal_session.book_date(request)
    with web.forbear.transaction() as conn:
        return owed_out(svc.owed(conn, session.borrower_id, loan_id, as_of))


class PaymentIntentIn(Strict):
    amount: StrictInt = Field(ge=1, le=svc.MAX_INTENT, description="fen", examples=[50000])
    method: PaymentMethod = Field(examples=["alipay"])


class Created(BaseModel):
    id: int = Field(examples=[42])


@router.post(
    "/portal/loans/{loan_id}/payment-intents",
    response_model=Created,
    status_code=201,
    summary="Record what the borrower will pay and how (not a payment)",
)
def payment_intent(
    request: Request, session: Borrower, loan_id: LoanId, body: PaymentIntentIn
) -> Created:
    web = state_of(request)
    as_of = portal_session.book_date(request)
    with web.forbear.transaction() as conn:
        found = svc.record_payment_intent(
            conn,
            borrower_id=session.borrower_id,
            loan_id=loan_id,
            amount=body.amount,
            method=body.method,
            as_of=as_of,
            now=web.now(),
        )
    return Created(id=found)


class PromiseIn(Strict):
    amount: StrictInt = Field(ge=1, le=svc.MAX_INTENT, description="fen", examples=[50000])
    promised_on: date = Field(examples=["2026-11-25"])


@router.post(
    "/portal/loans/{loan_id}/promises",
    response_model=Created,
    status_code=201,
    summary="Promise to pay (source portal)",
)
def promise(request: Request, session: Borrower, loan_id: LoanId, body: PromiseIn) -> Created:
    web = state_of(request)
    as_of = portal_session.book_date(request)
    with web.forbear.transaction() as conn:
        found = svc.make_promise(
            conn,
            borrower_id=session.borrower_id,
            loan_id=loan_id,
            amount=body.amount,
            promised_on=body.promised_on,
            as_of=as_of,
            now=web.now(),
        )
    return Created(id=found)


class PlanOptionOut(BaseModel):
    key: str = Field(examples=["restructure-6"])
    plan_type: str = Field(examples=["restructure"])
    months: int
    instalments: int
    first_due_date: date
    first_amount: Money
    largest_amount: Money
    total: Money
    lines: int


class PlanOptionsOut(BaseModel):
    options: list[PlanOptionOut]
    available: bool


@router.get(
    "/portal/loans/{loan_id}/plan-options",
    response_model=PlanOptionsOut,
    summary="The repayment plans the borrower may choose on the loan now",
)
def plan_options(request: Request, session: Borrower, loan_id: LoanId) -> PlanOptionsOut:
    web = state_of(request)
    as_of = portal_session.book_date(request)
    with web.forbear.transaction() as conn:
        options, _ = svc.plan_options(conn, session.borrower_id, loan_id, as_of)
    return PlanOptionsOut(
        options=[
            PlanOptionOut(
                key=o.key,
                plan_type=o.plan_type,
                months=o.months,
                instalments=o.instalments,
                first_due_date=o.first_due_date,
                first_amount=Money.of(o.first_amount),
                largest_amount=Money.of(o.largest_amount),
                total=Money.of(o.total),
                lines=o.lines,
            )
            for o in options
        ],
        available=bool(options),
    )


class PlanChoice(Strict):
    option: str = Field(min_length=1, max_length=40, examples=["restructure-6"])


class PlanOut(BaseModel):
    plan_id: int
    status: str = Field(examples=["accepted"])
    plan_type: str = Field(examples=["restructure"])


@router.post(
    "/portal/loans/{loan_id}/plans",
    response_model=PlanOut,
    status_code=201,
    summary="Choose one of the plan options: offered and accepted at once",
)
def choose_plan(request: Request, session: Borrower, loan_id: LoanId, body: PlanChoice) -> PlanOut:
    web = state_of(request)
    as_of = portal_session.book_date(request)
    with web.forbear.transaction() as conn:
        plan = svc.choose_plan(
            conn, borrower_id=session.borrower_id, loan_id=loan_id, option=body.option, as_of=as_of
        )
    return PlanOut(plan_id=plan.id, status=plan.status.value, plan_type=plan.plan_type.value)


class DisputeIn(Strict):
    reason: DisputeReason = Field(examples=["amount_wrong"])


@router.post(
    "/portal/loans/{loan_id}/disputes",
    response_model=Created,
    status_code=201,
    summary="Dispute the debt: collection of the loan stops while staff check it",
)
def dispute(request: Request, session: Borrower, loan_id: LoanId, body: DisputeIn) -> Created:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = svc.dispute(
            conn,
            borrower_id=session.borrower_id,
            loan_id=loan_id,
            reason=body.reason,
            now=web.now(),
        )
    return Created(id=found)


class ComplaintIn(Strict):
    loan_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    category: ComplaintCategory = Field(examples=["harassment"])
    description: str = Field(min_length=1, max_length=2000, examples=["太频繁的电话"])


@router.post(
    "/portal/complaints",
    response_model=Created,
    status_code=201,
    summary="File a complaint (answered within 15 days)",
)
def complain(request: Request, session: Borrower, body: ComplaintIn) -> Created:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = svc.complain(
            conn,
            web.forbear.vault,
            borrower_id=session.borrower_id,
            loan_id=body.loan_id,
            category=body.category,
            description=body.description,
            now=web.now(),
        )
    return Created(id=found)


class OptOutIn(Strict):
    channel: OptOutChannel = Field(examples=["sms"])


@router.post(
    "/portal/opt-outs",
    response_model=Created,
    status_code=201,
    summary="Stop one channel of contact for every loan",
)
def opt_out(request: Request, session: Borrower, body: OptOutIn) -> Created:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = svc.opt_out(
            conn, borrower_id=session.borrower_id, channel=body.channel, now=web.now()
        )
    return Created(id=found)


class ContactOut(BaseModel):
    at: datetime
    loan_ref: str
    channel: str = Field(examples=["call"])
    outcome: str | None = Field(examples=["connected"])


@router.get(
    "/portal/contacts",
    response_model=list[ContactOut],
    summary="The contacts the borrower received (never who made them)",
)
def contacts(request: Request, session: Borrower) -> list[ContactOut]:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = svc.contact_history(conn, session.borrower_id)
    return [
        ContactOut(at=c.at, loan_ref=c.loan_ref, channel=c.channel, outcome=c.outcome)
        for c in found
    ]


class RightsOut(BaseModel):
    hotline: str = Field(examples=["12378"])
    contact_windows: list[str] = Field(examples=[["08:00-21:00"]])
    complaint_days: int = Field(examples=[15])


@router.get("/portal/rights", response_model=RightsOut, summary="The borrower's rights (public)")
def rights(request: Request) -> RightsOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
    found = svc.rights(rules)
    return RightsOut(
        hotline=found.hotline,
        contact_windows=found.contact_windows,
        complaint_days=found.complaint_days,
    )
