"""What the complaints screens and the complaints API show and take: request and answer
schemas and the conversions from what :mod:`forbear.services.complaints` returns. Shared
by the API route module (:mod:`forbear.web.api.complaints`) and the compliance console's
pages, so neither imports the other."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from forbear.domain import complaints as domain
from forbear.domain.complaints import ComplaintCategory as DomainComplaintCategory
from forbear.services.complaints import ComplaintView, desk
from forbear.web.permissions import MAX_ID
from forbear.web.schema_base import Request as StrictRequest
from forbear.web.sessions import Principal

Category = DomainComplaintCategory  # the one list: forbear.domain.complaints
RootCause = Literal[
    "agent_conduct", "contact_rules", "data_error", "process", "product", "no_fault", "other"
]
Status = Literal["open", "in_progress", "extended", "extended_approved", "resolved", "closed"]


# ------------------------------------------------------------------------------ models


class SlaClockOut(BaseModel):
    rule_id: str = Field(examples=["CN.COMPLAINT.SLA"])
    due_on: date = Field(description="answer by the end of this business day")
    days_left: int = Field(description="negative once overdue", examples=[9])
    urgency: Literal["on_track", "due_soon", "overdue", "answered"]
    escalate: bool = Field(description="due within 3 days, or overdue")


class ComplaintSummary(BaseModel):
    id: int = Field(examples=[12])
    borrower_id: int
    loan_id: int | None
    source: str = Field(examples=["agent"])
    category: str = Field(examples=["harassment"])
    status: str = Field(examples=["open"])
    received_on: date
    resolved_on: date | None = None
    contacts: int = Field(description="linked contact attempts", examples=[2])
    clock: SlaClockOut


class ComplaintList(BaseModel):
    as_of: date
    total: int
    items: list[ComplaintSummary]


class LinkedContactOut(BaseModel):
    attempt_id: int
    loan_id: int
    channel: str = Field(examples=["call"])
    party: str = Field(examples=["debtor"])
    at: datetime
    actor: str
    allowed: bool
    blocked_by: list[str]
    outcome: str | None


class ComplaintOut(ComplaintSummary):
    description: str | None = Field(
        description="free text; null when the role may not see it (description_withheld)"
    )
    description_withheld: bool
    filed_by: str
    hold_id: int | None = Field(description="the contact hold the complaint put on")
    extension_reason: str | None = None
    extended_by: str | None = None
    approved_by: str | None = None
    resolution: str | None = None
    root_cause: str | None = None
    resolved_by: str | None = None
    closed_on: date | None = None
    linked_contacts: list[LinkedContactOut]


class ComplaintRequest(StrictRequest):
    loan_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        examples=["L0001"],
        description="the lender's reference of the loan complained about (as on screens)",
    )
    loan_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, examples=[42], description="or its internal id"
    )
    source: Literal["agent", "regulator"] = Field(
        default="agent", description="regulator referrals need compliance.view"
    )
    category: Category = Field(examples=["harassment"])
    description: str = Field(
        min_length=1, max_length=domain.MAX_DESCRIPTION, examples=["借款人称晚间多次来电"]
    )
    contact_attempt_ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=list, max_length=100, description="the contacts complained about"
    )

    @model_validator(mode="after")
    def _one_loan(self) -> ComplaintRequest:
        if (self.loan_ref is None) == (self.loan_id is None):
            raise ValueError("name the loan by loan_ref (or loan_id), exactly one of them")
        return self


class ExtendRequest(StrictRequest):
    reason: str = Field(min_length=1, max_length=domain.MAX_TEXT, examples=["需调取通话录音核实"])


class ResolveRequest(StrictRequest):
    resolution: str = Field(
        min_length=1, max_length=domain.MAX_TEXT, examples=["已核实并向借款人致歉，调整联系频率"]
    )
    root_cause: RootCause = Field(examples=["contact_rules"])


class SatisfactionRequest(StrictRequest):
    loan_id: int = Field(ge=1, le=MAX_ID, description="the loan the subject belongs to")
    subject_type: Literal["plan", "promise", "complaint"]
    subject_id: int = Field(ge=1, le=MAX_ID)
    score: int = Field(ge=1, le=5, description="1 very dissatisfied .. 5 very satisfied")


class SatisfactionOut(BaseModel):
    id: int
    subject_type: str
    subject_id: int
    score: int


class SatisfactionRow(BaseModel):
    subject_type: str = Field(examples=["plan"])
    responses: int
    mean_score: float | None
    share_4_5: float | None = Field(description="share of answers 4 or 5")


class SatisfactionSummaryOut(BaseModel):
    start: date
    end: date
    rows: list[SatisfactionRow]


class RateRow(BaseModel):
    level: Literal["overall", "arm", "team"]
    key: str = Field(examples=["champion"])
    contacts: int
    complaints: int
    per_10k: float | None = Field(description="complaints per 10,000 contacts")


class RatesOut(BaseModel):
    start: date
    end: date
    rows: list[RateRow]


class CaseRequest(StrictRequest):
    loan_id: int = Field(ge=1, le=MAX_ID)
    outcome: Literal["success", "failure"]
    category: str = Field(min_length=1, max_length=32, examples=["plan"])
    lesson: str = Field(
        min_length=1,
        max_length=domain.MAX_TEXT,
        examples=["Early hardship plan after job loss; every instalment kept"],
    )


class CaseOut(BaseModel):
    id: int
    loan_id: int
    outcome: str
    category: str
    lesson: str
    written_by: str
    written_on: date


class CaseList(BaseModel):
    total: int
    items: list[CaseOut]


# ------------------------------------------------------------------------------ conversions


def clock_out(row: dict[str, Any] | ComplaintView) -> SlaClockOut:
    if isinstance(row, ComplaintView):
        sla = row.clock
        return SlaClockOut(
            rule_id=domain.RULE_ID,
            due_on=sla.due_on,
            days_left=sla.days_left,
            urgency=sla.urgency.value,
            escalate=sla.escalate,
        )
    return SlaClockOut(
        rule_id=domain.RULE_ID,
        due_on=row["due_on"],
        days_left=row["days_left"],
        urgency=row["urgency"],
        escalate=row["escalate"],
    )


def summary_out(row: dict[str, Any]) -> ComplaintSummary:
    return ComplaintSummary(
        id=row["complaint_id"],
        borrower_id=row["borrower_id"],
        loan_id=row["loan_id"],
        source=row["source"],
        category=row["category"],
        status=row["status"],
        received_on=row["received_on"],
        resolved_on=row["resolved_on"],
        contacts=row["contacts"],
        clock=clock_out(row),
    )


def complaint_out(view: ComplaintView, principal: Principal) -> ComplaintOut:
    shown = desk.may_read_description(principal.as_actor())
    return ComplaintOut(
        id=view.id,
        borrower_id=view.borrower_id,
        loan_id=view.loan_id,
        source=view.source,
        category=view.category,
        status=view.status,
        received_on=view.received_on,
        resolved_on=view.resolved_on,
        contacts=len(view.contacts),
        clock=clock_out(view),
        description=view.description if shown else None,
        description_withheld=not shown,
        filed_by=view.filed_by,
        hold_id=view.hold_id,
        extension_reason=view.extension_reason if shown else None,
        extended_by=view.extended_by,
        approved_by=view.approved_by,
        resolution=view.resolution if shown else None,
        root_cause=view.root_cause,
        resolved_by=view.resolved_by,
        closed_on=view.closed_on,
        linked_contacts=[
            LinkedContactOut(
                attempt_id=c.attempt_id,
                loan_id=c.loan_id,
                channel=c.channel,
                party=c.party,
                at=c.at,
                actor=c.actor,
                allowed=c.allowed,
                blocked_by=c.blocked_by,
                outcome=c.outcome,
            )
            for c in view.contacts
        ],
    )


def case_out(row: dict[str, Any]) -> CaseOut:
    return CaseOut(
        id=row["case_id"],
        loan_id=row["loan_id"],
        outcome=row["outcome"],
        category=row["category"],
        lesson=row["lesson"],
        written_by=row["written_by"],
        written_on=row["written_on"],
    )
