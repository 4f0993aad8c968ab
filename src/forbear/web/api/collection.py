"""Collection work over the API: promises to pay, repayment plans, the legal console's
reads and stage actions, and suggested script lines for an account.

Each route calls the issue-6 service (:mod:`forbear.services.promises`,
:mod:`forbear.services.plans`, :mod:`forbear.services.legal`,
:mod:`forbear.services.documents`) in one transaction: a refused request writes nothing.
Permissions: taking a promise is ``contact.make`` (it comes from a conversation); plans
are ``plan.offer`` within the role's limits of the plan policy (an offer beyond them is a
403 naming the limit); accepting records the borrower's yes (``plan.offer``); cancelling an
accepted or active plan needs ``plan.approve``; the legal console is ``legal.manage``.
Accounts outside the caller's scope answer 404 as everywhere else, and so do their
promises, plans and legal cases (with the case's documents: nothing is unmasked or
audited for a case out of scope); the legal queue, case list and limitation watch show
only accounts in scope (forbear.web.scope).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from forbear.domain.access import can
from forbear.domain.errors import NotFound, PermissionDenied, ValidationError
from forbear.domain.legal.lifecycle import Stage
from forbear.domain.plans import PlanRequest, PlanStatus, PlanType
from forbear.domain.plans.policy import BeyondAuthority, Limits
from forbear.domain.scripts import Situation, suggest
from forbear.services import legal as legal_service
from forbear.services import plans as plan_service
from forbear.services import promises as promise_service
from forbear.services.plans import OfferResult, PlanInfo
from forbear.store.crypto import PiiVault
from forbear.store.promises import Promise
from forbear.web import reads, scope
from forbear.web.api.schemas import Money
from forbear.web.api.schemas import Request as StrictRequest
from forbear.web.deps import WebState, require_any, state_of, translator
from forbear.web.i18n import Translator
from forbear.web.permissions import ACCOUNT_VIEW, CONTACT, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["collection"])
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
Offerer = Annotated[Principal, Depends(require_any("plan.offer"))]
Lawyer = Annotated[Principal, Depends(require_any("legal.manage"))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the loan's internal id")]
PlanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the plan's id")]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="the legal case's id")]
MAX_FEN = 10**12  # ten billion yuan: more is a typing error, not a promise
PLAN_TYPES_ZH = {"deferral": "展期", "restructure": "分期重组", "settlement": "一次性结清"}
FILE_TYPES = {".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8"}


# ------------------------------------------------------------------------ shared reads


def book_date(conn: Connection, web: WebState) -> date:
    return reads.book_date(conn, web.today()) or web.today()


def in_scope(conn: Connection, web: WebState, principal: Principal, loan_id: int) -> date:
    """The business date, after checking ``loan_id`` is in the caller's scope (else 404)."""
    day = book_date(conn, web)
    scope.require_loan(conn, principal, loan_id, web.now(), reads.book_date(conn, web.today()))
    return day


def loans_seen(conn: Connection, web: WebState, principal: Principal) -> set[int] | None:
    """The loans the caller may see, or None for the whole book (lists filter by it)."""
    return scope.visible_loans(conn, principal, web.now(), reads.book_date(conn, web.today()))


def case_in_scope(conn: Connection, web: WebState, principal: Principal, case_id: int) -> date:
    """The business date, after checking the case exists and its loan is in the caller's
    scope (else 404 "legal case not found", as for an unknown case): before anything of
    the case is read, unmasked or audited."""
    from forbear.store.legal import LegalCase

    loan_id = conn.execute(
        select(LegalCase.loan_id).where(LegalCase.id == case_id)
    ).scalar_one_or_none()
    if loan_id is None:
        raise NotFound("legal case", str(case_id))
    try:
        return in_scope(conn, web, principal, int(loan_id))
    except NotFound:
        raise NotFound("legal case", str(case_id)) from None


