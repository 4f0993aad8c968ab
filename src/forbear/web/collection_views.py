"""What the collection screens and the collection API show and take: request and answer
schemas (promises, plans, script lines, legal cases) and the conversions from what the
use cases return (:mod:`forbear.services.promises.desk`, :mod:`forbear.services.plans.desk`,
:mod:`forbear.services.script_panel`, :mod:`forbear.services.legal.desk`). Shared by the
API route modules and the pages, so neither imports the other."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, Field

from forbear.domain.errors import ValidationError
from forbear.domain.legal.lifecycle import Stage
from forbear.domain.money import format_yuan
from forbear.domain.plans import PlanRequest, PlanType
from forbear.domain.plans.policy import BeyondAuthority, Limits
from forbear.services.legal import CaseView
from forbear.services.plans import OfferResult, PlanInfo
from forbear.services.script_panel import Panel
from forbear.web.i18n import Translator
from forbear.web.permissions import MAX_ID
from forbear.web.schema_base import Money
from forbear.web.schema_base import Request as StrictRequest

MAX_FEN = 10**12  # ten billion yuan: more is a typing error, not a promise


def beyond_authority(exc: BeyondAuthority, t: Translator) -> ValidationError:
    """The refusal in the user's language, naming the role's limit (a 422)."""
    role = t.label("role", exc.role)
    return ValidationError(
        "plan", t("collection.beyond_authority", role=role, asked=exc.asked, limit=exc.limit)
    )


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


def promise_rows(frame: pl.DataFrame) -> list[PromiseOut]:
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


class PromiseCancelIn(StrictRequest):
    reason: str | None = Field(
        default=None, min_length=1, max_length=200, examples=["借款人撤回"], description="no PII"
    )


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


def scripts_out(found: Panel, lang: str) -> ScriptsOut:
    s = found.situation
    lender = "贷款机构" if lang != "en" else "the lender"
    return ScriptsOut(
        loan_id=found.loan_id,
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
            for line in found.lines
        ],
        education=[
            ArticleOut(slug=a.slug, title=a.title, summary=a.summary) for a in found.education
        ],
    )


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


def case_out(case: CaseView, t: Translator) -> CaseOut:
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


def case_list(cases: list[CaseView], t: Translator, stage: Stage | None) -> CaseList:
    counts = {s.value: 0 for s in Stage}
    for c in cases:
        counts[c.stage.value] += 1
    shown = [c for c in cases if stage is None or c.stage is stage]
    return CaseList(counts=counts, items=[case_out(c, t) for c in reversed(shown)])


# ------------------------------------------------------------------------ plan terms in words

TERM_ORDER = (
    "months",
    "instalments",
    "waive_penalty_pct",
    "discount_pct",
    "payment_share_pct",
    "income",
    "expenses",
)
MONEY_TERMS = ("income", "expenses")
PLAN_FIELDS = {  # the form's fields of each plan type (the rest are hidden)
    "deferral": ("months",),
    "restructure": ("instalments", "waive_penalty_pct"),
    "settlement": ("discount_pct",),
    "hardship": ("months", "payment_share_pct", "income_yuan", "expenses_yuan"),
}


def terms_text(plan_type: str, terms: dict[str, Any], t: Translator) -> str:
    """A plan's terms in words and yuan (``分期重组：3 期，罚息减免 100%，月收入 ¥12,000.00``),
    never the stored codes (``income=1200000``)."""
    fields = set(PLAN_FIELDS.get(plan_type, ())) | {"income", "expenses"}
    fields |= {f.removesuffix("_yuan") for f in fields}
    parts = []
    for name in TERM_ORDER:
        value = terms.get(name)
        if name not in fields or not isinstance(value, int) or isinstance(value, bool):
            continue
        if name in MONEY_TERMS:
            parts.append(t(f"collection.term.{name}", amount="¥" + format_yuan(value)))
        elif value or name in ("months", "instalments"):
            parts.append(t(f"collection.term.{name}", n=value))
    head = t(f"collection.plan_type.{plan_type}")
    if not parts:
        return head
    zh = t.lang == "zh-CN"
    return head + ("：" if zh else ": ") + ("，" if zh else ", ").join(parts)


def approval_out(info: Any, t: Translator) -> dict[str, Any]:
    """A submission for approval (:class:`forbear.services.plans.approvals.ApprovalInfo`)
    as the pages show it."""
    return {
        "id": info.id,
        "loan_id": info.loan_id,
        "loan_ref": info.loan_ref,
        "status": info.status,
        "plan_type": info.plan_type.value,
        "terms": dict(info.terms),
        "terms_text": terms_text(info.plan_type.value, info.terms, t),
        "role": info.role,
        "reason": info.reason,
        "submitted_by": info.submitted_by,
        "submitted_on": info.submitted_on,
        "decided_by": info.decided_by,
        "decided_on": info.decided_on,
        "decision_reason": info.decision_reason,
        "plan_id": info.plan_id,
    }


class ApprovalIn(PlanIn):
    reason: str = Field(min_length=1, max_length=1000, description="why the plan is needed")


class DecisionIn(StrictRequest):
    decision: Literal["approve", "adjust", "refuse"]
    reason: str = Field(default="", max_length=1000, description="required to refuse")
    adjusted: PlanIn | None = Field(default=None, description="adjust: the terms offered instead")


class ApprovalOut(BaseModel):
    approval_id: int
    loan_id: int
    loan_ref: str
    status: Literal["pending", "approved", "adjusted", "refused", "superseded"]
    plan_type: str
    terms: dict[str, int]
    terms_text: str = Field(description="the terms in words, in the caller's language")
    submitted_by: str
    submitted_on: date
    decided_by: str | None
    decided_on: date | None
    plan_id: int | None = Field(description="the plan offered on approval")


class ApprovalList(BaseModel):
    items: list[ApprovalOut]


def approval_api(info: Any, t: Translator) -> ApprovalOut:
    """A submission as the API returns it (the typed reasons stay on the pages)."""
    shown = approval_out(info, t)
    return ApprovalOut(
        approval_id=info.id,
        **{k: shown[k] for k in ApprovalOut.model_fields if k in shown and k != "approval_id"},
    )


def refusal_words(exc: ValidationError, t: Translator, area: str) -> tuple[str, str]:
    """A refused form value in the user's words: the field's label (``<area>.field.<name>``)
    and the reason, with the allowed limit for the checks that have one (a promise's amount
    and date: :class:`forbear.domain.promises.terms.PromiseRefused`); other reasons as the
    use case gave them."""
    from forbear.domain.promises.terms import PromiseRefused

    key = f"{area}.field.{exc.field}"
    label = t(key) if t.has(key) else exc.field
    if isinstance(exc, PromiseRefused) and t.has(f"{area}.refuse.{exc.code}"):
        limit = exc.limit
        shown = (
            "¥" + format_yuan(limit)
            if isinstance(limit, int)
            else (limit.isoformat() if limit is not None else "")
        )
        return label, t(f"{area}.refuse.{exc.code}", limit=shown)
    return label, exc.reason
