"""The supervisor dashboard (read-only): the figures of a date range by strategy arm or by
team, the roll-rate matrix, blocked contacts by rule, the latest daily run's summary and
its capacity use. Definitions: ``docs/dashboard.md`` and :mod:`forbear.services.dashboard`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
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
DEFAULT_DAYS = 30
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)

Rate = Annotated[
    float | None,
    Field(description="a share from 0 to 1; null when its denominator is 0 (no data)"),
]


class GroupMetrics(BaseModel):
    group: str = Field(
        description="the arm or team; 'all' for the whole book, 'none' for accounts "
        "without a decision (or without a team) in the range",
        examples=["champion"],
    )
    accounts: int = Field(description="active accounts at the start", examples=[812])
    overdue_accounts: int = Field(description="of them overdue at the start", examples=[240])
    overdue_start: Money = Field(description="their overdue amount at the start")
    collected: Money = Field(description="paid by them after the start up to the end")
    recovery_rate: Rate = Field(examples=[0.18])
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


def date_range(
    t: Translator, start: date | None, end: date | None, today: date
) -> tuple[date, date]:
    """The range asked for: default the 30 days up to today; refused in the caller's
    language when ``from`` is not before ``to`` or it spans more than a year."""
    for field, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ValidationError(field, t("dashboard.error.bounds", low=EARLIEST, high=LATEST))
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise ValidationError("to", t("dashboard.error.order"))
    if (end - start).days > svc.MAX_DAYS:
        raise ValidationError("to", t("dashboard.error.span", days=svc.MAX_DAYS))
    return start, end


@dataclass(frozen=True)
class View:
    """Everything the API and the page show for one range."""

    start: date
    end: date
    by_arm: pl.DataFrame
    by_team: pl.DataFrame
    roll: pl.DataFrame
    blocked: pl.DataFrame
    run: svc.RunDay | None
    satisfaction: pl.DataFrame
    collected_by_day: pl.DataFrame

    @property
    def satisfaction_all(self) -> dict[str, Any]:
        rows = self.satisfaction.filter(pl.col("subject_type") == svc.ALL).to_dicts()
        return rows[0] if rows else {"responses": 0, "mean_score": None, "share_4_5": None}

    @property
    def has_data(self) -> bool:
        everyone = self.by_arm.row(0, named=True)
        return bool(
            everyone["accounts"]
            or everyone["attempts"]
            or everyone["promises_resolved"]
            or everyone["complaints"]
            or self.satisfaction_all["responses"]
            or self.blocked.height
            or self.run is not None
        )


def read_view(request: Request, start: date, end: date) -> View:
    web = state_of(request)
    zone = web.forbear.settings.zone
    with web.forbear.transaction() as conn:
        found = svc.figures(conn, start, end, zone=zone)
        blocked = svc.blocked_by_rule(conn, start, end, zone=zone)
        run = svc.latest_run(conn, start, end)
    return View(
        start,
        end,
        svc.metrics_of(found, start, end, "arm"),
        svc.metrics_of(found, start, end, "team"),
        found.roll_matrix,
        blocked,
        run,
        found.satisfaction,
        found.collected_by_day,
    )


def group_out(row: dict[str, Any]) -> GroupMetrics:
    values = dict(row)
    values["overdue_start"] = Money.of(row["overdue_start"])
    values["collected"] = Money.of(row["collected"])
    return GroupMetrics.model_validate(values)


def roll_out(frame: pl.DataFrame) -> list[RollRow]:
    return [
        RollRow(
            bucket=r["bucket"],
            accounts=r["accounts"],
            to={k: float(v) for k, v in r.items() if k not in ("bucket", "accounts")},
        )
        for r in frame.to_dicts()
    ]


def run_out(run: svc.RunDay | None) -> RunDay | None:
    if run is None:
        return None
    summary = run.summary
    contacts = summary.get("contacts") or {}
    return RunDay(
        run_id=run.run_id,
        as_of=run.as_of,
        accounts=summary.get("accounts"),
        actions=summary.get("actions"),
        contacts_planned=contacts.get("planned"),
        contacts_allowed=contacts.get("allowed"),
        contacts_blocked=contacts.get("blocked"),
        work_queue=summary.get("work_queue"),
        outbox_added=summary.get("outbox_added"),
        capacity=[CapacityRow.model_validate(r) for r in svc.capacity_use(summary).to_dicts()],
    )


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
    view = read_view(request, start, end)
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
    )
