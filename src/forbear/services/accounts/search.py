"""Finding an account by what a caller says on the phone (issue 15, item 3): a phone
number, a national ID number, a name, or a loan or customer reference.

Phones and ID numbers are found through their blind indexes (HMAC of the normalised
value: :meth:`forbear.store.crypto.PiiVault.blind_index`): the borrower's own mobile,
any of the borrower's phone contact points (a third party's number finds the borrower
whose file holds it), the national ID. Names are stored encrypted with no index (a name
is no identifier and an index of names would be a dictionary attack away from clear), so
a name is looked for among the accounts of the searcher's own work queue only
(``queue_loan_ids``, given by the caller), decrypted in memory.

Results are limited to the searcher's scope (:func:`forbear.services.scope.visible`): an
agency agent finds only its placements. Every search is audited as ``account.search``
with the kind of query and the number of results, never the query itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Connection, and_, or_, select

from forbear.domain.access import Actor
from forbear.domain.errors import ValidationError
from forbear.services.accounts.views import masked_name
from forbear.services.scope import visible
from forbear.store import audit
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import AccountState, Borrower, ContactPoint, Loan

VIEW = "account.view"
MAX_QUERY = 64
MAX_RESULTS = 50

_ID_NUMBER = re.compile(r"^\d{17}[\dX]$|^\d{15}$")
_PHONE = re.compile(r"^[\d\s+()-]{7,20}$")


class SearchKind(StrEnum):
    PHONE = "phone"
    NATIONAL_ID = "national_id"
    REFERENCE = "reference"  # a loan or customer reference
    NAME = "name"


@dataclass(frozen=True)
class Found:
    loan_id: int
    loan_ref: str
    borrower_id: int
    borrower_name: str | None  # masked for the searcher's role
    status: str | None
    bucket: str | None
    dpd: int | None
    overdue_total: int | None
    matched: SearchKind


def kind_of(query: str) -> SearchKind:
    """What ``query`` looks like (full-width digits count as digits)."""
    text = unicodedata.normalize("NFKC", query).strip().upper().replace(" ", "")
    if _ID_NUMBER.match(text):
        return SearchKind.NATIONAL_ID
    digits = re.sub(r"\D", "", text)
    if _PHONE.match(text) and 7 <= len(digits) <= 15:
        return SearchKind.PHONE
    if re.fullmatch(r"[A-Z0-9._/-]+", text):
        return SearchKind.REFERENCE
    return SearchKind.NAME


def search(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    query: str,
    *,
    at: datetime,
    as_of: date | None,
    queue_loan_ids: Sequence[int] = (),
) -> list[Found]:
    """The accounts ``actor`` may see that ``query`` names (module docstring)."""
    actor.require(VIEW)
    typed = (query or "").strip()
    if not typed:
        raise ValidationError("q", "required")
    if len(typed) > MAX_QUERY:
        raise ValidationError("q", f"too_long:{MAX_QUERY}")
    kind = kind_of(typed)
    condition = None
    if kind is SearchKind.PHONE:
        key = vault.blind_index("phone", typed)
        on_file = select(ContactPoint.borrower_id).where(
            ContactPoint.kind == "phone", ContactPoint.value_bidx == key
        )
        condition = or_(Borrower.mobile_bidx == key, Borrower.id.in_(on_file))
    elif kind is SearchKind.NATIONAL_ID:
        condition = Borrower.national_id_bidx == vault.blind_index("national_id", typed)
    elif kind is SearchKind.REFERENCE:
        ref = unicodedata.normalize("NFKC", typed)
        condition = or_(Loan.external_ref == ref, Borrower.external_ref == ref)
    found: list[Found] = []
    if condition is not None:
        found = _rows(conn, vault, actor, condition, kind, at, as_of)
    if not found and kind in (SearchKind.NAME, SearchKind.REFERENCE) and queue_loan_ids:
        found = _by_name(conn, vault, actor, typed, queue_loan_ids, at, as_of)
    audit.record(
        conn,
        action="account.search",
        actor=actor.name,
        subject_type="search",
        subject_id="-",
        payload={"kind": kind.value, "results": len(found)},
        at=at,
    )
    return found


def _rows(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    condition: object,
    kind: SearchKind,
    at: datetime,
    as_of: date | None,
) -> list[Found]:
    state = AccountState
    rows = conn.execute(
        select(
            Loan.id,
            Loan.external_ref,
            Loan.borrower_id,
            Borrower.name_enc,
            state.status,
            state.bucket,
            state.dpd,
            state.overdue_total,
        )
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .outerjoin(state, and_(state.loan_id == Loan.id, state.as_of == as_of))
        .where(condition, visible(actor, at, as_of))  # type: ignore[arg-type]
        .order_by(Loan.borrower_id, Loan.id)
        .limit(MAX_RESULTS)
    ).all()
    return [
        Found(
            loan_id=int(r.id),
            loan_ref=str(r.external_ref),
            borrower_id=int(r.borrower_id),
            borrower_name=masked_name(vault, actor, r.name_enc),
            status=r.status,
            bucket=r.bucket,
            dpd=r.dpd,
            overdue_total=r.overdue_total,
            matched=kind,
        )
        for r in rows
    ]


def _by_name(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    typed: str,
    loan_ids: Sequence[int],
    at: datetime,
    as_of: date | None,
) -> list[Found]:
    wanted = unicodedata.normalize("NFKC", typed).strip()
    people = conn.execute(
        select(Loan.id, Borrower.name_enc)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.id.in_(list(loan_ids)[:2000]))
    ).all()
    hits = [
        int(p.id)
        for p in people
        if wanted
        in unicodedata.normalize(
            "NFKC", vault.decrypt(bytes(p.name_enc), context=Contexts.BORROWER_NAME)
        )
    ]
    if not hits:
        return []
    return _rows(conn, vault, actor, Loan.id.in_(hits), SearchKind.NAME, at, as_of)


def borrower_loans(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    loan_id: int,
    *,
    at: datetime,
    as_of: date | None,
) -> list[Found]:
    """Every loan of ``loan_id``'s borrower that ``actor`` may see (the borrower-level
    view of the account page), by loan id; empty when the loan itself is out of scope."""
    actor.require(VIEW)
    owner = select(Loan.borrower_id).where(Loan.id == loan_id).scalar_subquery()
    found = _rows(conn, vault, actor, Loan.borrower_id == owner, SearchKind.REFERENCE, at, as_of)
    return found if any(f.loan_id == loan_id for f in found) else []
