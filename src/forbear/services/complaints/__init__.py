"""Complaints and feedback (issue 7): file and work complaints against the SLA clock,
one-question satisfaction surveys, and the case library of closed accounts.

Every function works in the caller's transaction (``conn``) and never commits; every
state change is audited in that transaction (``complaint.*``, ``satisfaction.record``,
``case.add``). Validation happens before anything is written.

Free text (a complaint's description, its resolution, an extension reason, a lesson) may
hold personal data: it is stored encrypted with the PII vault (the functions that write or
show it take the ``vault``), shown to the roles that may see it, and never logged or put
in an audit payload or an error message.

The hold: filing a complaint puts a ``complaint`` hold (:class:`HoldKind.COMPLAINT`) on the
loan (or, without a loan, on every loan of the borrower). Whether the gate honours it is
the lender configuration's ``complaint_hold`` setting (the gate skips complaint holds when
it is false), so the hold is always recorded and the configuration decides, at the moment
of contact, whether it blocks. Resolving the complaint releases the hold.

The SLA clock is :mod:`forbear.domain.complaints` (``CN.COMPLAINT.SLA``).

Errors: :class:`ValidationError` (a value outside its vocabulary or range, empty text, a
naive time, contacts of another borrower), :class:`NotFound` (unknown borrower, loan,
complaint, contact attempt, survey subject), :class:`Conflict` (a move the lifecycle does
not allow, a second survey answer, a second case entry, an extension approved by the
person who asked for it).

The package, by noun: :mod:`.cases` (file, work, read, the queue), :mod:`.desk` (the same
for a staff member, within the scope of what they may see), :mod:`.satisfaction`,
:mod:`.reports` (complaint rates, blocked contacts) and :mod:`.library` (the case
library), over :mod:`.common`. Every name callers use is importable from
``forbear.services.complaints``.
"""

from forbear.services.complaints.cases import (
    QUEUE,
    ComplaintView,
    LinkedContact,
    approve_extension,
    close,
    extend,
    file_complaint,
    get_complaint,
    list_complaints,
    resolve,
    start_work,
)
from forbear.services.complaints.common import lender_zone
from forbear.services.complaints.library import CASES, add_case, get_case, search_cases
from forbear.services.complaints.reports import (
    BLOCKED,
    BLOCKED_RULES,
    NONE_KEY,
    RATES,
    blocked_by_rule,
    blocked_contacts,
    complaint_rates,
)
from forbear.services.complaints.satisfaction import (
    SATISFACTION,
    record_satisfaction,
    satisfaction_summary,
)

__all__ = [
    "BLOCKED",
    "BLOCKED_RULES",
    "CASES",
    "NONE_KEY",
    "QUEUE",
    "RATES",
    "SATISFACTION",
    "ComplaintView",
    "LinkedContact",
    "add_case",
    "approve_extension",
    "blocked_by_rule",
    "blocked_contacts",
    "close",
    "complaint_rates",
    "extend",
    "file_complaint",
    "get_case",
    "get_complaint",
    "lender_zone",
    "list_complaints",
    "record_satisfaction",
    "resolve",
    "satisfaction_summary",
    "search_cases",
    "start_work",
]
