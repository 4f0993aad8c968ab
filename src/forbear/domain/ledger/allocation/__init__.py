"""Penalty (罚息), late fees and payment allocation (还款冲销): one loan, and the whole book.

Rules (the scalar :class:`LoanBook` below is the executable specification):

- An instalment's *deadline* is ``due_date + grace_days``. Penalty accrues on its unpaid
  principal for each day after the deadline at ``penalty_rate_bp / 10000 / day_count``.
  Between two events (payments, the as-of date) unpaid principal is constant, so at each
  event ``t`` (previous event ``prev``) an instalment accrues
  ``round(unpaid_principal * days * penalty_rate_bp / (10000 * day_count))`` with ``days``
  the days of ``(prev, t]`` after the deadline; rounding happens at every event.
- The one-off late fee is added to an instalment's fee when anything of it is still
  unpaid at the end of its deadline day: it is judged at the first event after the
  deadline, so a payment made on the deadline day avoids it.
- Payments are taken in ``(paid_on, payment_id)`` order. At a payment on ``t``: late fees
  and penalty are brought up to ``t``; the instalments with ``due_date <= t`` are paid in
  waterfall order (``instalment_first``: by seq, within it the product's component
  order; ``component_first``: by component, within it by seq).
- Early payment (``ProductTerms.early_payment``): under ``current_instalment`` (提前还当期)
  the *current* instalment, the first one with ``due_date > t`` (its period contains
  ``t``), is owed too, in full (its scheduled interest for the whole period), and is paid
  after the due ones, in the product's component order. Choice: after *all* due
  instalments, also under ``component_first``; otherwise an exact payment on a due date
  would pay the next period's fee and interest before that day's principal and leave it
  overdue. The next instalment becomes current only once this one's due date has passed,
  so a second early payment in a period whose instalment is paid is a prepayment. Under
  ``prepayment`` nothing beyond the due instalments is owed.
- What is left is a prepayment. If it covers all principal after the owed instalments,
  the loan is paid off: that principal is allocated (seq NULL), the interest and fees of
  those later instalments are no longer owed, and any rest is a ``credit`` owed back (seq
  NULL). Otherwise it reduces principal (component ``principal``, seq NULL) and the
  instalments after the owed ones are re-amortised on the new balance ``B'`` with the same
  due dates:
  ``lower_instalment`` recomputes by the product method over the same count;
  ``shorten_term`` keeps the original level payment (等额本息) or level principal
  (等额本金) and drops the instalments no longer needed; interest-only loans always
  re-amortise as ``lower_instalment``. Choice: the prepayment counts for the whole
  period of the first re-amortised instalment, so its interest is ``round(B' * r)``.
- Instalments after the owed ones are never paid directly (an overpayment re-amortises
  them), so they carry no penalty, late fee or partial payment; the current instalment
  can be partly paid early, and is charged penalty and late fee only after its own
  deadline like any other.
"""

from __future__ import annotations

from forbear.domain.ledger.allocation.components import COMPONENTS, CREDIT
from forbear.domain.ledger.allocation.scalar import Line, LoanBook, shortens
from forbear.domain.ledger.allocation.walk import FIGURES, UNPAID, Walked, walk_book

__all__ = [
    "COMPONENTS",
    "CREDIT",
    "FIGURES",
    "UNPAID",
    "Line",
    "LoanBook",
    "Walked",
    "shortens",
    "walk_book",
]
