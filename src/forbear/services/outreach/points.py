"""A contact point marked invalid: the one mechanism for a number or address that can
never be reached (a provider's permanent refusal at sending, an ``invalid_number``
receipt, a bounced address).

It is a ``do_not_contact`` hold on that contact point alone, open until a person releases
it (a corrected number is a new contact point). The gate already stops a contact point
with an open hold of its own (the hold rules match a hold's ``contact_point_id``), in the
daily run and at the moment of sending.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import NotFound
from forbear.services.contacts.holds import add_hold
from forbear.services.holds import open_at
from forbear.store.contacts import Hold
from forbear.store.models import ContactPoint, Loan

# The reason code of the hold, whoever found the point invalid: one mechanism, one code.
ADDRESS_INVALID = "OUTBOX.ADDRESS_INVALID"


def mark_point_invalid(
    conn: Connection, contact_point_id: int, *, actor: str, now: datetime, reason: str
) -> int | None:
    """Stop every contact through ``contact_point_id``. Returns the new hold's id, or None
    when the point already has an open ``do_not_contact`` hold of its own (nothing
    written). The caller holds the debtor's lock."""
    point = conn.execute(
        select(ContactPoint.borrower_id).where(ContactPoint.id == contact_point_id)
    ).first()
    if point is None:
        raise NotFound("contact point", str(contact_point_id))
    borrower_id = int(point.borrower_id)
    open_one = conn.execute(
        select(Hold.id).where(
            Hold.contact_point_id == contact_point_id,
            Hold.kind == HoldKind.DO_NOT_CONTACT.value,
            open_at(now),
        )
    ).first()
    if open_one is not None:
        return None
    loan_id = conn.execute(
        select(func.min(Loan.id)).where(Loan.borrower_id == borrower_id)
    ).scalar_one_or_none()
    if loan_id is None:
        return None
    return add_hold(
        conn,
        loan_id=int(loan_id),
        kind=HoldKind.DO_NOT_CONTACT.value,
        actor=actor,
        since=now,
        contact_point_id=contact_point_id,
        all_loans=True,
        reason=reason,
        now=now,
    )
