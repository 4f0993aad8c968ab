"""Promises to pay (承诺还款): the policy, the checks on a new promise, and the matching of
payments to promises, written once over Polars frames (DESIGN.md "The one idea").

The daily run applies :func:`match_promises` to every promise due for a decision; the
online path (taking a new promise while an older one may already be kept) applies the very
same function to a one-row frame. :func:`judge` is the scalar, readable specification the
vectorised function is tested against.

**Matching.** A promise counts the payments made on its loan from the moment it was taken
(a payment earlier on the same day, before the promise, does not count; where a payment
has no time, its day counts) through its promised date plus ``grace_days``. With
``tolerance = min(max(amount × tolerance_bp, tolerance_min), amount × tolerance_cap_bp)``:

- ``kept`` as soon as the payments reach ``amount - tolerance`` (resolved on the day of the
  payment that reached it, with what was paid by the end of that day);
- after the grace period (``as_of > promised_on + grace_days``): ``partly_kept`` when at
  least ``partial_floor_bp`` of the amount was paid, else ``broken`` (resolved on the first
  day after the grace period);
- ``open`` until then.

Decisions depend only on the promise, the payments and ``as_of``; they never go backwards:
:func:`changes` turns a fresh match into updates that only resolve an open promise, record
progress on it, or *revise* a broken or partly kept one upwards when a late-posted payment
shows up (``recheck_days``). So the daily run can be rerun or run for an earlier date
without undoing anything.

Frames (money ``Int64`` fen, business dates ``Date``, moments UTC ``Datetime``):
:data:`PROMISES` and :data:`PROMISE_PAYMENTS` in, :data:`MATCHED` out; :data:`RECORDS`
(stored promises) for :func:`promise_flags` and :func:`kept_rates`.
"""

from __future__ import annotations

from forbear.domain.promises.flags import (
    is_active_promise,
    is_broken_recently,
    kept_rates,
    promise_flags,
)
from forbear.domain.promises.frames import (
    CHANGES,
    FLAGS,
    KEPT_RATES,
    MATCHED,
    PROMISE_PAYMENTS,
    PROMISES,
    RECORDS,
    UTC_MOMENT,
    empty,
)
from forbear.domain.promises.matching import Decision, changes, counts, judge, match_promises
from forbear.domain.promises.policy import (
    DEFAULT_POLICY,
    HOLDS_REFUSING,
    RANK,
    RESOLVED,
    PromisePolicy,
    PromiseSource,
    PromiseStatus,
)
from forbear.domain.promises.terms import (
    check_amount_owed,
    check_terms,
    most_owed,
    promise_source,
    promise_status,
    refusing_hold,
)

__all__ = [
    "CHANGES",
    "DEFAULT_POLICY",
    "FLAGS",
    "HOLDS_REFUSING",
    "KEPT_RATES",
    "MATCHED",
    "PROMISES",
    "PROMISE_PAYMENTS",
    "RANK",
    "RECORDS",
    "RESOLVED",
    "UTC_MOMENT",
    "Decision",
    "PromisePolicy",
    "PromiseSource",
    "PromiseStatus",
    "changes",
    "check_amount_owed",
    "check_terms",
    "counts",
    "empty",
    "is_active_promise",
    "is_broken_recently",
    "judge",
    "kept_rates",
    "match_promises",
    "most_owed",
    "promise_flags",
    "promise_source",
    "promise_status",
    "refusing_hold",
]
