"""The web's side of scope: a signed-in :class:`Principal` asks :mod:`forbear.services.scope`
(which loans a staff member may see; its docstring has the rules) as its :class:`Actor`.

Kept while routes move to use cases that take the actor themselves (issue 12, item 1).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection

from forbear.domain.errors import NotFound
from forbear.services import scope as service
from forbear.web.sessions import Principal


def visible(principal: Principal, at: datetime, book_date: date | None) -> ColumnElement[bool]:
    """A condition on ``loans.id``: the loans ``principal`` may see at ``at``."""
    return service.visible(principal.as_actor(), at, book_date)


def require_loan(
    conn: Connection, principal: Principal, loan_id: int, at: datetime, book_date: date | None
) -> None:
    """:class:`NotFound` unless the loan exists and ``principal`` may see it."""
    if not service.loan_visible(conn, principal.as_actor(), loan_id, at, book_date):
        raise NotFound("loan", str(loan_id))


def is_scoped(principal: Principal) -> bool:
    """Does ``principal`` see less than the whole book?"""
    return principal.as_actor().scoped


def visible_loans(
    conn: Connection, principal: Principal, at: datetime, book_date: date | None
) -> set[int] | None:
    """The ids of the loans ``principal`` may see, or None when it sees the whole book."""
    return service.visible_loans_on(conn, principal.as_actor(), at, book_date)
