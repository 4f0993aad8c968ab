"""Column contracts of the strategy's frames, and the vocabularies strategy files use.

``ACCOUNT`` is what a strategy's conditions read: one row per loan on ``as_of``, built
by :func:`forbear.services.accounts.build_accounts` for the daily run and the pre-launch
check, or as a one-row frame for the online "what now for this account". Money is
``Int64`` fen. ``active_plan``, ``active_promise`` and ``broken_promises_90d`` are filled
by the caller; until promises and plans exist (issue 6) they are false / 0.
``debtor_unreachable`` and ``emergency_contact`` (:data:`LOCATE_ACCOUNT`) are the gate's
own answers for a location contact at the day's moment
(:func:`forbear.domain.compliance.locate.locate_facts`); the daily run fills
them, other callers may leave them out (null: a condition on a null does not hold).
``days_in_segment`` is null when the caller does not know when the account entered its
segment (no earlier decisions); the compiled strategy then estimates it from the
segment's entry condition (see :mod:`forbear.domain.strategy.compile`).
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl

ACCOUNT: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "as_of": pl.Date(),
    "dpd": pl.Int32(),
    "bucket": pl.String(),  # C, M1 ... M7+
    "days_to_due": pl.Int32(),  # next_due_date - as_of; null when nothing is due any more
    "outstanding": pl.Int64(),  # outstanding principal, fen
    "overdue_total": pl.Int64(),  # fen
    "status": pl.String(),  # active | paid_off | written_off
    "behaviour_tier": pl.String(),  # null when unscored
    "ew_tier": pl.String(),  # early-warning tier, null when unscored
    "ew_pd": pl.Float64(),
    "propensity": pl.Float64(),  # propensity to pay (0..1), null when unscored
    "hold_any": pl.Boolean(),  # an open hold on the borrower or the loan
    "active_plan": pl.Boolean(),  # issue 6: false until repayment plans exist
    "active_promise": pl.Boolean(),  # issue 6: false until promises exist
    "broken_promises_90d": pl.Int32(),  # issue 6: 0 until promises exist
    "limitation_expired": pl.Boolean(),  # the limitation period has run (CN.LIMITATION)
    "hardship": pl.Boolean(),  # a recorded hardship (vulnerable hold or declared)
    "days_in_segment": pl.Int32(),  # null = unknown (estimated)
    "last_payment_date": pl.Date(),  # for ``stop_on: [payment]``
}

# ACCOUNT columns a caller may leave out (``CompiledStrategy.assign`` adds them as null):
# what decides a location step, the gate's own answers at the day's moment, which the daily
# run works out when the strategy reads them (batch/kernel.py).
LOCATE_ACCOUNT: dict[str, pl.DataType] = {
    # the debtor is unreachable as the pack defines it (CN.3P.LOST_CONTACT_GATE); null when
    # not known (the pack has no such rule, or the account is not active and overdue)
    "debtor_unreachable": pl.Boolean(),
    # an emergency contact point that no refusal and no hold stops (CN.3P.REFUSAL)
    "emergency_contact": pl.Boolean(),
}

# Columns added by ``CompiledStrategy.assign``.
ASSIGNED: dict[str, pl.DataType] = {
    "segment": pl.String(),
    "arm": pl.String(),  # null outside experiments
    "treatment": pl.String(),
}

# One row per action due today (``CompiledStrategy.actions_for``).
ACTIONS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "segment": pl.String(),
    "arm": pl.String(),
    "treatment": pl.String(),
    "action_index": pl.Int32(),  # position in the treatment's ``actions`` (0-based)
    "channel": pl.String(),  # StrategyChannel
    "template": pl.String(),
    "purpose": pl.String(),  # Purpose
    "is_demand": pl.Boolean(),
    "priority": pl.Int32(),  # higher first
}


class StrategyChannel(StrEnum):
    """Channels a treatment may use: the gate's contact channels, plus ``legal_review``
    (an internal review task, not a contact)."""

    SMS = "sms"
    EMAIL = "email"
    APP_PUSH = "app_push"
    AI_CALL = "ai_call"
    CALL = "call"
    LETTER = "letter"
    VISIT = "visit"
    LEGAL_REVIEW = "legal_review"


NOT_CONTACTS = frozenset({StrategyChannel.LEGAL_REVIEW})


class Purpose(StrEnum):
    REMIND = "remind"
    EDUCATE = "educate"
    FOLLOW_UP = "follow_up"
    OFFER_PLAN = "offer_plan"
    DEMAND = "demand"
    LEGAL = "legal"
    # ask the debtor's emergency contact to have the debtor call back, with no word of the
    # debt (issue 17; REGULATIONS.md CN.3P.*): addressed to a third party, not a demand
    LOCATE = "locate"


# The channels a location step may use: an agent's call (the location script) or a text
# with an approved third-party template.
LOCATE_CHANNELS = frozenset({StrategyChannel.CALL, StrategyChannel.SMS})
# The ACCOUNT fields a location step is decided by.
LOCATE_FIELDS = frozenset(LOCATE_ACCOUNT)


# Purposes that ask for payment (the gate's ``is_demand``; a demand also restarts the
# limitation period). Education content does not ask for payment.
DEMANDS = frozenset(
    {Purpose.REMIND, Purpose.FOLLOW_UP, Purpose.OFFER_PLAN, Purpose.DEMAND, Purpose.LEGAL}
)


class StopOn(StrEnum):
    PAYMENT = "payment"
    PROMISE = "promise"
    PLAN = "plan"


# Built-in ids (a dot never appears in a strategy file's ids).
PLAN_SEGMENT = "builtin.on_plan"
PLAN_TREATMENT = "builtin.plan_reminder"
NO_SEGMENT = "builtin.unmatched"
CONTROL_ARM = "control"
