"""The supervisor dashboard (read-only): the figures of a date range by strategy arm or by
team, the roll-rate matrix, blocked contacts by rule, the latest daily run's summary and
its capacity use. Definitions: ``docs/dashboard.md`` and :mod:`forbear.services.dashboard`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from forbear.domain.errors import ValidationError
from forbear.services import dashboard as svc
from forbear.web.api.schemas import Money
from forbear.web.deps import require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.permissions import MANAGEMENT_VIEW
from forbear.web.sessions import Principal

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
Manager = Annotated[Principal, Depends(require_any(*MANAGEMENT_VIEW))]

Rate = Annotated[
    float | None,
    Field(description="a share from 0 to 1; null when its denominator is 0 (no data)"),
]


class Interval(BaseModel):
    """A rate's sample size and 95% confidence interval (Wilson's for proportions; the
    ratio estimator's for the recovery rate)."""

    n: int = Field(description="the rate's denominator: accounts, attempts or promises")
    low: float | None = Field(examples=[0.12])
    high: float | None = Field(examples=[0.31])
    small: bool = Field(description=f"fewer than {svc.SMALL_N} cases: read with care")


class GroupMetrics(BaseModel):
    group: str = Field(
        description="the arm or team; 'all' for the whole book, 'none' for accounts "
        "without a decision (or without a team) in the range",
        examples=["champion"],
    )
    accounts: int = Field(description="active accounts at the start", examples=[812])
    overdue_accounts: int = Field(description="of them overdue at the start", examples=[240])
    overdue_start: Money = Field(description="their overdue amount at the start")
    collected: Money = Field(
        description="all they paid after the start up to the end (instalments falling due "
        "and early repayments included)"
    )
    recovered: Money = Field(
        description="what they paid towards their overdue amount at the start (each "
        "account's payments up to its overdue amount): the recovery rate's numerator"
    )
    recovery_rate: Rate = Field(description="recovered ÷ overdue at the start", examples=[0.18])
    cured: int = Field(examples=[61])
    cure_rate: Rate = Field(examples=[0.25])
    rolled_forward: int = Field(examples=[40])
    roll_forward_rate: Rate = Field(examples=[0.17])
    attempts: int = Field(description="contact attempts the gate allowed", examples=[1300])
    connected: int = Field(description="attempts with a conversation", examples=[420])
    right_party: int = Field(description="conversations with the debtor", examples=[350])
    contact_rate: Rate = Field(examples=[0.32])
    rpc_rate: Rate = Field(examples=[0.27])
    promises_resolved: int = Field(examples=[90])
    promises_kept: int = Field(examples=[55])
    kept_rate: Rate = Field(examples=[0.61])
    complaints: int = Field(description="complaints received in the range", examples=[2])
    complaint_contacts: int = Field(
        description="allowed contact attempts, as the complaints area attributes them",
        examples=[1300],
    )
    complaints_per_10k: float | None = Field(
        description="complaints per 10,000 contacts; null without contacts", examples=[15.4]
    )
    intervals: dict[str, Interval] = Field(
        description="per rate (recovery_rate, cure_rate, ...): its n and 95% interval"
    )


class AgentRow(BaseModel):
    agent: str = Field(examples=["web:agent1"])
    attempts: int = Field(description="contact attempts made (allowed)", examples=[240])
    active_hours: int = Field(description="clock hours with at least one attempt")
    attempts_per_hour: float | None = Field(examples=[18.5])
    connected: int
    right_party: int = Field(description="conversations with the debtor")
    rpc_rate: Rate
    rpc_interval: Interval
    promises: int = Field(description="promises taken in the range")
    promises_kept: int
    collected: Money = Field(description="paid so far on the promises they took")


class DayCollected(BaseModel):
    day: date
    payments: int = Field(examples=[14])
    amount: Money


class Satisfaction(BaseModel):
    subject_type: str = Field(description="plan, promise, complaint or all", examples=["all"])
    responses: int = Field(examples=[40])
    mean_score: float | None = Field(description="1 to 5; null without answers", examples=[4.1])
    share_4_5: Rate = Field(examples=[0.72])


class RollRow(BaseModel):
    bucket: str = Field(description="bucket at the start", examples=["M1"])
    accounts: int = Field(examples=[120])
    to: dict[str, float] = Field(
        description="share of the row's accounts in each state at the end",
        examples=[{"C": 0.3, "M1": 0.4, "M2": 0.3, "paid_off": 0.0, "written_off": 0.0}],
    )


class BlockedRule(BaseModel):
    rule: str = Field(examples=["CN.HOURS"])
    planned: int = Field(description="planned contacts blocked by the daily runs", examples=[9])
    online: int = Field(description="contacts asked for online and blocked", examples=[2])


class CapacityRow(BaseModel):
    channel: str = Field(examples=["call"])
    team_id: str | None = Field(description="null: the channel's total", examples=["phone-zh"])
    planned: int = Field(examples=[180])
    scheduled: int = Field(examples=[150])
    carried: int = Field(examples=[10])
    capacity: int | None = Field(description="null when unlimited", examples=[160])
    used_pct: float | None = Field(examples=[93.8])


