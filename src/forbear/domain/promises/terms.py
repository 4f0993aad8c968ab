"""The checks on a new promise: its terms, the amount owed, a hold that refuses it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from forbear.domain.errors import ValidationError
from forbear.domain.holds import hold_open_expr
from forbear.domain.promises.policy import (
    DEFAULT_POLICY,
    HOLDS_REFUSING,
    PromisePolicy,
    PromiseSource,
    PromiseStatus,
)


class PromiseRefused(ValidationError):
    """A refused promise term, with what the screens need to say it in the user's words:
    ``code`` (``amount_positive``, ``amount_max``, ``date_past``, ``date_horizon``) and
    the ``limit`` (fen or a date). The message itself carries no balance figure (logs)."""

    def __init__(self, field: str, reason: str, code: str, limit: int | date | None) -> None:
        super().__init__(field, reason)
        self.code = code
        self.limit = limit


def check_terms(
    *,
    amount: int,
    promised_on: date,
    as_of: date,
    source: str,
    policy: PromisePolicy = DEFAULT_POLICY,
) -> PromiseSource:
    """Refuse a promise whose terms cannot be right, with the reason
    (:class:`ValidationError`); returns the source."""
    kind = promise_source(source)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError("amount", "an integer number of fen")
    if amount <= 0:
        raise PromiseRefused("amount", "must be more than zero", "amount_positive", 1)
    if promised_on < as_of:
        raise PromiseRefused(
            "promised_on",
            f"{promised_on.isoformat()} is in the past (business date {as_of.isoformat()}): "
            "a promise is for today or a later day",
            "date_past",
            as_of,
        )
    latest = as_of + timedelta(days=policy.horizon_days)
    if promised_on > latest:
        raise PromiseRefused(
            "promised_on",
            f"more than {policy.horizon_days} days ahead (latest {latest.isoformat()}): "
            "a longer arrangement is a repayment plan",
            "date_horizon",
            latest,
        )
    return kind


def most_owed(state: dict[str, object]) -> int:
    """The most a loan can owe on a day, from its ledger state (``STATES`` row) on that
    day: outstanding principal, overdue interest, fees and penalty, and the next
    instalment. An upper bound (the next instalment's principal is in the outstanding
    principal too): it catches a mistyped amount (an extra digit), not a few yuan."""
    names = (
        "outstanding_principal",
        "overdue_interest",
        "overdue_fee",
        "overdue_penalty",
        "next_due_amount",
    )
    total = 0
    for name in names:
        value = state.get(name)
        total += value if isinstance(value, int) else 0
    return total


def check_amount_owed(amount: int, owed: int) -> None:
    """Refuse a promise of more than the loan can owe by its date (``most_owed``)."""
    if amount > owed:
        # No figures: a loan's balance is the borrower's financial information.
        raise PromiseRefused(
            "amount",
            "more than the loan can owe by the promised date "
            "(outstanding principal, arrears with penalty, and the next instalment)",
            "amount_max",
            owed,
        )


def refusing_hold(
    holds: pl.DataFrame, *, loan_id: int, source: PromiseSource, at: datetime
) -> str | None:
    """The kind of the first hold (``HOLDS`` of the borrower) open at ``at`` on this loan
    (or on every loan of the borrower) that refuses a promise from ``source``
    (:data:`HOLDS_REFUSING`), else None. Holds on one contact point or one channel do not
    count: they stop a medium, not the debt."""
    refusing = [kind.value for kind, sources in HOLDS_REFUSING.items() if source in sources]
    hit = holds.filter(
        pl.col("kind").is_in(refusing)
        & (pl.col("loan_id").is_null() | (pl.col("loan_id") == loan_id))
        & pl.col("contact_point_id").is_null()
        & pl.col("channel").is_null()
        & hold_open_expr(at)
    )
    if hit.is_empty():
        return None
    order = {kind.value: i for i, kind in enumerate(HOLDS_REFUSING)}
    return min((str(kind) for kind in hit["kind"]), key=lambda kind: order[kind])


def promise_source(value: str) -> PromiseSource:
    try:
        return PromiseSource(value)
    except ValueError:
        known = ", ".join(member.value for member in PromiseSource)
        raise ValidationError("source", f"unknown value {value!r} (one of: {known})") from None


def promise_status(value: str) -> PromiseStatus:
    try:
        return PromiseStatus(value)
    except ValueError:
        known = ", ".join(member.value for member in PromiseStatus)
        raise ValidationError("status", f"unknown value {value!r} (one of: {known})") from None


# --- matching: the scalar specification ---------------------------------------------------
