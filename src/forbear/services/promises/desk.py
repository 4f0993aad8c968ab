"""Promise use cases as the front ends start them, with the :class:`Actor` who asks.

Each checks the permission (``contact.make`` to take or withdraw a promise: it comes from
a conversation; ``account.view`` to read) and the actor's scope (a promise on a loan out
of scope answers like an unknown promise), then calls :mod:`.records`, which validates,
writes and audits."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from sqlalchemy import Connection, select

from forbear.domain.access import Actor
from forbear.domain.errors import NotFound
from forbear.services.loan_scope import require_loan_day
from forbear.services.promises.records import add_promise, cancel_promise, list_promises
from forbear.store.crypto import PiiVault
from forbear.store.promises import Promise

TAKE = "contact.make"
VIEW = "account.view"


def take(
    conn: Connection,
    actor: Actor,
    loan_id: int,
    *,
    amount: int,
    promised_on: date,
    now: datetime,
    today: date,
    contact_attempt_id: int | None = None,
    replace: bool = False,
) -> int:
    """A promise to pay taken by a collector in a conversation (source ``agent``), on the
    business day of ``today``, at ``now``. Returns its id."""
    actor.require(TAKE)
    day = require_loan_day(conn, actor, loan_id, now=now, today=today)
    return add_promise(
        conn,
        loan_id=loan_id,
        amount=amount,
        promised_on=promised_on,
        source="agent",
        actor=actor.name,
        as_of=day,
        contact_attempt_id=contact_attempt_id,
        replace=replace,
        taken_at=now,
    )


def loan_of(conn: Connection, promise_id: int) -> int:
    """The loan a promise is on (:class:`NotFound` "promise" for an unknown one)."""
    found = conn.execute(
        select(Promise.loan_id).where(Promise.id == promise_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("promise", str(promise_id))
    return int(found)


def withdraw(
    conn: Connection,
    actor: Actor,
    promise_id: int,
    *,
    now: datetime,
    today: date,
    reason: str | None = None,
    vault: PiiVault | None = None,
) -> int:
    """Cancel an open promise on a loan in ``actor``'s scope; returns the loan id."""
    actor.require(TAKE)
    loan_id = loan_of(conn, promise_id)
    day = require_loan_day(
        conn, actor, loan_id, now=now, today=today, thing=("promise", promise_id)
    )
    cancel_promise(conn, promise_id, actor=actor.name, as_of=day, reason=reason, vault=vault)
    return loan_id


def of_loan(
    conn: Connection, actor: Actor, loan_id: int, *, now: datetime, today: date
) -> pl.DataFrame:
    """A loan's promises, newest first (:data:`.records.LISTED`), if in scope."""
    actor.require(VIEW)
    require_loan_day(conn, actor, loan_id, now=now, today=today)
    return list_promises(conn, loan_id=loan_id, limit=200)
