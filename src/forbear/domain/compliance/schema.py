"""Column contracts of the contact gate's frames, and the vocabularies they use.

The gate is one function from planned contacts + contact history + account flags +
holds to a decision per planned contact (DESIGN.md, "The one idea"): the daily run
passes the whole day's plan, a service passes a one-row plan built from the database at
the moment of contact. Times are UTC (``Datetime("us", "UTC")``); every rule about hours
is judged in the debtor's local time (``timezone``, IANA).
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl

# A hold's kind has its home with the hold rules (one layer down); re-exported here, where
# the gate's callers have always found it.
from forbear.domain.holds import HoldKind as HoldKind


class Channel(StrEnum):
    CALL = "call"  # an agent's voice call
    AI_CALL = "ai_call"  # AI / prerecorded voice (CN.AI.COUNTS: counts like a call)
    SMS = "sms"
    IM = "im"  # app chat / WeChat-style messaging
    EMAIL = "email"
    APP_PUSH = "app_push"
    LETTER = "letter"
    VISIT = "visit"  # field visit (CN.VISIT.RULES)


VOICE = frozenset({Channel.CALL, Channel.AI_CALL})

# The rule kind of the borrower assistant's replies in quiet hours (CN.ASSISTANT.QUIET_DEMAND,
# US.ASSISTANT.QUIET_DEMAND): a reply to a borrower who wrote first may go at any hour, a
# payment demand or a message that is not such a reply may not go in quiet hours. Judged by
# :func:`forbear.domain.compliance.assistant.may_send`, not by the contact gate.
ASSISTANT_QUIET_DEMAND = "assistant_quiet_demand"


class Party(StrEnum):
    """Who is contacted (a contact point's owner type, REGULATIONS.md CN.3P.*)."""

    DEBTOR = "debtor"
    GUARANTOR = "guarantor"  # debt-related: may be asked to pay
    DEBT_RELATED = "debt_related"  # a third party a human recorded as debt-related
    EMERGENCY_CONTACT = "emergency_contact"  # third party: lost-contact gate applies
    OTHER_THIRD_PARTY = "other_third_party"


THIRD_PARTIES = frozenset({Party.EMERGENCY_CONTACT, Party.OTHER_THIRD_PARTY})


class Purpose(StrEnum):
    """Why a contact is made (issue 17): ``collect`` discusses the debt (a demand, the
    default); ``locate`` only asks a third party to have the debtor call back, with no
    word of the debt (CN.3P.LOST_CONTACT_GATE, CN.3P.NO_DISCLOSE). The gate sees a purpose
    as PLANNED's ``is_demand`` / ``discloses_debt``
    (:func:`forbear.domain.compliance.gate.third_party.planned_flags`)."""

    COLLECT = "collect"
    LOCATE = "locate"


class Outcome(StrEnum):
    """What a past attempt came to."""

    CONNECTED = "connected"  # a conversation took place (right party or not)
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    INVALID_NUMBER = "invalid_number"  # the number does not exist / is out of service
    REFUSED = "refused"  # the person asked not to be contacted again
    DELIVERED = "delivered"  # messages, letters
    FAILED = "failed"  # a message that could not be delivered
    BLOCKED = "blocked"  # the gate blocked it: not a contact, never counted


UNANSWERED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY})


# One row per planned contact.
PLANNED: dict[str, pl.DataType] = {
    "contact_id": pl.Int64(),  # the plan's own id (row number in the batch)
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),  # the debtor: every counter is per debtor (CN.FREQ.CROSSPARTY)
    "contact_point_id": pl.Int64(),  # null for channels without one (letter to the file address)
    "channel": pl.String(),
    "party": pl.String(),  # Party of the contact point's owner
    "provenance": pl.String(),  # the contact point's lawful provenance (null = unknown)
    "at": pl.Datetime("us", "UTC"),
    "timezone": pl.String(),  # the debtor's IANA zone
    "agency_id": pl.Int64(),  # null = the lender's own staff
    "discloses_debt": pl.Boolean(),  # the content carries debt information
    "is_demand": pl.Boolean(),  # a demand for payment (vs. locating / passing a message)
}

# One row per past contact attempt (allowed ones; blocked plans are not contacts).
HISTORY: dict[str, pl.DataType] = {
    "borrower_id": pl.Int64(),
    "loan_id": pl.Int64(),
    "contact_point_id": pl.Int64(),
    "channel": pl.String(),
    "party": pl.String(),
    "at": pl.Datetime("us", "UTC"),
    "outcome": pl.String(),  # Outcome
    "agency_id": pl.Int64(),
}

# One row per loan: what the gate needs to know about the account.
FLAGS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "agency_id": pl.Int64(),  # the agency the loan is assigned to now (null = none)
    # the debtor was told of the agency (CN.AGENCY.NOTIFY_DEBTOR)
    "agency_notified_at": pl.Datetime("us", "UTC"),
    "assigned_at": pl.Datetime("us", "UTC"),  # debt sold/assigned to a new creditor (null = not)
    "assignment_notified_at": pl.Datetime("us", "UTC"),  # CN.ASSIGN.NOTICE
    "last_due_date": pl.Date(),  # the last instalment's due date (limitation starts here)
    "last_demand_at": pl.Datetime("us", "UTC"),  # the latest logged demand (restarts limitation)
    "debtor_unreachable_since": pl.Datetime("us", "UTC"),  # set by a human (e.g. number invalid)
}

# One row per hold; ``until`` null = open; ``channel`` only for opt-outs (null = all media).
HOLDS: dict[str, pl.DataType] = {
    "borrower_id": pl.Int64(),
    "loan_id": pl.Int64(),  # null = every loan of the borrower
    "kind": pl.String(),  # HoldKind
    "channel": pl.String(),
    "contact_point_id": pl.Int64(),  # a refusal by one third-party contact point (CN.3P.REFUSAL)
    "since": pl.Datetime("us", "UTC"),
    "until": pl.Datetime("us", "UTC"),
}

# The gate's answer: PLANNED's columns plus these.
DECISION: dict[str, pl.DataType] = {
    "allowed": pl.Boolean(),
    "blocked_by": pl.List(pl.String()),  # rule ids, empty when allowed
    "earliest_allowed_at": pl.Datetime("us", "UTC"),  # null when allowed, or never/unknown
}


# The engine's own rule id, ``<pack>.3P.UNDEFINED``, under a pack that defines no
# third-party rule (fail closed: gate/third_party.py).
UNDEFINED_SUFFIX = "3P.UNDEFINED"
