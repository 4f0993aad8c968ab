"""Read-only queries behind the pages and the API, as named functions.

Every function takes the caller's connection and the :class:`Principal`, applies the
scope (:mod:`forbear.web.scope`) in SQL, and returns plain data. Personal data leaves here
only masked for the viewer's role (:func:`forbear.domain.access.mask_for`, through
:func:`forbear.services.privacy.masked_view` for one borrower); unmasking is a separate,
audited use case (:func:`forbear.services.privacy.reveal`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from forbear.domain.access import PiiField, mask_for
from forbear.domain.errors import NotFound
from forbear.domain.scoring.artefact import load_artefact
from forbear.services import privacy
from forbear.services.contacts import blocked_by_of
from forbear.store.contacts import AgencyAssignment, ContactAttempt, Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import (
    AccountScore,
    AccountState,
    Borrower,
    Loan,
    ModelVersion,
    Payment,
    Product,
)
from forbear.store.runs import Decision, Run, RunStatus, WorkQueueItem
from forbear.web.scope import visible
from forbear.web.sessions import Principal


def book_date(conn: Connection, today: date) -> date | None:
    """The latest date with stored account states, not after ``today``."""
    return conn.execute(
        select(func.max(AccountState.as_of)).where(AccountState.as_of <= today)
    ).scalar()


def queue_date(conn: Connection, today: date) -> date | None:
    """The latest business date, not after ``today``, with a completed daily run."""
    return conn.execute(
        select(func.max(Run.as_of)).where(
            Run.as_of <= today, Run.status == RunStatus.COMPLETED.value
        )
    ).scalar()


def _masked_name(vault: PiiVault, principal: Principal, blob: bytes | None) -> str | None:
    text = vault.decrypt_optional(blob, context=Contexts.BORROWER_NAME)
    return None if text is None else mask_for(principal.role, PiiField.NAME, text)


# ---------------------------------------------------------------- accounts


@dataclass(frozen=True)
class AccountRow:
    loan_id: int
    loan_ref: str
    borrower_id: int
    borrower_name: str | None
    product_code: str
    principal: int
    status: str | None
    bucket: str | None
    dpd: int | None
    overdue_total: int | None
    outstanding_principal: int | None


@dataclass(frozen=True)
class AccountPage:
    as_of: date | None
    total: int
    page: int
    page_size: int
    rows: list[AccountRow]


def list_accounts(
    conn: Connection,
    vault: PiiVault,
    principal: Principal,
    *,
    at: datetime,
    as_of: date | None,
    bucket: str | None = None,
    status: str | None = None,
    min_dpd: int | None = None,
    max_dpd: int | None = None,
    loan_ref: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> AccountPage:
    """Loans the principal may see with their state on ``as_of``, filtered, by loan id."""
    state = AccountState
    joined = and_(state.loan_id == Loan.id, state.as_of == as_of)
    query = (
        select(
            Loan.id,
            Loan.external_ref,
            Loan.borrower_id,
            Product.code,
            Loan.principal,
            Borrower.name_enc,
            state.status,
            state.bucket,
            state.dpd,
            state.overdue_total,
            state.outstanding_principal,
        )
        .join(Product, Product.id == Loan.product_id)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .outerjoin(state, joined)
        .where(visible(principal, at, as_of))
    )
    if bucket is not None:
        query = query.where(state.bucket == bucket)
    if status is not None:
        query = query.where(state.status == status)
    if min_dpd is not None:
        query = query.where(state.dpd >= min_dpd)
    if max_dpd is not None:
        query = query.where(state.dpd <= max_dpd)
    if loan_ref:
        query = query.where(Loan.external_ref == loan_ref.strip())
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(
        query.order_by(Loan.id).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return AccountPage(
        as_of=as_of,
        total=int(total),
        page=page,
        page_size=page_size,
        rows=[
            AccountRow(
                loan_id=r.id,
                loan_ref=r.external_ref,
                borrower_id=r.borrower_id,
                borrower_name=_masked_name(vault, principal, r.name_enc),
                product_code=r.code,
                principal=r.principal,
                status=r.status,
                bucket=r.bucket,
                dpd=r.dpd,
                overdue_total=r.overdue_total,
                outstanding_principal=r.outstanding_principal,
            )
            for r in rows
        ],
    )


@dataclass(frozen=True)
class Reason:
    feature: str
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class ScoreView:
    kind: str
    model_version_id: int
    score: int
    tier: str | None
    pd: float | None
    reasons: list[Reason]


# The account state's fields shown on the page and the API (StateView).
STATE_FIELDS = (
    "loan_id",
    "as_of",
    "status",
    "dpd",
    "bucket",
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "overdue_penalty",
    "overdue_total",
    "outstanding_principal",
    "oldest_unpaid_due_date",
    "next_due_date",
    "next_due_amount",
    "last_payment_date",
    "paid_total",
    "credit",
)


@dataclass
class AccountDetail:
    loan_id: int
    loan_ref: str
    product_code: str
    product_name_zh: str
    product_name_en: str
    principal: int
    term_months: int
    annual_rate_bp: int
    start_date: date
    written_off_on: date | None
    as_of: date | None
    state: dict[str, Any] | None
    scores: list[ScoreView]
    borrower: dict[str, Any]
    open_holds: list[dict[str, Any]] = field(default_factory=list)
    agency_id: int | None = None
    # the borrower situation's row of the loan (forbear.domain.situation.LOAN_SITUATION)
    situation: dict[str, Any] | None = None


def _reasons(
    conn: Connection, cache: dict[int, dict[str, tuple[str, str]]], score: Any
) -> list[Reason]:
    codes = [str(c) for c in json.loads(score.reason_codes or "[]")]
    if not codes:
        return []
    version = int(score.model_version_id)
    if version not in cache:
        text = conn.execute(
            select(ModelVersion.artefact).where(ModelVersion.id == version)
        ).scalar_one()
        artefact = load_artefact(text, source=f"model version {version}")
        cache[version] = {f.name: (f.label_zh, f.label_en) for f in artefact.features}
    labels = cache[version]
    return [Reason(c, *labels.get(c, (c, c))) for c in codes]


def account_detail(
    conn: Connection,
    vault: PiiVault,
    principal: Principal,
    loan_id: int,
    *,
    at: datetime,
    as_of: date | None,
) -> AccountDetail:
    """One loan as ``principal`` may see it (404 outside the scope)."""
    loan = conn.execute(
        select(Loan.__table__, Product.code, Product.name_zh, Product.name_en)
        .join(Product, Product.id == Loan.product_id)
        .where(Loan.id == loan_id, visible(principal, at, as_of))
    ).one_or_none()
    if loan is None:
        raise NotFound("loan", str(loan_id))
    row = loan
    state = None
    live: dict[str, Any] | None = None
    if as_of is not None:
        # the borrower situation from what is stored now (a plan accepted a minute ago
        # counts), not the daily run's snapshot (forbear.services.situation)
        from forbear.services import situation

        _, live = situation.of_loan(conn, loan_id, as_of, at)
        state = None if live is None else {k: live[k] for k in STATE_FIELDS}
    cache: dict[int, dict[str, tuple[str, str]]] = {}
    scores: list[ScoreView] = []
    if as_of is not None:
        for s in conn.execute(
            select(AccountScore)
            .where(AccountScore.loan_id == loan_id, AccountScore.as_of == as_of)
            .order_by(AccountScore.kind)
        ):
            scores.append(
                ScoreView(
                    kind=s.kind,
                    model_version_id=s.model_version_id,
                    score=s.score_int,
                    tier=s.tier,
                    pd=s.pd,
                    reasons=_reasons(conn, cache, s),
                )
            )
    from forbear.services.holds import covering, open_at

    holds = [
        {"id": h.id, "kind": h.kind, "channel": h.channel, "since": h.since, "loan_id": h.loan_id}
        for h in conn.execute(
            select(Hold).where(covering(row.borrower_id, loan_id), open_at(at)).order_by(Hold.id)
        )
    ]
    agency = conn.execute(
        select(AgencyAssignment.agency_id).where(
            AgencyAssignment.loan_id == loan_id,
            AgencyAssignment.from_at <= at,
            (AgencyAssignment.to_at.is_(None)) | (AgencyAssignment.to_at > at),
        )
    ).scalar()
    return AccountDetail(
        loan_id=row.id,
        loan_ref=row.external_ref,
        product_code=loan.code,
        product_name_zh=loan.name_zh,
        product_name_en=loan.name_en,
        principal=row.principal,
        term_months=row.term_months,
        annual_rate_bp=row.annual_rate_bp,
        start_date=row.start_date,
        written_off_on=row.written_off_on,
        as_of=as_of,
        state=state,
        scores=scores,
        borrower=privacy.masked_view(conn, vault, principal.role, row.borrower_id),
        open_holds=holds,
        agency_id=agency,
        situation=live,
    )


# ---------------------------------------------------------------- timeline


@dataclass(frozen=True)
class TimelineEvent:
    kind: str  # payment | contact
    at: datetime | None
    on: date
    amount: int | None = None
    channel: str | None = None
    party: str | None = None
    allowed: bool | None = None
    blocked_by: tuple[str, ...] = ()
    earliest_allowed_at: datetime | None = None
    outcome: str | None = None
    attempt_id: int | None = None
    actor: str | None = None


def timeline(conn: Connection, loan_id: int, *, zone: Any, limit: int = 200) -> list[TimelineEvent]:
    """Payments and contact attempts of a loan, newest first (``limit`` of each)."""
    events: list[TimelineEvent] = []
    for p in conn.execute(
        select(Payment.paid_on, Payment.paid_at, Payment.amount, Payment.channel)
        .where(Payment.loan_id == loan_id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .limit(limit)
    ):
        events.append(
            TimelineEvent(
                kind="payment", at=p.paid_at, on=p.paid_on, amount=p.amount, channel=p.channel
            )
        )
    for a in conn.execute(
        select(ContactAttempt)
        .where(ContactAttempt.loan_id == loan_id)
        .order_by(ContactAttempt.at.desc(), ContactAttempt.id.desc())
        .limit(limit)
    ):
        events.append(
            TimelineEvent(
                kind="contact",
                at=a.at,
                on=a.at.astimezone(zone).date(),
                channel=a.channel,
                party=a.party,
                allowed=a.allowed,
                blocked_by=tuple(blocked_by_of(a.blocked_by)),
                earliest_allowed_at=a.earliest_allowed_at,
                outcome=a.outcome,
                attempt_id=a.id,
                actor=a.actor,
            )
        )
    events.sort(key=lambda e: (e.on, e.at or datetime.min.replace(tzinfo=zone)), reverse=True)
    return events


def repayment_curve(conn: Connection, loan_id: int) -> tuple[list[date], list[int], list[int]]:
    """Due dates with cumulative amounts due and paid by each (fen), for the chart."""
    from forbear.store.models import Instalment

    dues = conn.execute(
        select(Instalment.due_date, Instalment.principal + Instalment.interest + Instalment.fee)
        .where(Instalment.loan_id == loan_id)
        .order_by(Instalment.seq)
    ).all()
    payments = conn.execute(
        select(Payment.paid_on, Payment.amount).where(Payment.loan_id == loan_id)
    ).all()
    days, due_sum, paid_sum = [], [], []
    total = 0
    for day, amount in dues:
        total += int(amount)
        days.append(day)
        due_sum.append(total)
        paid_sum.append(sum(int(a) for d, a in payments if d <= day))
    return days, due_sum, paid_sum


# ---------------------------------------------------------------- decisions, queue, runs


def decisions_for(conn: Connection, loan_id: int, as_of: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(Decision.__table__)
        .where(Decision.loan_id == loan_id, Decision.as_of == as_of)
        .order_by(Decision.action_index)
    ).mappings()
    out = []
    for r in rows:
        item = dict(r)
        item["reason_codes"] = json.loads(item["reason_codes"] or "[]")
        item["blocked_by"] = json.loads(item["blocked_by"] or "[]")
        out.append(item)
    return out


@dataclass(frozen=True)
class QueueItem:
    rank: int
    agent_id: str
    team_id: str | None
    loan_id: int
    loan_ref: str
    borrower_name: str | None
    channel: str
    template: str | None
    carried: bool
    bucket: str | None
    dpd: int | None
    overdue_total: int | None


def work_queue(
    conn: Connection,
    vault: PiiVault,
    principal: Principal,
    *,
    at: datetime,
    as_of: date,
    agent: str | None = None,
) -> list[QueueItem]:
    """The day's queue the principal works or oversees, by agent and rank.

    Agents (and agency agents) see their own agent id's items (none without an agent id);
    a supervisor sees the team's (``agent`` narrows it to one agent); the other roles see
    every item within their scope.
    """
    from forbear.domain.access import Role

    q = WorkQueueItem
    state = AccountState
    query = (
        select(
            q.rank,
            q.agent_id,
            q.team_id,
            q.loan_id,
            Loan.external_ref,
            Borrower.name_enc,
            q.channel,
            q.template,
            q.carried,
            state.bucket,
            state.dpd,
            state.overdue_total,
        )
        .join(Loan, Loan.id == q.loan_id)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .outerjoin(state, and_(state.loan_id == q.loan_id, state.as_of == q.as_of))
        .where(q.as_of == as_of, visible(principal, at, as_of))
    )
    if principal.role in (Role.AGENT, Role.AGENCY_AGENT):
        if principal.agent_ref is None and principal.role is Role.AGENT:
            return []
        if principal.agent_ref is not None:
            query = query.where(q.agent_id == principal.agent_ref)
    elif principal.role is Role.SUPERVISOR and principal.team_id is not None:
        query = query.where(q.team_id == principal.team_id)
    if agent is not None:
        query = query.where(q.agent_id == agent)
    rows = conn.execute(query.order_by(q.agent_id, q.rank).limit(2_000)).all()
    return [
        QueueItem(
            rank=r.rank,
            agent_id=r.agent_id,
            team_id=r.team_id,
            loan_id=r.loan_id,
            loan_ref=r.external_ref,
            borrower_name=_masked_name(vault, principal, r.name_enc),
            channel=r.channel,
            template=r.template,
            carried=r.carried,
            bucket=r.bucket,
            dpd=r.dpd,
            overdue_total=r.overdue_total,
        )
        for r in rows
    ]


def list_runs(conn: Connection, *, limit: int, offset: int) -> tuple[int, list[Any]]:
    total = conn.execute(select(func.count()).select_from(Run)).scalar_one()
    rows = conn.execute(
        select(Run.__table__).order_by(Run.as_of.desc(), Run.id.desc()).limit(limit).offset(offset)
    ).all()
    return int(total), list(rows)


def get_run(conn: Connection, run_id: int) -> Any:
    row = conn.execute(select(Run.__table__).where(Run.id == run_id)).one_or_none()
    if row is None:
        raise NotFound("run", str(run_id))
    return row
