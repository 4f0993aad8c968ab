"""Accounts: list with filters and pages, one account, its timeline and decisions,
audited unmasking of one personal field (throttled per user: :mod:`forbear.web.unmasking`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.services import scope
from forbear.services import unmasking as unmask_service
from forbear.services.accounts import history, views
from forbear.services.accounts.views import LoanStatus
from forbear.services.contacts import lender_rules
from forbear.services.days import book_date, queue_date
from forbear.web import unmasking
from forbear.web.api.schemas import (
    AccountDetailOut,
    AccountList,
    AccountSummary,
    BorrowerView,
    DecisionList,
    DecisionOut,
    HoldView,
    Money,
    ProductView,
    ReasonView,
    ScoreOut,
    SituationView,
    StateView,
    TimelineItem,
    TimelineOut,
    UnmaskOut,
    UnmaskRequest,
)
from forbear.web.deps import gate_lang, require_any, state_of, translator
from forbear.web.errors import ErrorBody, ErrorResponse
from forbear.web.i18n import Translator
from forbear.web.permissions import ACCOUNT_VIEW, MAX_ID, UNMASK
from forbear.web.sessions import Principal

router = APIRouter(prefix="/accounts", tags=["accounts"])
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
Unmasker = Annotated[Principal, Depends(require_any(*UNMASK))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the loan's internal id")]
BUCKET_PATTERN = "^(" + "|".join(DEFAULT_BUCKETS.labels).replace("+", r"\+") + ")$"
MONEY_FIELDS = (
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "overdue_penalty",
    "overdue_total",
    "outstanding_principal",
    "paid_total",
    "credit",
)


def summary(row: views.AccountRow) -> AccountSummary:
    return AccountSummary(
        loan_id=row.loan_id,
        loan_ref=row.loan_ref,
        borrower_name=row.borrower_name,
        product_code=row.product_code,
        principal=Money.of(row.principal),
        status=row.status,
        bucket=row.bucket,
        dpd=row.dpd,
        overdue_total=Money.maybe(row.overdue_total),
        outstanding_principal=Money.maybe(row.outstanding_principal),
    )


@router.get("", response_model=AccountList, summary="Accounts in the caller's scope")
def list_accounts(
    request: Request,
    principal: Viewer,
    bucket: Annotated[str | None, Query(pattern=BUCKET_PATTERN, examples=["M1"])] = None,
    status: LoanStatus | None = None,
    min_dpd: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    max_dpd: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    loan_ref: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccountList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = views.list_accounts(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            at=web.now(),
            as_of=book_date(conn, web.today()),
            bucket=bucket,
            status=status.value if status is not None else None,
            min_dpd=min_dpd,
            max_dpd=max_dpd,
            loan_ref=loan_ref,
            page=page,
            page_size=page_size,
        )
    return AccountList(
        as_of=found.as_of,
        total=found.total,
        page=found.page,
        page_size=found.page_size,
        items=[summary(r) for r in found.rows],
    )


def state_view(state: dict[str, Any] | None) -> StateView | None:
    if state is None:
        return None
    values = dict(state)
    values.pop("loan_id", None)
    for name in MONEY_FIELDS:
        values[name] = Money.of(values[name] or 0)
    values["next_due_amount"] = Money.maybe(values.get("next_due_amount"))
    return StateView.model_validate(values)


def detail_out(detail: views.AccountDetail, t: Translator) -> AccountDetailOut:
    en = t.lang == "en"
    return AccountDetailOut(
        loan_id=detail.loan_id,
        loan_ref=detail.loan_ref,
        product=ProductView(
            code=detail.product_code,
            name=detail.product_name_en if en else detail.product_name_zh,
            name_zh=detail.product_name_zh,
            name_en=detail.product_name_en,
        ),
        principal=Money.of(detail.principal),
        term_months=detail.term_months,
        annual_rate_bp=detail.annual_rate_bp,
        start_date=detail.start_date,
        written_off_on=detail.written_off_on,
        as_of=detail.as_of,
        state=state_view(detail.state),
        scores=[
            ScoreOut(
                kind=s.kind,
                model_version_id=s.model_version_id,
                score=s.score,
                tier=s.tier,
                pd=s.pd,
                reasons=[
                    ReasonView(
                        feature=r.feature,
                        label=r.label_en if en else r.label_zh,
                        label_zh=r.label_zh,
                        label_en=r.label_en,
                    )
                    for r in s.reasons
                ],
            )
            for s in detail.scores
        ],
        borrower=BorrowerView.model_validate(detail.borrower),
        open_holds=[HoldView.model_validate(h) for h in detail.open_holds],
        agency_id=detail.agency_id,
        situation=situation_view(detail.situation),
    )


def situation_view(row: dict[str, Any] | None) -> SituationView | None:
    if row is None:
        return None
    values = {name: row[name] for name in SituationView.model_fields}
    values["promise_amount"] = Money.maybe(row["promise_amount"])
    return SituationView.model_validate(values)


@router.get("/{loan_id}", response_model=AccountDetailOut, summary="One account, masked")
def get_account(request: Request, principal: Viewer, loan_id: LoanId) -> AccountDetailOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        detail = views.account_detail(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            loan_id,
            at=web.now(),
            as_of=book_date(conn, web.today()),
        )
    return detail_out(detail, translator(request))


@router.post(
    "/{loan_id}/unmask",
    response_model=UnmaskOut,
    summary="One personal field in clear, for a purpose the role allows (audited, throttled)",
    responses={
        409: {"model": ErrorResponse, "description": "the gate blocks a call now (contact)"},
        429: {"model": ErrorResponse, "description": "the user's unmask limit"},
    },
)
def unmask(
    request: Request, principal: Unmasker, loan_id: LoanId, body: UnmaskRequest
) -> UnmaskOut | Response:
    """At most a few different borrowers per minute and per day for each user
    (:mod:`forbear.web.unmasking`); beyond that 429 with ``Retry-After``. Unmasking the
    number to dial (purpose ``contact``) follows the compliance gate: when a call now
    would be blocked, 409 ``contact_blocked`` with the rule ids in ``details``."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        answer = unmask_service.unmask(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            loan_id=loan_id,
            field=body.field,
            purpose=body.purpose,
            limits=unmasking.limits_for(web.forbear.settings, principal.role),
            now=web.now(),
            today=web.today(),
            rules=lender_rules(web.forbear.settings.data_dir, conn),
            lang=gate_lang(request),
        )
    if isinstance(answer, unmask_service.UnmaskBlocked):
        blocked = ErrorResponse(
            error=ErrorBody(
                code="contact_blocked",
                message=unmasking.blocked_message(translator(request), answer),
                field="purpose",
                details=list(answer.rule_ids),
            )
        )
        return JSONResponse(blocked.model_dump(), status_code=409)
    if isinstance(answer, unmask_service.UnmaskThrottled):
        refused = answer
        t = translator(request)
        error = ErrorResponse(
            error=ErrorBody(code="rate_limited", message=unmasking.message(t, refused))
        )
        return JSONResponse(
            error.model_dump(), status_code=429, headers={"Retry-After": str(refused.retry_after)}
        )
    return UnmaskOut(field=body.field.value, purpose=body.purpose.value, value=answer.value)


