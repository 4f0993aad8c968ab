"""Complaints, satisfaction surveys and the case library: vocabularies and the SLA clock.

Pure: no database, no clock. Every function takes the business date it judges (``as_of``).

The SLA clock (REGULATIONS.md ``CN.COMPLAINT.SLA``, the 2020 complaint-handling rules):
a complaint is answered within **15 days** of the business day it was received; the
deadline may be extended to **30 days** (a reason is recorded), and then by **30 more
days** only with the approval of a supervisor or compliance officer. The days are counted
as *calendar* days in the lender's zone: the rules' "15日" is read in the conservative
way (a calendar-day deadline is never later than a working-day one), so a clock here never
promises the borrower more time than the rule allows. Day 0 is the day of receipt; the
answer is due by the end of the due day.

Escalation: a complaint is *due soon* when at most :data:`DUE_SOON_DAYS` days are left,
and *overdue* once the due day has passed without a resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

RULE_ID = "CN.COMPLAINT.SLA"
ANSWER_DAYS = 15  # the first deadline
EXTENDED_DAYS = 30  # after the first extension (from receipt)
APPROVED_DAYS = 60  # after the approved further 30 days (from receipt)
DUE_SOON_DAYS = 3  # escalate when this many days or fewer are left
MAX_DESCRIPTION = 4000
MAX_TEXT = 2000
SCORES = range(1, 6)


class ComplaintSource(StrEnum):
    PORTAL = "portal"  # the borrower, through the self-service portal
    AGENT = "agent"  # taken by an agent on a call or visit
    REGULATOR = "regulator"  # a referral from the regulator (e.g. the 12378 hotline)


class ComplaintCategory(StrEnum):
    HARASSMENT = "harassment"
    THIRD_PARTY = "third_party"  # contact with third parties (CN.3P.*)
    PRIVACY = "privacy"
    AMOUNT = "amount"  # the amount claimed is disputed
    ATTITUDE = "attitude"  # the collector's manner
    OTHER = "other"


class ComplaintStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    EXTENDED = "extended"  # due 30 days after receipt
    EXTENDED_APPROVED = "extended_approved"  # due 60 days after receipt, approved
    RESOLVED = "resolved"  # answered: resolution and root cause recorded
    CLOSED = "closed"


OPEN_STATUSES = frozenset(
    {
        ComplaintStatus.OPEN,
        ComplaintStatus.IN_PROGRESS,
        ComplaintStatus.EXTENDED,
        ComplaintStatus.EXTENDED_APPROVED,
    }
)

# Which status may move to which (the lifecycle).
TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.OPEN: frozenset(
        {ComplaintStatus.IN_PROGRESS, ComplaintStatus.EXTENDED, ComplaintStatus.RESOLVED}
    ),
    ComplaintStatus.IN_PROGRESS: frozenset({ComplaintStatus.EXTENDED, ComplaintStatus.RESOLVED}),
    ComplaintStatus.EXTENDED: frozenset(
        {ComplaintStatus.EXTENDED_APPROVED, ComplaintStatus.RESOLVED}
    ),
    ComplaintStatus.EXTENDED_APPROVED: frozenset({ComplaintStatus.RESOLVED}),
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.CLOSED}),
    ComplaintStatus.CLOSED: frozenset(),
}


class RootCause(StrEnum):
    AGENT_CONDUCT = "agent_conduct"
    CONTACT_RULES = "contact_rules"  # frequency, hours, third parties
    DATA_ERROR = "data_error"  # wrong amount, wrong person, stale data
    PROCESS = "process"
    PRODUCT = "product"  # pricing, terms
    NO_FAULT = "no_fault"  # investigated, no fault found
    OTHER = "other"


class SurveySubject(StrEnum):
    PLAN = "plan"
    PROMISE = "promise"
    COMPLAINT = "complaint"


class CaseOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


class Urgency(StrEnum):
    """The colour of an SLA clock."""

    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ANSWERED = "answered"


def can_move(current: ComplaintStatus, to: ComplaintStatus) -> bool:
    return to in TRANSITIONS[current]


def due_date(received_on: date, status: ComplaintStatus | str) -> date:
    """The answer deadline of a complaint received on ``received_on`` in ``status``
    (``CN.COMPLAINT.SLA``): 15 days, 30 once extended, 60 once the further 30 are
    approved. A resolved or closed complaint keeps the deadline its extensions gave it;
    pass the last open status for that."""
    kind = ComplaintStatus(status)
    days = ANSWER_DAYS
    if kind is ComplaintStatus.EXTENDED:
        days = EXTENDED_DAYS
    elif kind is ComplaintStatus.EXTENDED_APPROVED:
        days = APPROVED_DAYS
    return received_on + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class SlaClock:
    due_on: date
    days_left: int  # negative once overdue; counted to the due day inclusive of none
    urgency: Urgency

    @property
    def escalate(self) -> bool:
        return self.urgency in (Urgency.DUE_SOON, Urgency.OVERDUE)


def clock(
    received_on: date,
    due_on: date,
    as_of: date,
    *,
    resolved_on: date | None = None,
) -> SlaClock:
    """The SLA clock of a complaint due on ``due_on``, seen on ``as_of``. A resolved
    complaint's clock stopped on ``resolved_on`` (answered; late if after ``due_on``)."""
    if resolved_on is not None:
        left = (due_on - resolved_on).days
        return SlaClock(due_on, left, Urgency.ANSWERED)
    left = (due_on - max(as_of, received_on)).days
    if left < 0:
        urgency = Urgency.OVERDUE
    elif left <= DUE_SOON_DAYS:
        urgency = Urgency.DUE_SOON
    else:
        urgency = Urgency.ON_TRACK
    return SlaClock(due_on, left, urgency)


__all__ = [
    "ANSWER_DAYS",
    "APPROVED_DAYS",
    "DUE_SOON_DAYS",
    "EXTENDED_DAYS",
    "OPEN_STATUSES",
    "RULE_ID",
    "CaseOutcome",
    "ComplaintCategory",
    "ComplaintSource",
    "ComplaintStatus",
    "RootCause",
    "SlaClock",
    "SurveySubject",
    "Urgency",
    "can_move",
    "clock",
    "due_date",
]
