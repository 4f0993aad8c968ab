"""When a hold is open, and what an open hold does: the one definition.

A hold (``HOLDS``, :mod:`forbear.domain.compliance.schema`) is open at a moment ``at``
when it began on or before ``at`` and has not ended by then::

    open at t  <=>  since <= t  and  (until is null  or  until > t)

``until`` is the first moment the hold no longer applies (a release is recorded with
the moment it takes effect, which may be in the future). Earlier copies disagreed: the
portal's dispute and opt-out checks counted only ``until is null`` (a release set for
tomorrow was taken as already released, and a hold starting tomorrow as open today);
the gate, the ACCOUNT frame and the account page used the rule above, which is the one
CN.HOLD.* in REGULATIONS.md needs (a hold stops work from its start until it is lifted).

What an open hold does to the account (the strategy's ACCOUNT frame):

- ``stops_work``: every kind except ``vulnerable`` (careful treatment: it sets
  ``hardship``), except a hold on one contact point (a third party's refusal) or an
  opt-out of one channel: the gate handles those per contact;
- ``hardship``: a ``vulnerable`` hold;
- ``disputed``: a ``dispute`` hold.

A hold with a null ``loan_id`` covers every loan of the borrower.

Each rule is written twice: a scalar (one hold, for use cases and tests) and a Polars
expression (the whole book); tests check they agree row by row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import polars as pl


class HoldKind(StrEnum):
    """Why work on a borrower (or one loan, channel or contact point) stops. Its home is
    here, below :mod:`forbear.domain.compliance` (whose ``schema`` re-exports it), so the
    gate can use the hold rules without a circle."""

    DISPUTE = "dispute"  # until resolved
    COMPLAINT = "complaint"  # while open, if the lender's configuration says so
    CEASE = "cease"  # cease-communication request
    OPT_OUT = "opt_out"  # per medium (``channel`` set)
    DO_NOT_CONTACT = "do_not_contact"
    VULNERABLE = "vulnerable"
    LAWYER = "lawyer"  # represented by a lawyer
    DECEASED = "deceased"


def hold_open(since: datetime, until: datetime | None, at: datetime) -> bool:
    """Is a hold that began at ``since`` and ends at ``until`` open at ``at``?"""
    return since <= at and (until is None or until > at)


def hold_open_expr(at: datetime | pl.Expr, since: str = "since", until: str = "until") -> pl.Expr:
    """:func:`hold_open` on a frame's ``since`` / ``until`` columns."""
    moment = at if isinstance(at, pl.Expr) else pl.lit(at)
    return (pl.col(since) <= moment) & (pl.col(until).is_null() | (pl.col(until) > moment))


def stops_work(kind: str, channel: str | None, contact_point_id: int | None) -> bool:
    """Does an open hold of this kind stop collection work on the loans it covers?"""
    if kind == HoldKind.VULNERABLE.value or contact_point_id is not None:
        return False
    return not (kind == HoldKind.OPT_OUT.value and channel is not None)


def stops_work_expr() -> pl.Expr:
    """:func:`stops_work` on a ``HOLDS`` frame."""
    return (
        (pl.col("kind") != HoldKind.VULNERABLE.value)
        & pl.col("contact_point_id").is_null()
        & ~((pl.col("kind") == HoldKind.OPT_OUT.value) & pl.col("channel").is_not_null())
    )


def covers(hold_loan_id: int | None, loan_id: int) -> bool:
    """Does a hold (of the loan's borrower) cover ``loan_id``? A null loan covers all."""
    return hold_loan_id is None or hold_loan_id == loan_id
