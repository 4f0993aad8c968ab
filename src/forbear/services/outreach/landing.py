"""Where a signed portal link lands (issue 13, item 5): the portal's sign-in with the
borrower pre-selected, never signed in.

A message may carry a link signed for its borrower (:mod:`forbear.services.portal.links`).
Opening it answers who the link is for as the borrower may see it (their mobile, masked:
``138****5678``); signing in still takes the one-time code sent to that mobile, through
the portal's own :func:`~forbear.services.portal.request_code` and
:func:`~forbear.services.portal.verify_code` with their limits. The mobile number never
leaves the server: the pages carry the link's token, and each step verifies it again
(:func:`forbear.services.portal.links.verify`). A forwarded or leaked link therefore
shows a masked number and can ask for a code to the borrower's own phone, exactly what
typing the number on the sign-in page does.

A malformed, forged or expired link, and a link of a borrower who has no mobile or was
anonymised, is :class:`~forbear.services.portal.links.LinkRefused`: the page says the link
cannot be used, and reveals nothing of whom it was for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from forbear.domain.masking import mask_mobile
from forbear.services import portal
from forbear.services.portal import links
from forbear.services.privacy import PiiVault
from forbear.store.crypto import Contexts
from forbear.store.models import Borrower


@dataclass(frozen=True)
class LinkIdentity:
    """Whom a valid link is for, as the link's holder may see it."""

    borrower_id: int
    masked_mobile: str


def _mobile(conn: Connection, vault: PiiVault, token: str, now: datetime) -> tuple[int, str]:
    borrower_id = links.verify(vault, token, now=now)
    row = conn.execute(
        select(Borrower.mobile_enc, Borrower.anonymised_at).where(Borrower.id == borrower_id)
    ).one_or_none()
    if row is None or row.mobile_enc is None or row.anonymised_at is not None:
        # said like a forged link: the holder learns nothing about the borrower
        raise links.LinkRefused("forged")
    return borrower_id, vault.decrypt(row.mobile_enc, context=Contexts.BORROWER_MOBILE)


def identify(conn: Connection, vault: PiiVault, token: str, *, now: datetime) -> LinkIdentity:
    """Whom ``token`` was signed for; :class:`~forbear.services.portal.links.LinkRefused`
    otherwise. Reads only; writes nothing."""
    borrower_id, mobile = _mobile(conn, vault, token, now)
    return LinkIdentity(borrower_id=borrower_id, masked_mobile=mask_mobile(mobile))


def request_code(
    conn: Connection, vault: PiiVault, token: str, *, client_key: str, now: datetime
) -> portal.CodeSent:
    """Send the sign-in code to the mobile of the link's borrower (the portal's limits
    apply: :class:`~forbear.services.portal.CodeThrottled`)."""
    _, mobile = _mobile(conn, vault, token, now)
    return portal.request_code(conn, vault, mobile=mobile, client_key=client_key, now=now)


def verify_code(
    conn: Connection, vault: PiiVault, token: str, code: str, *, now: datetime
) -> portal.NewBorrowerSession | None:
    """Open a session for the right code sent to the link's borrower (None for a wrong
    one, counted; :class:`ValidationError` for a malformed one), as the sign-in page does."""
    _, mobile = _mobile(conn, vault, token, now)
    return portal.verify_code(conn, vault, mobile=mobile, code=code, now=now)
