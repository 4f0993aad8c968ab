"""Contacts: ask the compliance gate at the moment of contact, keep the answer, record
what the contact came to, and the holds, notices and demands around it.

Split by what is done:

- :mod:`.gate`: the gate online (:func:`request_contact`, :func:`evaluate_contact`), and
  :func:`contact`, a staff member's contact with its permission and scope checks;
- :mod:`.outcomes`: what an allowed attempt came to (:func:`record_outcome`), and
  :func:`record_collector_outcome`, the collector's words with the dispute and
  vulnerability holds they put (the one home of that rule);
- :mod:`.holds`: holds put and released (:func:`add_hold`, :func:`release_hold`);
- :mod:`.notices`: agencies, notices, demands, account flags;
- :mod:`.common`: the channel vocabulary and the helpers they share.

Every function works in the caller's transaction (``conn``) and never commits: the
attempt, its decision and its audit event land together or not at all (STYLE.md habit 2).
Validation happens before anything is written, so a refused request leaves no trace. No
clock is read here: the caller passes the moment (``at``, ``now``).

Errors: :class:`NotFound` (unknown loan, contact point, attempt, hold),
:class:`ValidationError` (a channel or kind outside the vocabulary, a contact point that
does not suit the channel), :class:`OutcomeConflict` (a second, different outcome; see
:meth:`OutcomeResult.raise_if_conflict`), :class:`PermissionDenied` (an actor without
``contact.make``), and :class:`ContactBlocked` for callers that must refuse a blocked
contact (:meth:`ContactDecision.raise_if_blocked`).
"""

from forbear.domain.compliance.gate.third_party import purpose_of
from forbear.services.contacts.common import (
    CHANNEL_POINT_KIND,
    MAX_TYPED_REASON,
    NEEDS_POINT,
    blocked_by_of,
    loan_id_for_ref,
)
from forbear.services.contacts.gate import (
    ContactBlocked,
    ContactDecision,
    Contacted,
    contact,
    decide,
    evaluate_contact,
    lender_rules,
    plan_contact,
    request_contact,
)
from forbear.services.contacts.holds import add_hold, release_hold
from forbear.services.contacts.notices import (
    assign_agency,
    log_demand,
    log_notice,
    notify_agency,
    set_account_flags,
)
from forbear.services.contacts.outcomes import (
    CollectorOutcome,
    OutcomeConflict,
    OutcomeResult,
    OutcomeStatus,
    Recorded,
    record_collector_outcome,
    record_outcome,
)

__all__ = [
    "CHANNEL_POINT_KIND",
    "MAX_TYPED_REASON",
    "NEEDS_POINT",
    "CollectorOutcome",
    "ContactBlocked",
    "ContactDecision",
    "Contacted",
    "OutcomeConflict",
    "OutcomeResult",
    "OutcomeStatus",
    "Recorded",
    "add_hold",
    "assign_agency",
    "blocked_by_of",
    "contact",
    "decide",
    "evaluate_contact",
    "lender_rules",
    "loan_id_for_ref",
    "log_demand",
    "log_notice",
    "notify_agency",
    "plan_contact",
    "purpose_of",
    "record_collector_outcome",
    "record_outcome",
    "release_hold",
    "request_contact",
    "set_account_flags",
]
