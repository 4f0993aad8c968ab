"""Promises to pay: take one, cancel one, decide them every day, and the figures the
strategy and the dashboard read.

The rules live in :mod:`forbear.domain.promises`; this module reads, calls them and
writes, in the caller's transaction (``conn``), never committing. Every change is audited:
one event per promise taken, cancelled or resolved online, one event with counts for a
daily update. Validation happens before anything is written, so a refused promise leaves
no trace.

Who may promise what (docs/promises.md):

- amount > 0 and no more than the loan can owe by the promised date (its ledger state on
  that day); date from today to ``horizon_days`` ahead; not on a loan paid off or written
  off on the business date;
- one open promise per loan: a new one is refused while one is open, unless it replaces
  it explicitly (the old one is cancelled as superseded, both audited). The open one is
  first decided on today's payments, so a promise already kept does not stand in the way;
- not while a hold stops it (:data:`forbear.domain.promises.HOLDS_REFUSING`);
- a promise linked to a contact attempt comes from an allowed attempt on the same loan
  that reached the debtor or a guarantor (never a third party: CN.3P.NO_UNRELATED).

Errors: :class:`NotFound` (loan, promise, contact attempt), :class:`ValidationError`
(bad terms), :class:`Conflict` (an open promise already, a loan closed, a hold, a promise
not open any more).

The package, by noun: :mod:`.records` (take, cancel, list), :mod:`.deciding` (the daily
decision, the flags the strategy reads, kept rates), :mod:`.desk` (the use cases the
front ends call with an :class:`~forbear.domain.access.Actor`: scope and permission
checked here). The demo book's promises are made by :mod:`forbear.sim.history`.
"""

from forbear.services.promises.deciding import daily_update, kept_rate, promise_flags
from forbear.services.promises.records import LISTED, add_promise, cancel_promise, list_promises

__all__ = [
    "LISTED",
    "add_promise",
    "cancel_promise",
    "daily_update",
    "kept_rate",
    "list_promises",
    "promise_flags",
]