def loan_situation(
    conn: Connection, loan_id: int, as_of: date, at: datetime
) -> tuple[Situation, dict[str, Any] | None]:
    """What the script lines are chosen by, for one loan on ``as_of``: the borrower
    situation (:mod:`forbear.services.situation`, its one definition of ``active_plan``,
    ``active_promise``, ``broken_promises_90d`` and of a vulnerable hold open at ``at``)
    and the segment of the latest daily run's decision."""
    from forbear.services import situation as situations
    from forbear.store.runs import Decision

    segment = conn.execute(
        select(Decision.segment)
        .where(Decision.loan_id == loan_id, Decision.as_of <= as_of)
        .order_by(Decision.as_of.desc(), Decision.action_index)
        .limit(1)
    ).scalar_one_or_none()
    _, row = situations.of_loan(conn, loan_id, as_of, at)
    if row is None:  # the loan has not started: nothing is owed yet
        return Situation(None, segment, False, 0, False, False), None
    found = Situation(
        bucket=str(row["bucket"]),
        segment=segment,
        hardship=bool(row["hardship"]),
        broken_promises_90d=int(row["broken_promises_90d"]),
        open_promise=bool(row["active_promise"]),
        open_plan=bool(row["active_plan"]),
    )
    return found, row


def situation(conn: Connection, loan_id: int, as_of: date, at: datetime) -> Situation:
    """:func:`loan_situation` without the situation's row."""
    return loan_situation(conn, loan_id, as_of, at)[0]


def role_limits(conn: Connection, principal: Principal, loan_id: int, as_of: date) -> Limits | None:
    """The plan limits of the caller's role for this loan (product and risk tier)."""
    if not can(principal.role, "plan.offer"):
        return None
    facts = plan_service.loan_facts(conn, loan_id)
    tier = plan_service.tier_of(conn, loan_id, as_of)
    return plan_service.load_policy().policy.limits_for(
        principal.role.value, facts.product_code, tier
    )


def beyond_authority(exc: BeyondAuthority, t: Translator) -> ValidationError:
    """The refusal in the user's language, naming the role's limit (a 422)."""
    role = t.label("role", exc.role)
    return ValidationError(
        "plan", t("collection.beyond_authority", role=role, asked=exc.asked, limit=exc.limit)
    )


# ------------------------------------------------------------------------ promises


class PromiseIn(StrictRequest):
    amount_fen: int = Field(
        ge=1, le=MAX_FEN, description="the promised amount, fen", examples=[50000]
    )
    promised_on: date = Field(ge=date(2000, 1, 1), le=date(2199, 12, 31), examples=["2026-11-25"])
    contact_attempt_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="the allowed contact attempt it came from"
    )
    replace: bool = Field(default=False, description="replace the open promise (superseded)")


class PromiseOut(BaseModel):
    promise_id: int
    loan_ref: str
    source: str = Field(examples=["agent"])
    amount: Money
    amount_paid: Money
    taken_on: date
    promised_on: date
    status: str = Field(examples=["open"])
    resolved_on: date | None = None
    taken_by: str = Field(examples=["web:agent1"])
    replaces_id: int | None = None


class PromiseList(BaseModel):
    loan_id: int
    items: list[PromiseOut]


def promise_rows(conn: Connection, loan_id: int) -> list[PromiseOut]:
    frame = promise_service.list_promises(conn, loan_id=loan_id, limit=200)
    return [
        PromiseOut(
            promise_id=r["promise_id"],
            loan_ref=r["loan_ref"],
            source=r["source"],
            amount=Money.of(r["amount"]),
            amount_paid=Money.of(r["amount_paid"] or 0),
            taken_on=r["taken_on"],
            promised_on=r["promised_on"],
            status=r["status"],
            resolved_on=r["resolved_on"],
            taken_by=r["taken_by"],
            replaces_id=r["replaces_id"],
        )
        for r in frame.iter_rows(named=True)
    ]


def take_promise(
    conn: Connection,
    web: WebState,
    principal: Principal,
    loan_id: int,
    *,
    amount: int,
    promised_on: date,
    contact_attempt_id: int | None = None,
    replace: bool = False,
) -> int:
    day = in_scope(conn, web, principal, loan_id)
    return promise_service.add_promise(
        conn,
        loan_id=loan_id,
        amount=amount,
        promised_on=promised_on,
        source="agent",
        actor=principal.actor,
        as_of=day,
        contact_attempt_id=contact_attempt_id,
        replace=replace,
        taken_at=web.now(),
    )


