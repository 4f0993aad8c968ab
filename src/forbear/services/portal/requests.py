"""A borrower's own requests and their statuses, for the portal's "my requests" page
(issue 15, item 6): promises to pay, disputes, complaints, repayment plans and plans
submitted for a supervisor's approval, of the signed-in borrower's loans only.

Only codes, dates and amounts: no staff names, no typed reasons (what an agent or a
supervisor wrote stays with the staff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select

from forbear.domain.compliance.schema import HoldKind
from forbear.store.complaints import Complaint
from forbear.store.contacts import Hold
from forbear.store.models import Loan
from forbear.store.plans import Plan, PlanApproval
from forbear.store.promises import Promise

KINDS = ("plan_request", "plan", "promise", "dispute", "complaint")
PORTAL_DISPUTE = "portal dispute: "  # the reason code a portal dispute stores in clear
OPEN = {
    "plan_request": {"pending"},
    "plan": {"offered", "accepted", "active"},
    "promise": {"open"},
    "dispute": {"open"},
    "complaint": {"open", "in_progress", "extended", "extended_approved"},
}


@dataclass(frozen=True)
class MyRequest:
    kind: str  # one of KINDS
    id: int
    loan_id: int | None
    loan_ref: str | None
    on: date  # when it was made
    status: str  # the status code of its kind
    amount: int | None = None  # a promise's amount, a plan's total, fen
    due_on: date | None = None  # a promise's date, a complaint's answer due
    detail: str | None = None  # a plan's type, a dispute's reason code, a complaint category

    @property
    def open(self) -> bool:
        return self.status in OPEN[self.kind]


def my_requests(conn: Connection, borrower_id: int, *, now: datetime) -> list[MyRequest]:
    """Everything the borrower asked for or agreed to, newest first."""
    refs = {
        int(loan_id): str(ref)
        for loan_id, ref in conn.execute(
            select(Loan.id, Loan.external_ref).where(Loan.borrower_id == borrower_id)
        ).all()
    }
    loan_ids = sorted(refs)
    found: list[MyRequest] = []
    for p in conn.execute(
        select(Promise).where(Promise.borrower_id == borrower_id).order_by(Promise.id)
    ).all():
        found.append(
            MyRequest(
                "promise",
                int(p.id),
                int(p.loan_id),
                refs.get(int(p.loan_id)),
                p.taken_on,
                str(p.status),
                amount=int(p.amount),
                due_on=p.promised_on,
            )
        )
    for h in conn.execute(
        select(Hold)
        .where(Hold.borrower_id == borrower_id, Hold.kind == HoldKind.DISPUTE.value)
        .order_by(Hold.id)
    ).all():
        closed = h.until is not None and h.until <= now
        reason = h.reason or ""
        code = reason.removeprefix(PORTAL_DISPUTE) if reason.startswith(PORTAL_DISPUTE) else None
        found.append(
            MyRequest(
                "dispute",
                int(h.id),
                None if h.loan_id is None else int(h.loan_id),
                None if h.loan_id is None else refs.get(int(h.loan_id)),
                h.since.date(),
                "closed" if closed else "open",
                detail=code,
            )
        )
    for c in conn.execute(
        select(Complaint).where(Complaint.borrower_id == borrower_id).order_by(Complaint.id)
    ).all():
        found.append(
            MyRequest(
                "complaint",
                int(c.id),
                None if c.loan_id is None else int(c.loan_id),
                None if c.loan_id is None else refs.get(int(c.loan_id)),
                c.received_on,
                str(c.status),
                due_on=c.due_on,
                detail=str(c.category),
            )
        )
    if loan_ids:
        for plan in conn.execute(
            select(Plan).where(Plan.loan_id.in_(loan_ids)).order_by(Plan.id)
        ).all():
            found.append(
                MyRequest(
                    "plan",
                    int(plan.id),
                    int(plan.loan_id),
                    refs.get(int(plan.loan_id)),
                    plan.accepted_on or plan.base_date,
                    str(plan.status),
                    amount=int(plan.scheduled),
                    detail=str(plan.plan_type),
                )
            )
        for a in conn.execute(
            select(PlanApproval).where(PlanApproval.loan_id.in_(loan_ids)).order_by(PlanApproval.id)
        ).all():
            found.append(
                MyRequest(
                    "plan_request",
                    int(a.id),
                    int(a.loan_id),
                    refs.get(int(a.loan_id)),
                    a.submitted_on,
                    str(a.status),
                    detail=str(a.plan_type),
                )
            )
    return sorted(found, key=lambda r: (r.on, KINDS.index(r.kind), r.id), reverse=True)
