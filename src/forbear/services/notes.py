"""Call notes on an account (issue 15, item 3): what a collector writes about a call.

A note is free text typed by staff: it may hold anything the borrower said (a new phone
number, an illness), so it is stored encrypted (:data:`forbear.store.workbench.NOTE_CONTEXT`)
like the other free text, and its audit event carries ids and the length only, never the
words. Writing one needs ``contact.make`` and the loan in the writer's scope; reading them
needs ``account.view`` and the same scope.

A refused note raises :class:`ValidationError` with a reason code the web's form helper
(:mod:`forbear.web.forms`) puts in words beside the field: ``required``,
``too_long:<limit>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, insert, select

from forbear.domain.access import Actor
from forbear.domain.errors import NotFound, ValidationError
from forbear.services import contacts
from forbear.services.scope import require_loan
from forbear.store import audit
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan
from forbear.store.workbench import NOTE_CONTEXT, AccountNote

WRITE = "contact.make"
READ = "account.view"
MAX_NOTE = 2000  # characters


@dataclass(frozen=True)
class Note:
    id: int
    loan_id: int
    attempt_id: int | None
    author: str
    text: str
    created_at: datetime


def clean_note(text: str | None, *, required: bool = True) -> str | None:
    """The note as stored (trimmed), None for an empty optional one; the refusal codes of
    the module docstring otherwise."""
    typed = (text or "").strip()
    if not typed:
        if required:
            raise ValidationError("note", "required")
        return None
    if len(typed) > MAX_NOTE:
        raise ValidationError("note", f"too_long:{MAX_NOTE}")
    return typed


def add_note(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    *,
    loan_id: int,
    text: str,
    now: datetime,
    today: date,
    attempt_id: int | None = None,
) -> int:
    """Store a note on ``loan_id`` (optionally about one contact attempt of that loan);
    returns its id. Audited as ``note.add`` with ids and the length only."""
    actor.require(WRITE)
    typed = clean_note(text)
    assert typed is not None
    require_loan(conn, actor, loan_id, now, today)
    borrower_id = int(conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one())
    if attempt_id is not None:
        owner = conn.execute(
            select(ContactAttempt.loan_id).where(ContactAttempt.id == attempt_id)
        ).scalar_one_or_none()
        if owner is None or int(owner) != loan_id:
            raise NotFound("contact_attempt", str(attempt_id))
    note_id = int(
        conn.execute(
            insert(AccountNote)
            .values(
                loan_id=loan_id,
                borrower_id=borrower_id,
                attempt_id=attempt_id,
                author=actor.name,
                text_enc=vault.encrypt(typed, context=NOTE_CONTEXT),
                created_at=now,
            )
            .returning(AccountNote.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        action="note.add",
        actor=actor.name,
        subject_type="account_note",
        subject_id=note_id,
        payload={"loan_id": loan_id, "attempt_id": attempt_id, "chars": len(typed)},
        at=now,
    )
    return note_id


def notes_of(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    loan_id: int,
    *,
    now: datetime,
    today: date,
    limit: int = 50,
) -> list[Note]:
    """The latest notes of ``loan_id``, newest first, in clear for a reader in scope."""
    actor.require(READ)
    require_loan(conn, actor, loan_id, now, today)
    rows = conn.execute(
        select(AccountNote)
        .where(AccountNote.loan_id == loan_id)
        .order_by(AccountNote.created_at.desc(), AccountNote.id.desc())
        .limit(limit)
    ).all()
    return [
        Note(
            id=int(r.id),
            loan_id=int(r.loan_id),
            attempt_id=r.attempt_id,
            author=str(r.author),
            text=vault.decrypt(bytes(r.text_enc), context=NOTE_CONTEXT),
            created_at=r.created_at,
        )
        for r in rows
    ]


def record_outcome_with_note(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    *,
    loan_id: int,
    attempt_id: int,
    outcome: str,
    note: str | None,
    now: datetime,
    today: date,
) -> contacts.Recorded:
    """One step of the workbench: what an attempt came to
    (:func:`forbear.services.contacts.record_collector_outcome`, its holds included) and
    the collector's note about it, together. The note is validated first, so a refused
    note records no outcome either; a conflicting outcome (another one was recorded)
    stores no note. The caller calls :meth:`Recorded.raise_if_conflict` after commit."""
    typed = clean_note(note, required=False)
    done = contacts.record_collector_outcome(
        conn, actor, attempt_id=attempt_id, outcome=outcome, now=now, today=today, loan_id=loan_id
    )
    if typed is not None and done.result.status is not contacts.OutcomeStatus.CONFLICT:
        add_note(
            conn,
            vault,
            actor,
            loan_id=loan_id,
            text=typed,
            now=now,
            today=today,
            attempt_id=attempt_id,
        )
    return done
