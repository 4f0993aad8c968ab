"""Repayment plans on the demo book (``forbear demo``), made through the plans' own use
cases (offer, accept, the daily update)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
from sqlalchemy import Connection, insert

from forbear.domain.errors import Conflict, PermissionDenied, ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.domain.plans import (
    PlanRequest,
    PlanType,
)
from forbear.services import book
from forbear.services.plans.daily import daily_update
from forbear.services.plans.lifecycle import accept_plan
from forbear.services.plans.offers import offer_plan
from forbear.sim.states import BookRead
from forbear.store.models import Payment as PaymentRow

# A loan whose payments by a date reach 110% of what its schedule asked ten days before
# is not a candidate (about 1% of the loans 10-75 days late on the demo book are missed:
# penalties and fees took more than a tenth of their payments).
BEHIND_MARGIN = 1.1


def seed_plans(
    conn: Connection,
    as_of: date,
    *,
    seed: int,
    actor: str = "system:demo",
    read: BookRead | None = None,
) -> int:
    """:func:`seed_plans_read` without the read it ends with: the number of plans."""
    return seed_plans_read(conn, as_of, seed=seed, actor=actor, read=read)[0]


def seed_plans_read(
    conn: Connection,
    as_of: date,
    *,
    seed: int,
    actor: str = "system:demo",
    read: BookRead | None = None,
) -> tuple[int, BookRead]:
    """A realistic handful of plans on the demo book's overdue loans, within the default
    policy's agent limits: offered and accepted in the past few months, some kept
    (their borrowers pay the plan's instalments on time, as demo payments), some broken
    (payments stop after a few), the newest still active. Returns the number of plans.

    The schedules and payments are read once for the four dates plans are offered on
    (``read``, if the caller has read them up to ``as_of``; the plans' own payments are read
    again as they are made), and the ledger runs only on the loans behind on their
    schedule that day: the candidates. Returns the number of plans and the book read up
    to ``as_of`` with the plans' payments: what :meth:`BookRead.of` would read now (plans
    change neither schedules nor other loans' payments)."""
    rng = random.Random(seed)
    made = 0
    bases = [as_of - timedelta(days=d) for d in (210, 150, 90, 45)]
    book_read = read if read is not None else BookRead.of(conn, as_of)
    for base in bases:
        late = _late_on(conn, base, book_read)
        rng.shuffle(late)
        want = max(3, min(12, len(late) // 40))
        seeded: list[int] = []
        for loan_id in late[: want * 3]:
            if made >= 48 or want == 0:
                break
            try:
                made += _seed_one(conn, loan_id, base, as_of, rng, actor)
                want -= 1
                seeded.append(loan_id)
            except (Conflict, ValidationError, PermissionDenied):
                continue
        if seeded:  # their plan's payments count on the next dates
            book_read = book_read.with_payments_of(conn, seeded, as_of)
    _replay_daily(conn, min(bases), as_of)
    return made, book_read


def _late_on(conn: Connection, base: date, read: BookRead) -> list[int]:
    """Active loans 10 to 75 days past due on ``base`` by the ledger (what
    :func:`forbear.services.book.ledger_inputs` gives it, plans applied), ordered by id.

    The ledger runs only on the loans that had paid by ``base`` less than
    :data:`BEHIND_MARGIN` times what their schedule asked by ten days before (principal,
    interest and fee): a loan paid well beyond that does not owe an instalment ten days
    old, unless penalties took a large part of its payments; such a loan is only a
    candidate the demo does not see."""
    paid = read.payments.filter(pl.col("paid_on") <= base)
    due = (
        read.instalments.filter(pl.col("due_date") <= base - timedelta(days=10))
        .group_by("loan_id")
        .agg((pl.col("principal") + pl.col("interest") + pl.col("fee")).sum().alias("due"))
    )
    behind = (
        due.join(paid.group_by("loan_id").agg(pl.col("amount").sum()), on="loan_id", how="left")
        .filter(pl.col("amount").fill_null(0) < pl.col("due") * BEHIND_MARGIN)["loan_id"]
        .sort()
    )
    if behind.is_empty():
        return []
    states = book.run_ledger_on(read.inputs(conn, base, behind), base, DEFAULT_BUCKETS)
    return [
        int(i)
        for i in states.filter((pl.col("status") == "active") & pl.col("dpd").is_between(10, 75))[
            "loan_id"
        ]
        .sort()
        .to_list()
    ]


def _seed_one(
    conn: Connection, loan_id: int, base: date, as_of: date, rng: random.Random, actor: str
) -> int:
    kind = rng.choice(
        [
            PlanType.RESTRUCTURE,
            PlanType.RESTRUCTURE,
            PlanType.DEFERRAL,
            PlanType.SETTLEMENT,
            PlanType.HARDSHIP,
        ]
    )
    request = {
        PlanType.RESTRUCTURE: PlanRequest(
            kind, instalments=rng.choice([3, 4, 6]), waive_penalty_pct=rng.choice([0, 30, 50])
        ),
        PlanType.DEFERRAL: PlanRequest(kind, months=2),
        PlanType.SETTLEMENT: PlanRequest(kind, discount_pct=rng.choice([5, 10])),
        PlanType.HARDSHIP: PlanRequest(kind, months=3, payment_share_pct=50),
    }[kind]
    result = offer_plan(
        conn,
        loan_id=loan_id,
        request=request,
        role="agent",
        as_of=base,
        actor=actor,
        income=12_000_00,
        expenses=5_000_00,
    )
    assert result.plan_id is not None
    accepted = base + timedelta(days=rng.randint(0, 3))
    accept_plan(conn, result.plan_id, as_of=accepted, actor=actor)
    keeps = rng.random() < 0.65
    stop_after = None if keeps else rng.randint(0, 2)
    by_day: dict[date, int] = {}
    for line in result.offer.lines:
        by_day[line.due_date] = by_day.get(line.due_date, 0) + line.total
    paid = []
    for k, (day, amount) in enumerate(sorted(by_day.items())):
        if day > as_of or (stop_after is not None and k >= stop_after):
            break
        paid.append(
            {
                "external_ref": f"PLANDEMO-{result.plan_id}-{k + 1}",
                "loan_id": loan_id,
                "paid_on": day - timedelta(days=rng.randint(0, 2)),
                "paid_at": datetime.combine(day, time(4, 0), UTC),
                "amount": amount,
                "channel": "app",
            }
        )
    if paid:
        conn.execute(insert(PaymentRow), paid)
    return 1


def _replay_daily(conn: Connection, start: date, end: date) -> None:
    """The daily update week by week from ``start`` to ``end``, as the daily run would
    have done, so plans end on the day their break was found."""
    day = start
    while day < end:
        daily_update(conn, day, actor="system:demo")
        day += timedelta(days=7)
    daily_update(conn, end, actor="system:demo")
