"""The lender's own app as a way in (issue 14): the app's server has authenticated its user
and signs each request it makes for them (the front end checks the signature), naming the
borrower by the lender's customer number (``borrowers.external_ref``)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from forbear.store.models import Borrower

MAX_REF = 64  # borrowers.external_ref is a String(64)


def borrower_by_ref(conn: Connection, external_ref: str) -> int | None:
    """The id of the borrower the lender knows as ``external_ref``, or None (no such
    borrower, or one whose personal data was erased: nobody to talk to)."""
    ref = external_ref.strip()
    if not ref or len(ref) > MAX_REF:
        return None
    found = conn.execute(
        select(Borrower.id).where(Borrower.external_ref == ref, Borrower.anonymised_at.is_(None))
    ).scalar_one_or_none()
    return int(found) if found is not None else None
