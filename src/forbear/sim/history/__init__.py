"""Collection history on a new demo book: promises to pay, repayment plans, legal cases,
the month's calls and reminders (:mod:`.contacts`) and the complaints they brought
(:mod:`.complaints`).

Each module makes its part through the use cases of its noun (the plans are offered and
accepted, the legal cases opened and advanced, the promises decided by their daily update);
only the promises, thousands of them, are written in bulk. :func:`seed_history` runs them
in the order the daily run reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date

from sqlalchemy import Connection

from forbear.sim.history.complaints import seed_complaints
from forbear.sim.history.contacts import seed_contacts
from forbear.sim.history.legal import DEMO_COURT, seed_legal_cases
from forbear.sim.history.plans import seed_plans, seed_plans_read
from forbear.sim.history.promises import seed_promises
from forbear.sim.states import BookRead
from forbear.store.crypto import PiiVault

__all__ = [
    "DEMO_COURT",
    "seed_complaints",
    "seed_contacts",
    "seed_history",
    "seed_legal_cases",
    "seed_plans",
    "seed_plans_read",
    "seed_promises",
]


def seed_history(
    transaction: Callable[[], AbstractContextManager[Connection]],
    as_of: date,
    seed: int,
    zone: str,
    *,
    read: BookRead | None = None,
    also_states: Sequence[date] = (),
    vault: PiiVault | None = None,
) -> dict[str, int]:
    """Promises (decided from the book's payments), then plans (whose kept instalments are
    paid as demo payments), then the legal review queue and a few cases, in one
    transaction. ``read``: the book read up to ``as_of`` before the history, if the caller
    has it. The states of ``as_of`` are stored again after the plans (which change what
    was due), with those of ``also_states`` from the same read. Returns how many of each
    were made."""
    with transaction() as conn:
        made = {"promises": seed_promises(conn, as_of, seed=seed, zone=zone)}
        # the plans' read ends with their payments: the book as it now stands
        made["plans"], after = seed_plans_read(conn, as_of, seed=seed, read=read)
        for day in (as_of, *also_states):
            after.store_states(conn, day)
        made["legal_cases"] = seed_legal_cases(conn, as_of)
        made["contacts"] = seed_contacts(conn, as_of, seed=seed, zone=zone)
        if vault is not None:  # complaints' texts are sealed
            made["complaints"] = seed_complaints(conn, vault, as_of, seed=seed)
    return made
