"""What the case page shows of one legal case besides its stage: the claim amount of the
business day (:mod:`forbear.domain.legal.amounts`), the debtor's name masked for the
viewer's role (nothing is unmasked, so nothing is audited), the limitation date
(CN.LIMITATION), the demands logged on the loan with their proof of delivery, and the
case's costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, select

from forbear.domain.access import PiiField, Role, mask_for
from forbear.domain.legal.amounts import ClaimAmounts, from_state
from forbear.domain.legal.lifecycle import CostKind
from forbear.domain.legal.limitation import limitation_date, time_barred
from forbear.services.legal.cases import CaseView
from forbear.services.situation import limitation_years
from forbear.store.contacts import Demand, read_flags
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.legal import LegalCaseCost, read_state
from forbear.store.models import Borrower, Loan


@dataclass(frozen=True)
class DemandRow:
    at: datetime
    channel: str
    proof_kind: str  # tracking, receipt, or "other" (a call recording, an older reference)
    reference: str
    signed_on: str | None


@dataclass(frozen=True)
class CostRow:
    kind: CostKind
    amount: int  # fen
    incurred_on: date
    stage: str
    created_by: str


@dataclass(frozen=True)
class CaseDetail:
    case: CaseView
    debtor: str | None  # masked for the viewer's role
    borrower_ref: str
    claim: ClaimAmounts | None  # None without a ledger state on the day
    dpd: int | None
    as_of: date
    limitation_date: date | None
    days_left: int | None
    time_barred: bool
    demands: list[DemandRow]
    costs: list[CostRow]


def _proof(evidence_ref: str) -> tuple[str, str, str | None]:
    kind, sep, rest = evidence_ref.partition(":")
    if sep and kind == "tracking":
        return "tracking", rest, None
    if sep and kind == "receipt":
        ref, _, signed = rest.partition(";signed=")
        return "receipt", ref, signed or None
    return "other", evidence_ref, None


def case_detail(
    conn: Connection, case: CaseView, *, role: Role | None, as_of: date, vault: PiiVault
) -> CaseDetail:
    """The case page's facts of ``case`` on ``as_of`` (the business day)."""
    loan = conn.execute(
        select(Loan.borrower_id, Borrower.external_ref, Borrower.name_enc)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.id == case.loan_id)
    ).one()
    name = vault.decrypt_optional(loan.name_enc, context=Contexts.BORROWER_NAME)
    debtor = None if name is None else mask_for(role or Role.ADMIN, PiiField.NAME, name)
    state = read_state(conn, as_of, case.loan_id)
    claim = from_state(state.row(0, named=True)) if state.height else None
    dpd = int(state["dpd"][0]) if state.height else None
    at = datetime.combine(as_of, time(23, 59, 59), UTC)
    flags = read_flags(conn, at=at, borrower_id=int(loan.borrower_id)).filter(loan_id=case.loan_id)
    flag = flags.row(0, named=True) if flags.height else {}
    limit = limitation_date(
        flag.get("last_due_date"), flag.get("last_demand_at"), limitation_years()
    )
    demands = [
        DemandRow(r.at, r.channel, *_proof(r.evidence_ref))
        for r in conn.execute(
            select(Demand.at, Demand.channel, Demand.evidence_ref)
            .where(Demand.loan_id == case.loan_id)
            .order_by(Demand.at, Demand.id)
        )
    ]
    k = LegalCaseCost
    costs = [
        CostRow(CostKind(r.kind), int(r.amount), r.incurred_on, r.stage, r.created_by)
        for r in conn.execute(
            select(k.kind, k.amount, k.incurred_on, k.stage, k.created_by)
            .where(k.case_id == case.id)
            .order_by(k.incurred_on, k.id)
        )
    ]
    return CaseDetail(
        case=case,
        debtor=debtor,
        borrower_ref=str(loan.external_ref),
        claim=claim,
        dpd=dpd,
        as_of=as_of,
        limitation_date=limit,
        days_left=None if limit is None else (limit - as_of).days,
        time_barred=time_barred(limit, as_of),
        demands=demands,
        costs=costs,
    )
