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

- ``stops_work``: every kind except ``vulnerable`` and ``hardship`` (careful treatment:
  they set ``hardship``), except a hold on one contact point (a third party's refusal) or
  an opt-out of one channel: the gate handles those per contact;
- ``hardship``: a ``vulnerable`` or ``hardship`` hold (:data:`HARDSHIP_KINDS`);
- ``disputed``: a ``dispute`` hold.

A hold with a null ``loan_id`` covers every loan of the borrower.

Each rule is written twice: a scalar (one hold, for use cases and tests) and a Polars
expression (the whole book); tests check they agree row by row.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import resources

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forbear.domain import yamltext
from forbear.domain.access import Role, can
from forbear.domain.errors import ConfigurationError


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
    # the borrower said they cannot pay (a collector's "经济困难"): the pack's hold rule
    # stops demands and written collection messages but not the agent's call that works
    # out the plan they asked for (CN.HOLDS, ``blocks.hardship``)
    HARDSHIP = "hardship"
    LAWYER = "lawyer"  # represented by a lawyer
    DECEASED = "deceased"


# The kinds that mark an account for careful treatment instead of stopping work.
HARDSHIP_KINDS = frozenset({HoldKind.VULNERABLE.value, HoldKind.HARDSHIP.value})


def hold_open(since: datetime, until: datetime | None, at: datetime) -> bool:
    """Is a hold that began at ``since`` and ends at ``until`` open at ``at``?"""
    return since <= at and (until is None or until > at)


def hold_open_expr(at: datetime | pl.Expr, since: str = "since", until: str = "until") -> pl.Expr:
    """:func:`hold_open` on a frame's ``since`` / ``until`` columns."""
    moment = at if isinstance(at, pl.Expr) else pl.lit(at)
    return (pl.col(since) <= moment) & (pl.col(until).is_null() | (pl.col(until) > moment))


def stops_work(kind: str, channel: str | None, contact_point_id: int | None) -> bool:
    """Does an open hold of this kind stop collection work on the loans it covers?"""
    if kind in HARDSHIP_KINDS or contact_point_id is not None:
        return False
    return not (kind == HoldKind.OPT_OUT.value and channel is not None)


def stops_work_expr() -> pl.Expr:
    """:func:`stops_work` on a ``HOLDS`` frame."""
    return (
        ~pl.col("kind").is_in(sorted(HARDSHIP_KINDS))
        & pl.col("contact_point_id").is_null()
        & ~((pl.col("kind") == HoldKind.OPT_OUT.value) & pl.col("channel").is_not_null())
    )


def covers(hold_loan_id: int | None, loan_id: int) -> bool:
    """Does a hold (of the loan's borrower) cover ``loan_id``? A null loan covers all."""
    return hold_loan_id is None or hold_loan_id == loan_id


def marks_hardship_expr() -> pl.Expr:
    """Does a ``HOLDS`` row mark its loans for careful treatment (``hardship``)?"""
    return pl.col("kind").is_in(sorted(HARDSHIP_KINDS))


# --------------------------------------------------------------------------- in words

RELEASE = "hold.release"  # the permission to release a hold or work a dispute
_RAISED = re.compile(r"^(?P<said>[a-z_]+) raised in contact attempt (?P<attempt>\d+)$")


def reason_source(reason: str | None) -> tuple[str, str | None]:
    """Where a hold came from, from Forbear's own reason code (``holds.reason``, never
    typed by a person): ``(source, detail)`` with ``source`` one of ``outcome`` (a
    collector's outcome; detail: the outcome), ``portal`` (the borrower; detail: their
    reason code), ``complaint``, ``refusal`` (CN.3P.REFUSAL), ``assistant``, ``staff``
    (put by a person, no code) or ``other`` (detail: the code)."""
    if reason is None:
        return ("staff", None)
    raised = _RAISED.match(reason)
    if raised is not None:
        return ("outcome", raised.group("said"))
    if reason.startswith("portal dispute: "):
        return ("portal", reason.removeprefix("portal dispute: "))
    if reason.endswith(": open complaint"):
        return ("complaint", None)
    if reason.startswith("CN.3P.REFUSAL"):
        return ("refusal", None)
    if reason.startswith("ASSISTANT."):
        return ("assistant", None)
    return ("other", reason)


def releasers() -> list[str]:
    """The staff roles that may release a hold (the access policy's ``hold.release``)."""
    return [role.value for role in Role if can(role, RELEASE)]


# --------------------------------------------------------------------------- disputes
#
# A dispute is a ``dispute`` hold worked to an answer (issue 15, item 1): it is verified,
# answered and closed, and while it is open collection stops (CN.HOLDS, US.REGF.DISPUTE).
# Its clock runs in calendar days from the moment the hold began: the stricter reading,
# as for complaints (CN.COMPLAINT.SLA); the number of days is the hold policy's
# (``hold_policy.yaml``, ``disputes.answer_days``).


class DisputeStatus(StrEnum):
    OPEN = "open"  # received, nobody verifying yet
    VERIFYING = "verifying"  # the debt and the borrower's evidence are being checked
    ANSWERED = "answered"  # the borrower has been given the answer
    CLOSED = "closed"  # the hold is released


class Resolution(StrEnum):
    """How a hold (or a dispute) ended."""

    UPHELD = "upheld"  # the dispute was verified: the borrower was right (in whole or part)
    REJECTED = "rejected"  # verification confirmed the debt as claimed
    RELEASED = "released"  # lifted without a finding on a dispute (any other hold)


# The moves of the dispute lifecycle; closing is the release of its hold (any open state).
DISPUTE_MOVES: dict[DisputeStatus, frozenset[DisputeStatus]] = {
    DisputeStatus.OPEN: frozenset({DisputeStatus.VERIFYING}),
    DisputeStatus.VERIFYING: frozenset({DisputeStatus.ANSWERED}),
    DisputeStatus.ANSWERED: frozenset(),
    DisputeStatus.CLOSED: frozenset(),
}


def may_move(status: DisputeStatus, to: DisputeStatus) -> bool:
    """Does the dispute lifecycle allow ``status -> to`` (closing aside)?"""
    return to in DISPUTE_MOVES[status]


def dispute_due(since: datetime, answer_days: int) -> datetime:
    """When the answer to a dispute received at ``since`` is due."""
    return since + timedelta(days=answer_days)


def overdue(due_at: datetime | None, status: DisputeStatus, now: datetime) -> bool:
    """Is an unanswered dispute past its due moment at ``now``?"""
    return (
        due_at is not None
        and status in (DisputeStatus.OPEN, DisputeStatus.VERIFYING)
        and now >= due_at
    )


# --------------------------------------------------------------------------- the policy


class OutcomeHold(BaseModel):
    """The hold one collector outcome places (what it stops is the pack's ``CN.HOLDS``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hold: HoldKind
    all_loans: bool = False


class DisputeClock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    answer_days: int = Field(ge=1, le=60)
    source: str
    confidence: str = Field(pattern=r"^(V|V2|P|I)$")


class HoldPolicy(BaseModel):
    """``hold_policy.yaml``, validated: the hold each collector outcome places and the
    dispute clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    outcomes: dict[str, OutcomeHold]
    disputes: DisputeClock


def parse_hold_policy(text: str, source: str = "hold_policy.yaml") -> HoldPolicy:
    """The policy in ``text`` (YAML), or :class:`ConfigurationError` naming what is wrong."""
    try:
        data = yamltext.load(text)
        return HoldPolicy.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"{source}: {exc}") from None


@functools.cache
def default_hold_policy() -> HoldPolicy:
    """The policy shipped with Forbear (``forbear/domain/hold_policy.yaml``)."""
    text = resources.files("forbear.domain").joinpath("hold_policy.yaml").read_text("utf-8")
    return parse_hold_policy(text, "forbear/domain/hold_policy.yaml")
