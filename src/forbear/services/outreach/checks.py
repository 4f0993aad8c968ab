"""What the borrower's live situation says about a queued message, at the moment of
sending (pure: plain values in, a rule id or None out).

The compliance gate (holds: dispute, complaint, cease, opt-out, ...; hours; caps) is asked
separately (:func:`forbear.services.contacts.gate.decide_many`). These are the facts that
make a message of the daily run pointless or wrong since it was planned, mirroring the
strategy's ``stop_on: [payment, promise, plan]`` (:mod:`forbear.domain.strategy`):

- ``OUTBOX.NOTHING_OWED``: the loan is no longer active (paid off, written off), or
  nothing is overdue and no instalment is coming: there is nothing to remind of;
- ``OUTBOX.PAID``: a payment was posted on or after the day the message was planned and
  nothing is overdue any more (the payment cured the account, or paid the instalment a
  pre-due reminder was about);
- ``OUTBOX.PROMISE`` / ``OUTBOX.PLAN``: a promise to pay or a repayment plan now governs
  the loan, so collection reminders stop (a plan's own reminders, the built-in
  ``builtin.plan_reminder`` treatment, still go while the plan is active; education does
  not ask for payment and still goes).

An agent's message (origin ``agent``) was chosen minutes ago by a person who saw the
account: only ``OUTBOX.NOTHING_OWED`` applies to it. Forbear's own service messages
(origin ``system``: the one opt-out confirmation) are not collection: none applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from forbear.domain.strategy.schema import PLAN_TREATMENT, Purpose

NOTHING_OWED = "OUTBOX.NOTHING_OWED"
PAID = "OUTBOX.PAID"
PROMISE = "OUTBOX.PROMISE"
PLAN = "OUTBOX.PLAN"
PLAN_ENDED = "OUTBOX.PLAN_ENDED"
NO_CONTACT_POINT = "OUTBOX.NO_CONTACT_POINT"
MANUAL = "OUTBOX.MANUAL"  # cancelled by a person


def situation_block(
    *,
    origin: str,
    planned_on: date,
    loan: Mapping[str, Any] | None,
    treatment: str | None = None,
    purpose: str | None = None,
) -> str | None:
    """The rule id that stops this message now, or None. ``loan`` is the loan's live
    situation row (``LOAN_SITUATION``; None: the loan has not started or is gone)."""
    if origin == "system":
        return None
    if loan is None or loan.get("status") != "active":
        return NOTHING_OWED
    overdue = int(loan.get("overdue_total") or 0)
    upcoming = int(loan.get("next_due_amount") or 0)
    if overdue <= 0 and upcoming <= 0:
        return NOTHING_OWED
    if origin != "run":
        return None
    if treatment == PLAN_TREATMENT:
        return None if loan.get("active_plan") else PLAN_ENDED
    paid_on = loan.get("last_payment_date")
    if overdue <= 0 and paid_on is not None and paid_on >= planned_on:
        return PAID
    if purpose == Purpose.EDUCATE.value:
        return None
    if loan.get("active_plan"):
        return PLAN
    if loan.get("active_promise"):
        return PROMISE
    return None
