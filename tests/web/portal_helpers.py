"""Helpers for the borrower portal's web tests (the shared conftest stays untouched)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import select

from forbear.services import portal as svc
from forbear.store.crypto import Contexts
from forbear.store.models import Borrower, Loan
from forbear.web.pages.portal import PORTAL_COOKIE


@dataclass(frozen=True)
class PortalBorrower:
    borrower_id: int
    mobile: str
    loan_id: int
    other_loan: int  # somebody else's loan


def portal_borrower(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    """The borrower of the first queue item (overdue) and a loan of somebody else."""
    borrower_id, blob = db.conn.execute(
        select(Borrower.id, Borrower.mobile_enc)
        .join(Loan, Loan.borrower_id == Borrower.id)
        .where(Loan.id == book.queue_loan)
    ).one()
    other = db.conn.execute(
        select(Loan.id).where(Loan.borrower_id != borrower_id).order_by(Loan.id).limit(1)
    ).scalar_one()
    mobile = db.vault.decrypt(blob, context=Contexts.BORROWER_MOBILE)
    return PortalBorrower(int(borrower_id), mobile, int(book.queue_loan), int(other))


def portal_sign_in(client: TestClient, db, clock, borrower_id: int) -> str:  # type: ignore[no-untyped-def]
    """A borrower session made as the sign-in makes it (the code flow is tested on its
    own); sets the cookie and ``X-CSRF-Token``; returns the CSRF token."""
    opened = svc.open_session(db.conn, borrower_id, clock.now)
    signer = client.app.state.web.signer  # type: ignore[attr-defined]
    client.cookies.set(PORTAL_COOKIE, signer.sign(opened.token))
    client.headers["X-CSRF-Token"] = opened.session.csrf_token
    return opened.session.csrf_token


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)