class RunDay(BaseModel):
    run_id: int = Field(examples=[12])
    as_of: date
    accounts: int | None = Field(examples=[1000])
    actions: int | None = Field(examples=[1400])
    contacts_planned: int | None = Field(examples=[900])
    contacts_allowed: int | None = Field(examples=[760])
    contacts_blocked: int | None = Field(examples=[140])
    work_queue: int | None = Field(examples=[150])
    outbox_added: int | None = Field(examples=[600])
    capacity: list[CapacityRow]


class OutreachDay(BaseModel):
    """The outbox's messages of one day and channel (``forbear.services.outreach.counts``)."""

    day: date = Field(description="the business date the message was queued for")
    channel: str = Field(examples=["sms"])
    pending: int = Field(description="queued or being sent", examples=[3])
    sent: int = Field(description="accepted by the provider (delivered included)", examples=[420])
    delivered: int = Field(description="confirmed by a delivery receipt", examples=[400])
    failed: int = Field(
        description="refused for good, or given up after the last try", examples=[6]
    )
    cancelled: int = Field(
        description="stopped before sending (gate, missing variable, a person)", examples=[12]
    )


class Dashboard(BaseModel):
    start: date = Field(serialization_alias="from", examples=["2026-10-21"])
    end: date = Field(serialization_alias="to", examples=["2026-11-20"])
    group_by: Literal["arm", "team"]
    has_data: bool = Field(
        description="false when the range holds no accounts, contacts, promises or runs"
    )
    groups: list[GroupMetrics]
    roll_rates: list[RollRow]
    blocked_by_rule: list[BlockedRule]
    run: RunDay | None = Field(description="the latest completed daily run in the range")
    satisfaction: list[Satisfaction] = Field(description="survey answers of the range")
    collected_by_day: list[DayCollected] = Field(
        description="payments of the accounts overdue at start, per day with any"
    )
    outreach_by_channel: list[OutreachDay] = Field(
        description="outbox messages per day (after from, up to to) and channel, days with any"
    )
    agents: list[AgentRow] = Field(description="the per-agent view of the range")


def date_range(
    t: Translator, start: date | None, end: date | None, today: date
) -> tuple[date, date]:
    """:func:`forbear.services.dashboard.date_range`, refused in the caller's language."""
    try:
        return svc.date_range(start, end, today)
    except svc.RangeRefused as refused:
        raise ValidationError(refused.field, t(refused.key, **refused.values)) from None


def read_view(request: Request, principal: Principal, start: date, end: date) -> svc.View:
    web = state_of(request)
    with web.forbear.reading() as conn:
        return svc.view(conn, principal.as_actor(), start, end, zone=web.forbear.settings.zone)


def group_out(row: dict[str, Any]) -> GroupMetrics:
    values = dict(row)
    values["overdue_start"] = Money.of(row["overdue_start"])
    values["collected"] = Money.of(row["collected"])
    values["recovered"] = Money.of(row["recovered"])
    values["intervals"] = {
        rate: Interval(
            n=row[f"{rate}_n"],
            low=row[f"{rate}_low"],
            high=row[f"{rate}_high"],
            small=row[f"{rate}_small"],
        )
        for rate in svc.RATE_N
    }
    return GroupMetrics.model_validate(values)


def agent_out(row: dict[str, Any]) -> AgentRow:
    values = dict(row)
    values["collected"] = Money.of(row["collected"])
    values["rpc_interval"] = Interval(
        n=row["attempts"], low=row["rpc_low"], high=row["rpc_high"], small=row["rpc_small"]
    )
    return AgentRow.model_validate(values)


def roll_out(frame: pl.DataFrame) -> list[RollRow]:
    return [
        RollRow(
            bucket=r["bucket"],
            accounts=r["accounts"],
            to={k: float(v) for k, v in r.items() if k not in ("bucket", "accounts")},
        )
        for r in frame.to_dicts()
    ]


def run_out(run: svc.RunSummary | None) -> RunDay | None:
    if run is None:
        return None
    return RunDay.model_validate(asdict(run))


@router.get(
    "",
    response_model=Dashboard,
    response_model_by_alias=True,
    summary="The supervisor dashboard's figures of a date range, by arm or by team",
)
def dashboard(
    request: Request,
    principal: Manager,
    start: Annotated[
        date | None,
        Query(alias="from", description="first day; default 30 days before to"),
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="last day; default today")] = None,
    group_by: Annotated[Literal["arm", "team"], Query()] = "arm",
) -> Dashboard:
    t = Translator(request_lang(request))
    start, end = date_range(t, start, end, state_of(request).today())
    view = read_view(request, principal, start, end)
    frame = view.by_arm if group_by == "arm" else view.by_team
    return Dashboard(
        start=start,
        end=end,
        group_by=group_by,
        has_data=view.has_data,
        groups=[group_out(r) for r in frame.to_dicts()],
        roll_rates=roll_out(view.roll),
        blocked_by_rule=[BlockedRule.model_validate(r) for r in view.blocked.to_dicts()],
        run=run_out(view.run),
        satisfaction=[Satisfaction.model_validate(r) for r in view.satisfaction.to_dicts()],
        collected_by_day=[
            DayCollected(day=d, payments=n, amount=Money.of(a))
            for d, n, a in view.collected_by_day.iter_rows()
        ],
        outreach_by_channel=[OutreachDay.model_validate(r) for r in view.outreach.to_dicts()],
        agents=[agent_out(r) for r in view.agents.to_dicts()],
    )
