"""Which loans a staff member may see (on top of the role's permissions).

- **Agency agents** see only the loans placed with their agency at this moment
  (CN.AGENCY.SCOPE; PIPL art. 21: an entrusted party processes only what it is given,
  for as long as it is given). The placement is ``agency_assignments`` (``from_at`` <=
  now < ``to_at``).
- **Bucket scope**: a staff member with ``scope_buckets`` sees only the loans whose
  bucket on the book date (the latest stored account states) is one of them.
- Everyone else with ``account.view`` sees the whole book.

A loan outside the scope answers exactly like a loan that does not exist
(:class:`NotFound` "loan"), so an agency cannot learn which loan references the lender
holds. The same holds for everything that belongs to a loan (its promises, plans,
contact attempts, complaints, legal cases and their documents), and lists show only
loans in scope. Every front end (web pages, the API, the coming assistant and
dispatcher) asks here; ``tests/web/test_scope_routes.py`` walks every web route that
takes such an id.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, false, or_, select, true

from forbear.domain.access import Actor, Role
from forbear.domain.errors import NotFound
from forbear.services.days import book_date as book_date_on
from forbear.store.contacts import AgencyAssignment
from forbear.store.models import AccountState, Loan


def visible(actor: Actor, at: datetime, book_date: date | None) -> ColumnElement[bool]:
    """A condition on ``loans.id``: the loans ``actor`` may see at ``at``."""
    condition: ColumnElement[bool] = true()
    if actor.role is Role.AGENCY_AGENT:
        if actor.agency_id is None:  # the table's CHECK makes this impossible
            return false()
        placed = select(AgencyAssignment.loan_id).where(
            AgencyAssignment.agency_id == actor.agency_id,
            AgencyAssignment.from_at <= at,
            or_(AgencyAssignment.to_at.is_(None), AgencyAssignment.to_at > at),
        )
        condition = condition & Loan.id.in_(placed)
    if actor.scope_buckets:
        if book_date is None:
            return false()
        in_buckets = select(AccountState.loan_id).where(
            AccountState.as_of == book_date, AccountState.bucket.in_(actor.scope_buckets)
        )
        condition = condition & Loan.id.in_(in_buckets)
    return condition


def loan_visible(
    conn: Connection, actor: Actor, loan_id: int, at: datetime, book_date: date | None
) -> bool:
    """Does the loan exist and may ``actor`` see it at ``at`` (bucket scope judged on the
    states of ``book_date``)?"""
    found = conn.execute(
        select(Loan.id).where(Loan.id == loan_id, visible(actor, at, book_date))
    ).first()
    return found is not None


def require_loan(conn: Connection, actor: Actor, loan_id: int, at: datetime, today: date) -> None:
    """:class:`NotFound` unless the loan exists and ``actor`` may see it at ``at``
    (``today``: the lender's business day, whose book date the bucket scope reads)."""
    book = book_date_on(conn, today) if actor.scope_buckets else None
    if not loan_visible(conn, actor, loan_id, at, book):
        raise NotFound("loan", str(loan_id))


def visible_loans_on(
    conn: Connection, actor: Actor, at: datetime, book_date: date | None
) -> set[int] | None:
    """The ids of the loans ``actor`` may see, or None when it sees the whole book (for
    filtering lists that a use case builds for everyone)."""
    if not actor.scoped:
        return None
    return set(conn.execute(select(Loan.id).where(visible(actor, at, book_date))).scalars())


def visible_loans(conn: Connection, actor: Actor, at: datetime, today: date) -> set[int] | None:
    """:func:`visible_loans_on` the book date of ``today``."""
    if not actor.scoped:
        return None
    return visible_loans_on(conn, actor, at, book_date_on(conn, today))