@router.post(
    "/accounts/{loan_id}/promises",
    response_model=PromiseOut,
    status_code=201,
    summary="Take a promise to pay on a loan (from a conversation: source agent)",
)
def add_promise(
    request: Request, principal: Contactor, loan_id: LoanId, body: PromiseIn
) -> PromiseOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        promise_id = take_promise(
            conn,
            web,
            principal,
            loan_id,
            amount=body.amount_fen,
            promised_on=body.promised_on,
            contact_attempt_id=body.contact_attempt_id,
            replace=body.replace,
        )
        rows = promise_rows(conn, loan_id)
    return next(r for r in rows if r.promise_id == promise_id)


@router.get("/accounts/{loan_id}/promises", response_model=PromiseList, summary="A loan's promises")
def get_promises(request: Request, principal: Viewer, loan_id: LoanId) -> PromiseList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        in_scope(conn, web, principal, loan_id)
        return PromiseList(loan_id=loan_id, items=promise_rows(conn, loan_id))


class PromiseCancelIn(StrictRequest):
    reason: str | None = Field(
        default=None, min_length=1, max_length=200, examples=["借款人撤回"], description="no PII"
    )


def promise_loan(conn: Connection, promise_id: int) -> int:
    found = conn.execute(
        select(Promise.loan_id).where(Promise.id == promise_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("promise", str(promise_id))
    return int(found)


def withdraw_promise(
    conn: Connection, web: WebState, principal: Principal, promise_id: int, reason: str | None
) -> int:
    """Cancel an open promise on a loan in the caller's scope; returns the loan id."""
    loan_id = promise_loan(conn, promise_id)
    try:
        day = in_scope(conn, web, principal, loan_id)
    except NotFound:
        raise NotFound("promise", str(promise_id)) from None
    promise_service.cancel_promise(
        conn, promise_id, actor=principal.actor, as_of=day, reason=reason, vault=web.forbear.vault
    )
    return loan_id


@router.post(
    "/promises/{promise_id}/cancel",
    response_model=PromiseOut,
    summary="Withdraw an open promise (the borrower takes it back, or a mistake)",
)
def cancel_promise(
    request: Request,
    principal: Contactor,
    promise_id: Annotated[int, Path(ge=1, le=MAX_ID, description="the promise's id")],
    body: PromiseCancelIn | None = None,
) -> PromiseOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        loan_id = withdraw_promise(
            conn, web, principal, promise_id, body.reason if body is not None else None
        )
        rows = promise_rows(conn, loan_id)
    return next(r for r in rows if r.promise_id == promise_id)


# ------------------------------------------------------------------------ plans


class PlanIn(StrictRequest):
    plan_type: Literal["deferral", "restructure", "settlement", "hardship"] = Field(
        examples=["deferral"]
    )
    months: int = Field(default=0, ge=0, le=24, description="deferral or hardship months")
    instalments: int = Field(default=0, ge=0, le=60, description="restructure: new instalments")
    waive_penalty_pct: int = Field(default=0, ge=0, le=100, description="restructure")
    discount_pct: int = Field(default=0, ge=0, le=99, description="settlement")
    payment_share_pct: int = Field(default=0, ge=0, le=99, description="hardship")
    income_fen: int | None = Field(default=None, ge=0, le=MAX_FEN, description="monthly, stated")
    expenses_fen: int | None = Field(default=None, ge=0, le=MAX_FEN, description="monthly")

    def plan_request(self) -> PlanRequest:
        return PlanRequest(
            plan_type=PlanType(self.plan_type),
            months=self.months,
            instalments=self.instalments,
            waive_penalty_pct=self.waive_penalty_pct,
            discount_pct=self.discount_pct,
            payment_share_pct=self.payment_share_pct,
        )


class LimitsOut(BaseModel):
    role: str = Field(examples=["agent"])
    max_deferral_months: int
    max_restructure_instalments: int
    max_penalty_waiver_pct: int
    max_settlement_discount_pct: int
    hardship_max_months: int
    hardship_min_payment_pct: int


class PlanLineOut(BaseModel):
    seq: int
    kind: str
    due_date: date
    principal: Money
    interest: Money
    fee: Money
    penalty: Money
    total: Money


class QuoteOut(BaseModel):
    loan_id: int
    loan_ref: str
    plan_type: str
    terms: dict[str, int]
    base_date: date
    expires_on: date | None
    tier: str | None
    limits: LimitsOut
    covered: Money
    scheduled: Money
    waived: Money
    discount: Money
    added_interest: Money
    affordable: bool
    affordability_note: str
    findings: list[str] = Field(description="contract findings for legal review, if any")
    lines: list[PlanLineOut]
    plan_id: int | None = Field(default=None, description="set once saved as offered")


class PlanOut(BaseModel):
    plan_id: int
    loan_id: int
    loan_ref: str
    plan_type: str
    status: str = Field(examples=["offered"])
    base_date: date
    expires_on: date
    start_date: date | None
    ended_on: date | None
    end_date: date
    role: str
    scheduled: Money
    waived: Money
    discount: Money
    terms: dict[str, Any]


class PlanDetail(PlanOut):
    lines: list[PlanLineOut]


class PlanList(BaseModel):
    loan_id: int
    items: list[PlanOut]


class PlanCancelIn(StrictRequest):
    reason: str | None = Field(default=None, min_length=1, max_length=200, examples=["借款人撤回"])


def line_out(line: Any) -> PlanLineOut:
    return PlanLineOut(
        seq=line.seq,
        kind=str(line.kind.value if hasattr(line.kind, "value") else line.kind),
        due_date=line.due_date,
        principal=Money.of(line.principal),
        interest=Money.of(line.interest),
        fee=Money.of(line.fee),
        penalty=Money.of(line.penalty),
        total=Money.of(line.total),
    )


def limits_out(limits: Limits) -> LimitsOut:
    return LimitsOut(
        role=limits.role,
        max_deferral_months=limits.max_deferral_months,
        max_restructure_instalments=limits.max_restructure_instalments,
        max_penalty_waiver_pct=limits.max_penalty_waiver_pct,
        max_settlement_discount_pct=limits.max_settlement_discount_pct,
        hardship_max_months=limits.hardship_max_months,
        hardship_min_payment_pct=limits.hardship_min_payment_pct,
    )


def quote_out(result: OfferResult, t: Translator) -> QuoteOut:
    offer, afford = result.offer, result.affordability
    note = ""
    if afford.assessed:
        note = afford.reason_en if t.lang == "en" else afford.reason_zh
    return QuoteOut(
        loan_id=offer.loan_id,
        loan_ref=result.loan_ref,
        plan_type=offer.plan_type.value,
        terms=dict(offer.terms),
        base_date=offer.base_date,
        expires_on=result.expires_on,
        tier=result.tier,
        limits=limits_out(result.limits),
        covered=Money.of(offer.covered.total),
        scheduled=Money.of(offer.scheduled.total),
        waived=Money.of(offer.waived.total),
        discount=Money.of(offer.discount.total),
        added_interest=Money.of(offer.added_interest),
        affordable=afford.affordable,
        affordability_note=note,
        findings=[
            f"{f.code}: {f.message_en if t.lang == 'en' else f.message_zh}" for f in result.findings
        ],
        lines=[line_out(ln) for ln in offer.lines],
        plan_id=result.plan_id,
    )


def plan_out(info: PlanInfo) -> PlanOut:
    return PlanOut(
        plan_id=info.id,
        loan_id=info.loan_id,
        loan_ref=info.loan_ref,
        plan_type=info.plan_type.value,
        status=info.status.value,
        base_date=info.base_date,
        expires_on=info.expires_on,
        start_date=info.start_date,
        ended_on=info.ended_on,
        end_date=info.end_date,
        role=info.role,
        scheduled=Money.of(info.scheduled),
        waived=Money.of(info.waived),
        discount=Money.of(info.discount),
        terms=dict(info.terms),
    )


def make_offer(
    conn: Connection,
    web: WebState,
    principal: Principal,
    loan_id: int,
    body: PlanIn,
    t: Translator,
    *,
    save: bool,
) -> OfferResult:
    day = in_scope(conn, web, principal, loan_id)
    try:
        return plan_service.offer_plan(
            conn,
            loan_id=loan_id,
            request=body.plan_request(),
            role=principal.role.value,
            as_of=day,
            actor=principal.actor,
            income=body.income_fen,
            expenses=body.expenses_fen,
            save=save,
        )
    except BeyondAuthority as exc:
        raise beyond_authority(exc, t) from None


def plan_in_scope(
    conn: Connection, web: WebState, principal: Principal, plan_id: int
) -> tuple[PlanInfo, date]:
    info = plan_service.get_plan(conn, plan_id)
    try:
        day = in_scope(conn, web, principal, info.loan_id)
    except NotFound:
        raise NotFound("plan", str(plan_id)) from None
    return info, day


@router.post(
    "/accounts/{loan_id}/plans/quote",
    response_model=QuoteOut,
    summary="Compute a plan offer within the role's authority (nothing is saved)",
)
def quote_plan(request: Request, principal: Offerer, loan_id: LoanId, body: PlanIn) -> QuoteOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        result = make_offer(conn, web, principal, loan_id, body, t, save=False)
    return quote_out(result, t)


@router.post(
    "/accounts/{loan_id}/plans",
    response_model=QuoteOut,
    status_code=201,
    summary="Save a plan as offered to the borrower (within the role's authority)",
)
def offer_plan(request: Request, principal: Offerer, loan_id: LoanId, body: PlanIn) -> QuoteOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        result = make_offer(conn, web, principal, loan_id, body, t, save=True)
    return quote_out(result, t)


@router.get("/accounts/{loan_id}/plans", response_model=PlanList, summary="A loan's plans")
def get_plans(request: Request, principal: Viewer, loan_id: LoanId) -> PlanList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        in_scope(conn, web, principal, loan_id)
        found = plan_service.list_plans(conn, loan_id=loan_id)
    return PlanList(loan_id=loan_id, items=[plan_out(p) for p in reversed(found)])


@router.get("/plans/{plan_id}", response_model=PlanDetail, summary="One plan with its schedule")
def get_plan(request: Request, principal: Viewer, plan_id: PlanId) -> PlanDetail:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        info, _ = plan_in_scope(conn, web, principal, plan_id)
        lines = plan_service.plan_lines(conn, plan_id)
    return PlanDetail(**plan_out(info).model_dump(), lines=[line_out(ln) for ln in lines])


@router.post(
    "/plans/{plan_id}/accept",
    response_model=PlanOut,
    summary="Record the borrower's acceptance of an offered plan",
)
def accept_plan(request: Request, principal: Offerer, plan_id: PlanId) -> PlanOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        _, day = plan_in_scope(conn, web, principal, plan_id)
        info = plan_service.accept_plan(conn, plan_id, as_of=day, actor=principal.actor)
    return plan_out(info)


@router.post(
    "/plans/{plan_id}/cancel",
    response_model=PlanOut,
    summary="Cancel a plan (an accepted or active one needs plan.approve)",
)
def cancel_plan(
    request: Request, principal: Offerer, plan_id: PlanId, body: PlanCancelIn | None = None
) -> PlanOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found, day = plan_in_scope(conn, web, principal, plan_id)
        if found.status is not PlanStatus.OFFERED and not can(principal.role, "plan.approve"):
            raise PermissionDenied(principal.role.value, "plan.approve")
        info = plan_service.cancel_plan(
            conn,
            plan_id,
            as_of=day,
            actor=principal.actor,
            reason=body.reason if body is not None else None,
            vault=web.forbear.vault,
        )
    return plan_out(info)


# ------------------------------------------------------------------------ scripts


class ScriptLineOut(BaseModel):
    id: str = Field(examples=["open.identify"])
    purpose: str = Field(examples=["opening"])
    text: str = Field(description="in the caller's language")
    zh: str
    en: str


class ArticleOut(BaseModel):
    slug: str = Field(examples=["rights-in-collection"])
    title: str
    summary: str


class ScriptsOut(BaseModel):
    loan_id: int
    bucket: str | None
    segment: str | None
    hardship: bool
    broken_promises_90d: int
    open_promise: bool
    open_plan: bool
    lines: list[ScriptLineOut]
    education: list[ArticleOut] = Field(
        description="financial-education articles that fit the account (forbear.services.education)"
    )


def education_for(s: Situation, row: dict[str, Any] | None, lang: str) -> list[ArticleOut]:
    from forbear.services import education

    facts = {
        "dpd": int(row["dpd"]) if row is not None else 0,
        "overdue_penalty": int(row["overdue_penalty"] or 0) if row is not None else 0,
        "vulnerable": s.hardship,
        "active_plan": s.open_plan,
        "broken_promises_90d": s.broken_promises_90d,
    }
    chosen = "en" if lang == "en" else "zh"
    out = []
    for slug in education.suggest(facts):
        found = education.article(slug, chosen)
        out.append(ArticleOut(slug=slug, title=found.title, summary=found.summary))
    return out


def scripts_for(conn: Connection, loan_id: int, as_of: date, at: datetime, lang: str) -> ScriptsOut:
    s, row = loan_situation(conn, loan_id, as_of, at)
    lender = "贷款机构" if lang != "en" else "the lender"
    return ScriptsOut(
        loan_id=loan_id,
        bucket=s.bucket,
        segment=s.segment,
        hardship=s.hardship,
        broken_promises_90d=s.broken_promises_90d,
        open_promise=s.open_promise,
        open_plan=s.open_plan,
        lines=[
            ScriptLineOut(
                id=line.id,
                purpose=line.purpose,
                text=line.text(lang, lender),
                zh=line.text("zh", "贷款机构"),
                en=line.text("en", "the lender"),
            )
            for line in suggest(s)
        ],
        education=education_for(s, row, lang),
    )


@router.get(
    "/accounts/{loan_id}/scripts",
    response_model=ScriptsOut,
    summary="Suggested script lines for the account's situation",
)
def get_scripts(request: Request, principal: Viewer, loan_id: LoanId) -> ScriptsOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        day = in_scope(conn, web, principal, loan_id)
        return scripts_for(conn, loan_id, day, web.now(), t.lang)


# ------------------------------------------------------------------------ legal


class QueueEntryOut(BaseModel):
    entry_id: int
    loan_id: int
    loan_ref: str
    queued_on: date
    status: str = Field(examples=["queued"])
    reasons: list[dict[str, Any]]
    case_id: int | None
    stage: str | None


class LegalQueueOut(BaseModel):
    as_of: date
    items: list[QueueEntryOut]


class CaseOut(BaseModel):
    case_id: int
    loan_id: int
    loan_ref: str
    stage: str = Field(examples=["review"])
    stage_label: str = Field(examples=["法务审核"])
    opened_on: date
    stage_on: date
    court: str | None
    case_number: str | None
    closed_reason: str | None
    costs: Money


class CaseList(BaseModel):
    counts: dict[str, int] = Field(description="cases per stage, all stages")
    items: list[CaseOut]


class CaseOpenIn(StrictRequest):
    loan_id: int = Field(ge=1, le=MAX_ID, examples=[42])


class AdvanceIn(StrictRequest):
    to: Stage = Field(examples=["demand_letter"])
    court: str | None = Field(default=None, min_length=1, max_length=200)
    case_number: str | None = Field(default=None, min_length=1, max_length=100)
    notes: str | None = Field(default=None, min_length=1, max_length=500)
    reason: str | None = Field(
        default=None, min_length=1, max_length=200, description="needed to close"
    )
    evidence_ref: str | None = Field(
        default=None, min_length=1, max_length=200, description="the letter's tracking number"
    )


class DocumentsOut(BaseModel):
    case_id: int
    files: list[str] = Field(examples=[["demand_letter.pdf", "package.pdf", "payments.csv"]])
    limitation_date: date | None


class WatchItem(BaseModel):
    loan_id: int
    loan_ref: str
    case_id: int | None
    stage: str | None
    limitation_date: date | None
    days_left: int | None
    expired: bool | None


class WatchOut(BaseModel):
    as_of: date
    items: list[WatchItem]


def case_out(case: legal_service.CaseView, t: Translator) -> CaseOut:
    return CaseOut(
        case_id=case.id,
        loan_id=case.loan_id,
        loan_ref=case.loan_ref,
        stage=case.stage.value,
        stage_label=case.stage.value if t.lang == "en" else case.stage.label_zh,
        opened_on=case.opened_on,
        stage_on=case.stage_on,
        court=case.court,
        case_number=case.case_number,
        closed_reason=case.closed_reason,
        costs=Money.of(case.costs),
    )


def case_list(
    conn: Connection,
    t: Translator,
    stage: Stage | None,
    *,
    vault: PiiVault,
    seen: set[int] | None = None,
) -> CaseList:
    cases = legal_service.list_cases(conn, vault=vault)
    if seen is not None:  # the caller's scope (lists show only accounts in it)
        cases = [c for c in cases if c.loan_id in seen]
    counts = {s.value: 0 for s in Stage}
    for c in cases:
        counts[c.stage.value] += 1
    shown = [c for c in cases if stage is None or c.stage is stage]
    return CaseList(counts=counts, items=[case_out(c, t) for c in reversed(shown)])


def watch(
    conn: Connection, as_of: date, within: int | None, seen: set[int] | None = None
) -> list[WatchItem]:
    frame = legal_service.limitation_watch(conn, as_of, within)
    rows = frame.iter_rows(named=True)
    return [WatchItem(**row) for row in rows if seen is None or row["loan_id"] in seen]


@router.get("/legal/queue", response_model=LegalQueueOut, summary="The legal review queue")
def legal_queue(request: Request, principal: Lawyer) -> LegalQueueOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        day = book_date(conn, web)
        seen = loans_seen(conn, web, principal)
        items = [i for i in legal_service.queue(conn, day) if seen is None or i.loan_id in seen]
    return LegalQueueOut(as_of=day, items=[QueueEntryOut(**i.__dict__) for i in items])


@router.get("/legal/cases", response_model=CaseList, summary="Legal cases, by stage")
def legal_cases(request: Request, principal: Lawyer, stage: Stage | None = None) -> CaseList:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        return case_list(
            conn, t, stage, vault=web.forbear.vault, seen=loans_seen(conn, web, principal)
        )


@router.get("/legal/cases/{case_id}", response_model=CaseOut, summary="One legal case")
def legal_case(request: Request, principal: Lawyer, case_id: CaseId) -> CaseOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        case_in_scope(conn, web, principal, case_id)
        return case_out(legal_service.get_case(conn, case_id, vault=web.forbear.vault), t)


@router.post(
    "/legal/cases", response_model=CaseOut, status_code=201, summary="Open a case for a queued loan"
)
def open_case(request: Request, principal: Lawyer, body: CaseOpenIn) -> CaseOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        day = in_scope(conn, web, principal, body.loan_id)
        case = legal_service.open_case(
            conn, body.loan_id, role=principal.role.value, actor=principal.actor, on=day
        )
    return case_out(case, t)


@router.post(
    "/legal/cases/{case_id}/advance",
    response_model=CaseOut,
    summary="Move a case forward (never backwards: 409 with the reason)",
)
def advance_case(request: Request, principal: Lawyer, case_id: CaseId, body: AdvanceIn) -> CaseOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        day = case_in_scope(conn, web, principal, case_id)
        case = legal_service.advance(
            conn,
            case_id,
            body.to.value,
            role=principal.role.value,
            actor=principal.actor,
            on=day,
            court=body.court,
            case_number=body.case_number,
            notes=body.notes,
            reason=body.reason,
            evidence_ref=body.evidence_ref,
            zone=web.forbear.settings.zone,
            vault=web.forbear.vault,
        )
    return case_out(case, t)


def documents(conn: Connection, web: WebState, principal: Principal, case_id: int) -> Any:
    from forbear.services.documents.gather import case_documents

    day = case_in_scope(conn, web, principal, case_id)
    return case_documents(
        conn,
        web.forbear.vault,
        case_id,
        role=principal.role.value,
        actor=principal.actor,
        as_of=day,
    )


@router.get(
    "/legal/cases/{case_id}/documents",
    response_model=DocumentsOut,
    summary="The case's documents (demand letter, litigation package); unmasking is audited",
)
def list_documents(request: Request, principal: Lawyer, case_id: CaseId) -> DocumentsOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        docs = documents(conn, web, principal, case_id)
    return DocumentsOut(
        case_id=case_id, files=sorted(docs.files), limitation_date=docs.limitation_date
    )


@router.get(
    "/legal/cases/{case_id}/documents/{name}",
    summary="Download one document (PDF or CSV); unmasking is audited",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/csv": {}}}},
)
def download(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    name: Annotated[str, Path(min_length=5, max_length=80, pattern=r"^[a-z0-9_\-]+\.(pdf|csv)$")],
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        docs = documents(conn, web, principal, case_id)
    if name not in docs.files:
        raise NotFound("document", name)
    kind = FILE_TYPES[name[name.rindex(".") :]]
    return Response(
        docs.files[name],
        media_type=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/legal/limitation",
    response_model=WatchOut,
    summary="Limitation dates of queued accounts and open cases, expiring first",
)
def limitation(
    request: Request,
    principal: Lawyer,
    within: Annotated[int | None, Query(ge=0, le=3650)] = None,
) -> WatchOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        day = book_date(conn, web)
        seen = loans_seen(conn, web, principal)
        return WatchOut(as_of=day, items=watch(conn, day, within, seen))
