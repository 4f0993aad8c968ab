"""Which accounts a staff member may see (on top of the role's permissions).

- **Agency agents** see only the loans placed with their agency at this moment
  (CN.AGENCY.SCOPE; PIPL art. 21: an entrusted party processes only what it is given,
  for as long as it is given). The placement is ``agency_assignments`` (``from_at`` <=
  now < ``to_at``).
- **Bucket scope**: an account with ``scope_buckets`` sees only the loans whose bucket on
  the book date (the latest stored account states) is one of them.
- Everyone else with ``account.view`` sees the whole book.

An account outside the scope answers exactly like an account that does not exist (404
"loan not found"), so an agency cannot learn which loan references the lender holds
(docs/web.md, "Scope"). The same holds for everything that belongs to an account: its
promises, plans, contact attempts, complaints, legal cases and their documents answer 404
when the account is out of scope, and lists (the legal queue, cases, the limitation
watch, the complaints queue) show only accounts in scope. A test walks every route of the
app that takes such an id (tests/web/test_scope_routes.py), so a new route without the
check fails it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, false, or_, select, true

from forbear.domain.access import Role
from forbear.domain.errors import NotFound
from forbear.store.contacts import AgencyAssignment
from forbear.store.models import AccountState, Loan
from forbear.web.sessions import Principal


def visible(principal: Principal, at: datetime, book_date: date | None) -> ColumnElement[bool]:
    """A condition on ``loans.id``: the loans ``principal`` may see at ``at``."""
    condition: ColumnElement[bool] = true()
    if principal.role is Role.AGENCY_AGENT:
        if principal.agency_id is None:  # the table's CHECK makes this impossible
            return false()
        placed = select(AgencyAssignment.loan_id).where(
            AgencyAssignment.agency_id == principal.agency_id,
            AgencyAssignment.from_at <= at,
            or_(AgencyAssignment.to_at.is_(None), AgencyAssignment.to_at > at),
        )
        condition = condition & Loan.id.in_(placed)
    if principal.scope_buckets:
        if book_date is None:
            return false()
        in_buckets = select(AccountState.loan_id).where(
            AccountState.as_of == book_date, AccountState.bucket.in_(principal.scope_buckets)
        )
        condition = condition & Loan.id.in_(in_buckets)
    return condition


def require_loan(
    conn: Connection, principal: Principal, loan_id: int, at: datetime, book_date: date | None
) -> None:
    """:class:`NotFound` unless the loan exists and ``principal`` may see it."""
    found = conn.execute(
        select(Loan.id).where(Loan.id == loan_id, visible(principal, at, book_date))
    ).first()
    if found is None:
        raise NotFound("loan", str(loan_id))


def is_scoped(principal: Principal) -> bool:
    """Does ``principal`` see less than the whole book?"""
    return principal.role is Role.AGENCY_AGENT or bool(principal.scope_buckets)


def visible_loans(
    conn: Connection, principal: Principal, at: datetime, book_date: date | None
) -> set[int] | None:
    """The ids of the loans ``principal`` may see, or None when it sees the whole book
    (for filtering lists that a service builds for everyone)."""
    if not is_scoped(principal):
        return None
    return set(conn.execute(select(Loan.id).where(visible(principal, at, book_date))).scalars())
