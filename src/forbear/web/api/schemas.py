"""The API's request and response models: what the OpenAPI description shows.

Separate classes for requests (``extra="forbid"``: an unknown field is an error, not
silently ignored) and for views. Money is :class:`Money`: integer fen and the yuan text.
Personal fields are masked for the caller's role before they get here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from forbear.domain.access import PiiField, Purpose
from forbear.domain.compliance.schema import Channel
from forbear.domain.compliance.schema import Purpose as ContactPurpose
from forbear.services.contacts import CollectorOutcome
from forbear.web.permissions import MAX_ID
from forbear.web.schema_base import Money as Money  # re-exported: the API's schemas
from forbear.web.schema_base import Request as Request


class Me(BaseModel):
    user_id: int
    username: str = Field(examples=["agent.zh001"])
    display_name: str
    role: str = Field(examples=["agent"])
    role_label: str = Field(examples=["催收员"])
    permissions: list[str] = Field(examples=[["account.view", "contact.make"]])
    unmask: dict[str, list[str]] = Field(
        description="purposes this role may unmask for, with the fields each opens",
        examples=[{"contact": ["mobile"]}],
    )
    agency_id: int | None = None
    agent_ref: str | None = Field(default=None, examples=["zh-001"])
    team_id: str | None = Field(default=None, examples=["phone-zh"])
    scope_buckets: list[str] = Field(default_factory=list)
    via: str = Field(examples=["session"], description="session or token")
    csrf_token: str | None = Field(
        default=None, description="send as X-CSRF-Token on unsafe requests (sessions only)"
    )
    lang: str = Field(examples=["zh-CN"])


class AccountSummary(BaseModel):
    loan_id: int = Field(examples=[42])
    loan_ref: str = Field(examples=["L20260001"])
    borrower_name: str | None = Field(description="masked for the role", examples=["张*"])
    product_code: str = Field(examples=["CASH12"])
    principal: Money
    status: str | None = Field(examples=["active"])
    bucket: str | None = Field(examples=["M1"])
    dpd: int | None = Field(examples=[12])
    overdue_total: Money | None
    outstanding_principal: Money | None


class AccountList(BaseModel):
    as_of: date | None = Field(description="the book date the states are of")
    total: int
    page: int
    page_size: int
    items: list[AccountSummary]


class ContactPointView(BaseModel):
    id: int
    kind: str = Field(examples=["phone"])
    owner_type: str = Field(examples=["debtor"])
    relation: str | None = None
    provenance: str = Field(examples=["contract"])
    is_primary: bool
    value: str = Field(description="masked", examples=["138****5678"])
    owner_name: str | None = Field(default=None, description="masked")


class BorrowerView(BaseModel):
    """The borrower with every personal field masked for the caller's role (null: never
    given, or erased by retention)."""

    id: int
    external_ref: str = Field(examples=["C20260001"])
    name: str | None = Field(examples=["张*"])
    national_id: str | None = Field(examples=["410***********1234"])
    mobile: str | None = Field(examples=["138****5678"])
    email: str | None = None
    address: str | None = Field(default=None, examples=["河南省郑州市********"])
    province: str | None = None
    city: str | None = None
    timezone: str = Field(examples=["Asia/Shanghai"])
    anonymised: bool
    contact_points: list[ContactPointView]


class StateView(BaseModel):
    as_of: date
    status: str
    dpd: int
    bucket: str
    overdue_principal: Money
    overdue_interest: Money
    overdue_fee: Money
    overdue_penalty: Money
    overdue_total: Money
    outstanding_principal: Money
    oldest_unpaid_due_date: date | None
    next_due_date: date | None
    next_due_amount: Money | None
    last_payment_date: date | None
    paid_total: Money
    credit: Money


class ReasonView(BaseModel):
    feature: str = Field(examples=["days_since_last_payment"])
    label: str = Field(description="in the caller's language", examples=["距上次还款天数"])
    label_zh: str
    label_en: str


class ScoreOut(BaseModel):
    kind: str = Field(examples=["behaviour"])
    model_version_id: int
    score: int = Field(description="points (scorecards) or per mille (propensity)")
    tier: str | None = Field(examples=["C"])
    pd: float | None = Field(description="probability of the bad event", examples=[0.031])
    reasons: list[ReasonView] = Field(description="features costing the most points")


class HoldView(BaseModel):
    id: int
    kind: str = Field(examples=["dispute"])
    channel: str | None
    since: datetime
    loan_id: int | None = Field(description="null: every loan of the borrower")


class ProductView(BaseModel):
    code: str
    name: str
    name_zh: str
    name_en: str


class SituationView(BaseModel):
    """What governs the loan now and whether it calls for work (the borrower situation,
    computed when read: a plan accepted a minute ago counts)."""

    governed_by: str = Field(description="contract, plan or promise", examples=["plan"])
    plan_id: int | None = Field(description="the plan governing the loan, if any")
    promise_on: date | None = Field(description="the active promise's date, if any")
    promise_amount: Money | None
    needs_work: bool = Field(
        description="overdue, active, no hold that stops work, no performing plan or active "
        "promise, not time-barred"
    )
    active_plan: bool
    active_promise: bool
    broken_promises_90d: int
    hold_any: bool
    hardship: bool
    disputed: bool
    limitation_date: date | None
    limitation_expired: bool


class AccountDetailOut(BaseModel):
    loan_id: int
    loan_ref: str
    product: ProductView
    principal: Money
    term_months: int
    annual_rate_bp: int = Field(description="basis points", examples=[1800])
    start_date: date
    written_off_on: date | None
    as_of: date | None = Field(description="the book date of state and scores")
    state: StateView | None
    scores: list[ScoreOut]
    borrower: BorrowerView
    open_holds: list[HoldView]
    agency_id: int | None = Field(description="the agency the loan is placed with now")
    situation: SituationView | None = Field(
        default=None, description="null before the loan starts or without a book date"
    )


class UnmaskRequest(Request):
    field: PiiField = Field(examples=["mobile"])
    purpose: Purpose = Field(examples=["contact"])


class UnmaskOut(BaseModel):
    field: str
    purpose: str
    value: str = Field(description="in clear; the unmasking is audited")


class TimelineItem(BaseModel):
    kind: str = Field(description="payment, contact or message", examples=["contact"])
    on: date = Field(description="business date (lender's zone)")
    at: datetime | None
    amount: Money | None = None
    channel: str | None = None
    party: str | None = None
    allowed: bool | None = None
    blocked_by: list[str] = Field(default_factory=list)
    earliest_allowed_at: datetime | None = None
    outcome: str | None = None
    attempt_id: int | None = None
    purpose: str | None = Field(default=None, description="a contact's: collect or locate")
    message_id: int | None = Field(default=None, description="a message's outbox id")
    origin: str | None = Field(default=None, description="a message's origin: run, agent, system")
    status: str | None = Field(
        default=None,
        description="a message's status: queued, sending, sent, delivered, failed, dead, cancelled",
    )
    reasons: list[str] = Field(
        default_factory=list, description="rule ids or reason of a cancelled message"
    )


class TimelineOut(BaseModel):
    loan_id: int
    items: list[TimelineItem]


class DecisionOut(BaseModel):
    as_of: date
    action_index: int
    run_id: int
    strategy_version_id: int | None
    segment: str | None = Field(examples=["m1"])
    arm: str | None = Field(examples=["champion"])
    treatment: str | None = Field(examples=["m1_gentle"])
    channel: str | None = Field(examples=["sms"])
    template: str | None
    purpose: str | None
    priority: int | None
    behaviour_tier: str | None
    ew_pd: float | None
    propensity: float | None
    reason_codes: list[str]
    allowed: bool | None
    blocked_by: list[str]
    earliest_allowed_at: datetime | None
    scheduled: bool
    agent_id: str | None
    team_id: str | None
    carried: bool


class DecisionList(BaseModel):
    loan_id: int
    as_of: date | None
    items: list[DecisionOut]


class ContactRequest(Request):
    channel: Channel = Field(examples=["call"])
    contact_point_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="default: the debtor's primary one"
    )
    template_code: str | None = Field(default=None, min_length=1, max_length=64)
    purpose: ContactPurpose = Field(
        default=ContactPurpose.COLLECT,
        description="collect: discuss the debt; locate: ask a third party to have the debtor"
        " call back, no word of the debt (once the debtor is unreachable)",
    )


class ContactOut(BaseModel):
    attempt_id: int = Field(description="the recorded attempt, allowed or blocked")
    loan_id: int
    channel: str
    party: str
    purpose: str = Field(default="collect", examples=["locate"])
    at: datetime
    allowed: bool
    blocked_by: list[str] = Field(examples=[["CN.HOURS.QUIET"]])
    earliest_allowed_at: datetime | None
    earliest_allowed_local: str | None = Field(
        description="the earliest time in the borrower's zone", examples=["2026-11-21 08:00"]
    )
    timezone: str
    explanation: list[str] = Field(description="plain sentences in the caller's language")


class OutcomeRequest(Request):
    outcome: CollectorOutcome = Field(examples=["right_party"])


class OutcomeOut(BaseModel):
    attempt_id: int
    loan_id: int
    outcome: str
    stored_outcome: str = Field(description="the contact domain's outcome")
    hold_id: int | None = Field(description="a dispute or hardship hold set with it")


class QueueItemOut(BaseModel):
    rank: int
    agent_id: str
    team_id: str | None
    loan_id: int
    loan_ref: str
    borrower_name: str | None = Field(description="masked")
    channel: str
    template: str | None
    carried: bool
    bucket: str | None
    dpd: int | None
    overdue_total: Money | None
    settled: str | None = Field(
        None,
        description="why the account no longer needs this work since the run "
        "(closed, dispute, hold, plan, promise, paid); null: still due",
    )


class QueueOut(BaseModel):
    as_of: date | None = Field(description="the run date of the queue (null: no run yet)")
    today: date
    items: list[QueueItemOut]
    settled: list[QueueItemOut] = Field(
        default_factory=list, description="queued by the run, no longer due (with the reason)"
    )


class RunOut(BaseModel):
    id: int
    as_of: date
    status: str = Field(examples=["completed"])
    engine: str
    strategy_version_id: int | None
    started_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any] | None = Field(description="counts only: no personal data")


class RunList(BaseModel):
    total: int
    items: list[RunOut]


class StrategyOut(BaseModel):
    id: int
    name: str
    version: int
    status: str
    sha256: str
    created_at: datetime
    activated_at: datetime | None


class StrategyList(BaseModel):
    in_force: str = Field(description="the strategy the daily run uses", examples=["CN_default"])
    in_force_version_id: int | None = Field(description="null: the shipped default")
    items: list[StrategyOut]


class ModelOut(BaseModel):
    id: int
    kind: str
    name: str
    version: int
    status: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    metrics: dict[str, Any]


class ModelList(BaseModel):
    items: list[ModelOut]
