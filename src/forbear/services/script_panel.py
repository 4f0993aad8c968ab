"""The script panel of the account page: suggested script lines and financial-education
articles for one loan's situation, as a collector sees them.

What the lines are chosen by is the borrower situation (:mod:`forbear.services.situation`,
the one definition of ``active_plan``, ``active_promise``, ``broken_promises_90d`` and of
a vulnerable hold open at ``now``) and the segment of the latest daily run's decision:
no rule is re-derived here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from forbear.domain.access import Actor
from forbear.domain.scripts import ScriptLine, Situation, suggest
from forbear.services import education
from forbear.services import situation as situations
from forbear.services.loan_scope import require_loan_day
from forbear.store.runs import Decision

VIEW = "account.view"


@dataclass(frozen=True, slots=True)
class Reading:
    slug: str
    title: str
    summary: str


@dataclass(frozen=True, slots=True)
class Panel:
    loan_id: int
    situation: Situation
    lines: list[ScriptLine]
    education: list[Reading]


def loan_situation(
    conn: Connection, loan_id: int, as_of: date, at: datetime
) -> tuple[Situation, dict[str, Any] | None]:
    """The script situation of one loan on ``as_of`` and the borrower situation's row
    (None before the loan starts: nothing is owed yet)."""
    segment = conn.execute(
        select(Decision.segment)
        .where(Decision.loan_id == loan_id, Decision.as_of <= as_of)
        .order_by(Decision.as_of.desc(), Decision.action_index)
        .limit(1)
    ).scalar_one_or_none()
    _, row = situations.of_loan(conn, loan_id, as_of, at)
    if row is None:
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


def _readings(s: Situation, row: dict[str, Any] | None, lang: str) -> list[Reading]:
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
        out.append(Reading(slug=slug, title=found.title, summary=found.summary))
    return out


def panel(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    *,
    now: datetime,
    today: date,
    lang: str,
    as_of: date | None = None,
) -> Panel:
    """The panel for a loan in ``actor``'s scope, on ``as_of`` (default: the business
    day of ``today``)."""
    actor.require(VIEW)
    day = require_loan_day(conn, actor, loan_id, now=now, today=today)
    s, row = loan_situation(conn, loan_id, as_of or day, now)
    return Panel(loan_id=loan_id, situation=s, lines=suggest(s), education=_readings(s, row, lang))