@router.get("/{loan_id}/timeline", response_model=TimelineOut, summary="Payments and contacts")
def get_timeline(
    request: Request,
    principal: Viewer,
    loan_id: LoanId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> TimelineOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        events = history.timeline(
            conn,
            principal.as_actor(),
            loan_id,
            at=web.now(),
            today=web.today(),
            zone=web.forbear.settings.zone,
            limit=limit,
        )
    return TimelineOut(
        loan_id=loan_id,
        items=[
            TimelineItem(
                kind=e.kind,
                on=e.on,
                at=e.at,
                amount=Money.maybe(e.amount),
                channel=e.channel,
                party=e.party,
                allowed=e.allowed,
                blocked_by=list(e.blocked_by),
                earliest_allowed_at=e.earliest_allowed_at,
                outcome=e.outcome,
                attempt_id=e.attempt_id,
                purpose=e.purpose,
                message_id=e.message_id,
                origin=e.origin,
                status=e.status,
                reasons=list(e.reasons),
            )
            for e in events
        ],
    )


@router.get(
    "/{loan_id}/decisions",
    response_model=DecisionList,
    summary="The daily run's decisions for this loan on a date (default: the latest run)",
)
def get_decisions(
    request: Request,
    principal: Viewer,
    loan_id: LoanId,
    as_of: Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2199, 12, 31))] = None,
) -> DecisionList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        actor, now, today = principal.as_actor(), web.now(), web.today()
        scope.require_loan(conn, actor, loan_id, now, today)
        day = as_of or queue_date(conn, today)
        rows = (
            []
            if day is None
            else history.decisions_for(conn, actor, loan_id, day, at=now, today=today)
        )
    return DecisionList(
        loan_id=loan_id,
        as_of=day,
        items=[DecisionOut.model_validate(r) for r in rows],
    )
