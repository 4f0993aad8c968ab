"""The supervisor dashboard page: a date range, the whole book's tiles, tables and Plotly
charts by strategy arm and by team, the roll-rate matrix, blocked contacts by rule, the
latest daily run and its capacity use, the outbox by channel (the figures of
:mod:`forbear.services.dashboard`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from forbear.domain.errors import ValidationError
from forbear.services import dashboard as svc
from forbear.services.outreach.counts import DAY_COLUMNS, channel_totals
from forbear.web.deps import require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.render import page
from forbear.web.permissions import MANAGEMENT_VIEW
from forbear.web.sessions import Principal

router = APIRouter()
Manager = Annotated[Principal, Depends(require_any(*MANAGEMENT_VIEW))]

# the rates charted per group, in the order of the tiles
RATES = ("recovery_rate", "cure_rate", "roll_forward_rate", "kept_rate", "contact_rate", "rpc_rate")


def group_name(t: Translator, name: str) -> str:
    """A group's name in words: all, unassigned, and the usual experiment arms (champion,
    challenger, control) from the catalogue; a lender's own arm or team name as it is."""
    if name in (svc.ALL, svc.NONE):
        return t(f"dashboard.group.{name}")
    return t(f"dashboard.arm.{name}") if t.has(f"dashboard.arm.{name}") else name


def rates_chart(t: Translator, frame: pl.DataFrame) -> dict[str, Any]:
    """A grouped bar chart: one trace per rate, one bar group per arm or team (null
    rates are gaps, not zeros)."""
    groups = frame.filter(pl.col("group") != svc.ALL)
    return {
        "kind": "grouped",
        "percent": True,
        "x": [group_name(t, g) for g in groups["group"]],
        "series": [{"name": t(f"dashboard.{r}"), "y": groups[r].to_list()} for r in RATES],
    }


def collected_chart(t: Translator, frame: pl.DataFrame) -> dict[str, Any] | None:
    """Yuan collected per day from the accounts overdue at start (bars; days without
    payments are left out, not drawn as zeros)."""
    if frame.height == 0:
        return None
    return {
        "kind": "grouped",
        "percent": False,
        "x": [str(d) for d in frame["day"]],
        "series": [
            {
                "name": t("dashboard.col.collected"),
                "y": [round(a / 100, 2) for a in frame["amount"]],
            }
        ],
    }


def blocked_chart(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        "kind": "grouped",
        "percent": False,
        "stacked": True,
        "x": frame["rule"].to_list(),
        "series": [
            {"name": "planned", "y": frame["planned"].to_list()},
            {"name": "online", "y": frame["online"].to_list()},
        ],
    }


def outreach_chart(t: Translator, frame: pl.DataFrame) -> dict[str, Any] | None:
    """Messages per day, all channels: sent, delivered, failed and cancelled (bars; days
    without messages are left out)."""
    if frame.height == 0:
        return None
    days = frame.group_by("day").agg(pl.col(c).sum() for c in DAY_COLUMNS).sort("day")
    return {
        "kind": "grouped",
        "percent": False,
        "x": [str(d) for d in days["day"]],
        "series": [
            {"name": t(f"dashboard.outreach.{c}"), "y": days[c].to_list()}
            for c in ("sent", "delivered", "failed", "cancelled")
        ],
    }


@router.get("/dashboard")
def dashboard_page(
    request: Request,
    principal: Manager,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    t = Translator(request_lang(request))
    web = state_of(request)
    try:
        start, end = svc.date_range(start, end, web.today())
    except svc.RangeRefused as refused:
        raise ValidationError(refused.field, t(refused.key, **refused.values)) from None
    with web.forbear.reading() as conn:
        view = svc.view(conn, principal.as_actor(), start, end, zone=web.forbear.settings.zone)
    blocked = blocked_chart(view.blocked)
    blocked["series"][0]["name"] = t("dashboard.blocked.planned")
    blocked["series"][1]["name"] = t("dashboard.blocked.online")
    return page(
        request,
        "dashboard/index.html",
        principal,
        start=start,
        end=end,
        has_data=view.has_data,
        everyone=view.by_arm.row(0, named=True),
        sections=[
            ("arm", t("dashboard.by_arm"), view.by_arm, rates_chart(t, view.by_arm)),
            ("team", t("dashboard.by_team"), view.by_team, rates_chart(t, view.by_team)),
        ],
        roll=view.roll,
        roll_columns=[c for c in view.roll.columns if c not in ("bucket", "accounts")],
        blocked=view.blocked,
        blocked_chart=blocked if view.blocked.height else None,
        run=view.run,
        rates=RATES,
        pct=lambda v: t("dashboard.rate_none") if v is None else f"{100 * v:.1f}%",
        group_name=lambda g: group_name(t, g),
        satisfaction=view.satisfaction_all,
        survey=view.satisfaction.to_dicts(),
        collected_chart=collected_chart(t, view.collected_by_day),
        per_10k=lambda v: t("dashboard.rate_none") if v is None else f"{v:.1f}",
        outreach=channel_totals(view.outreach),
        outreach_columns=DAY_COLUMNS,
        outreach_chart=outreach_chart(t, view.outreach),
        agents=view.agents.to_dicts(),
        small_n=svc.SMALL_N,
    )
