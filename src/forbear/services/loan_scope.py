"""The first step of every use case on one loan that a staff member starts: is the loan in
the actor's scope (:mod:`forbear.services.scope`), and which business day does the use
case work on (the book date of the caller's ``today``, :mod:`forbear.services.days`).

Something that belongs to a loan (a promise, a plan, a legal case) out of scope answers
exactly like one that does not exist: :class:`NotFound` naming that thing."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection

from forbear.domain.access import Actor
from forbear.domain.errors import NotFound
from forbear.services import scope
from forbear.services.days import book_date


def business_day(conn: Connection, today: date) -> date:
    """The book date of ``today`` (the latest stored states), or ``today`` on an empty book."""
    return book_date(conn, today) or today


def require_loan_day(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    *,
    now: datetime,
    today: date,
    thing: tuple[str, int] | None = None,
) -> date:
    """The business day, after checking ``loan_id`` is in ``actor``'s scope at ``now``
    (else :class:`NotFound` "loan", or ``thing`` = (kind, id) when the caller asked for
    something of the loan: a plan, a promise, a case)."""
    try:
        scope.require_loan(conn, actor, loan_id, now, today)
    except NotFound:
        if thing is None:
            raise
        raise NotFound(thing[0], str(thing[1])) from None
    return business_day(conn, today)


def seen_loans(conn: Connection, actor: Actor, *, now: datetime, today: date) -> set[int] | None:
    """The loans ``actor`` may see, or None for the whole book (lists filter by it)."""
    return scope.visible_loans(conn, actor, now, today)
