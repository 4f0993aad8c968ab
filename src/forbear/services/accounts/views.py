"""Accounts as a staff member sees them: the search list and one account.

Every function takes the caller's connection (a read: ``Forbear.reading()`` or a
transaction), the :class:`Actor` who reads (``account.view``; the loans in its scope,
:mod:`forbear.services.scope`) and the moment (``at``, aware UTC) with the book date
(``as_of``: the latest stored states, :func:`forbear.services.days.book_date`). Personal
data leaves here only masked for the actor's role (:func:`forbear.domain.access.mask_for`,
:func:`forbear.services.privacy.masked_view`); unmasking is a separate, audited use case
(:func:`forbear.services.privacy.reveal`).

One account's amounts are the borrower situation computed from what is stored at the
moment of reading (:mod:`forbear.services.situation`), the same numbers the portal shows
the borrower: a plan accepted a minute ago counts, not only after the next daily run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from forbear.domain.access import Actor, PiiField, Role, default_policy
from forbear.domain.errors import NotFound
from forbear.domain.scoring.artefact import load_artefact
from forbear.services import privacy, situation
from forbear.services.holds import open_holds
from forbear.services.scope import visible
from forbear.store.contacts import AgencyAssignment
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import (
    AccountScore,
    AccountState,
    Borrower,
    Loan,
    LoanStatus,
    ModelVersion,
    Product,
)

__all__ = [
    "STATE_FIELDS",
    "AccountDetail",
    "AccountPage",
    "AccountRow",
    "LoanStatus",
    "Reason",
    "ScoreView",
    "account_detail",
    "list_accounts",
    "masked_name",
    "viewer_role",
]

VIEW = "account.view"


def viewer_role(actor: Actor) -> Role:
    """The role whose masking applies: a role-free actor (an operator, the system) sees
    personal data masked as an administrator does (nothing in clear)."""
    return actor.role if actor.role is not None else Role.ADMIN


def masked_name(vault: PiiVault, actor: Actor, blob: bytes | None) -> str | None:
    """A borrower's stored name, masked for ``actor``'s role."""
    text = vault.decrypt_optional(blob, context=Contexts.BORROWER_NAME)
    if text is None:
        return None
    return default_policy().mask_for(viewer_role(actor), PiiField.NAME, text)


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
    actor: Actor,
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
    """Loans ``actor`` may see with their state on ``as_of``, filtered, by loan id."""
    actor.require(VIEW)
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
        .where(visible(actor, at, as_of))
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
                borrower_name=masked_name(vault, actor, r.name_enc),
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
    borrower_id: int
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


def _scores(conn: Connection, loan_id: int, as_of: date) -> list[ScoreView]:
    cache: dict[int, dict[str, tuple[str, str]]] = {}
    return [
        ScoreView(
            kind=s.kind,
            model_version_id=s.model_version_id,
            score=s.score_int,
            tier=s.tier,
            pd=s.pd,
            reasons=_reasons(conn, cache, s),
        )
        for s in conn.execute(
            select(AccountScore)
            .where(AccountScore.loan_id == loan_id, AccountScore.as_of == as_of)
            .order_by(AccountScore.kind)
        )
    ]


def account_detail(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    loan_id: int,
    *,
    at: datetime,
    as_of: date | None,
) -> AccountDetail:
    """One loan as ``actor`` may see it (:class:`NotFound` outside the scope).

    The state, the open holds and the flags are the borrower situation at ``at`` (from
    what is stored now); the scores are the daily run's of ``as_of``."""
    actor.require(VIEW)
    loan = conn.execute(
        select(Loan.__table__, Product.code, Product.name_zh, Product.name_en)
        .join(Product, Product.id == Loan.product_id)
        .where(Loan.id == loan_id, visible(actor, at, as_of))
    ).one_or_none()
    if loan is None:
        raise NotFound("loan", str(loan_id))
    state = None
    live: dict[str, Any] | None = None
    if as_of is not None:
        _, live = situation.of_loan(conn, loan_id, as_of, at)
        state = None if live is None else {k: live[k] for k in STATE_FIELDS}
    agency = conn.execute(
        select(AgencyAssignment.agency_id).where(
            AgencyAssignment.loan_id == loan_id,
            AgencyAssignment.from_at <= at,
            (AgencyAssignment.to_at.is_(None)) | (AgencyAssignment.to_at > at),
        )
    ).scalar()
    return AccountDetail(
        loan_id=loan.id,
        loan_ref=loan.external_ref,
        borrower_id=int(loan.borrower_id),
        product_code=loan.code,
        product_name_zh=loan.name_zh,
        product_name_en=loan.name_en,
        principal=loan.principal,
        term_months=loan.term_months,
        annual_rate_bp=loan.annual_rate_bp,
        start_date=loan.start_date,
        written_off_on=loan.written_off_on,
        as_of=as_of,
        state=state,
        scores=[] if as_of is None else _scores(conn, loan_id, as_of),
        borrower=privacy.masked_view(conn, vault, viewer_role(actor), int(loan.borrower_id)),
        open_holds=open_holds(conn, int(loan.borrower_id), loan_id, at),
        agency_id=agency,
        situation=live,
    )
