"""The identity check of a borrower who writes from a phone (issue 14, item 3).

Whoever holds the debtor's phone is not necessarily the debtor (REGULATIONS.md: nothing
about a debt is told to a third party). Before the assistant says anything about a loan
on SMS it asks for the last 4 (or 6) characters of the national ID number and compares
them, in constant time, with the number on the file (``borrowers.national_id_enc``).

- :data:`MAX_FAILURES` wrong answers within :data:`WINDOW` lock the check (``locked``)
  until the window has passed; the failures are counted under the conversation's lock, so
  parallel guesses count one by one (exactly three, never more). A sender's failures
  still in their window carry over into the sender's next conversation
  (:func:`.conversations.open_conversation`): closing a conversation is no way round.
- A third party's number, an unknown sender, or a borrower whose ID number was erased
  get ``wrong`` exactly like a mismatch, counted the same: the answer never tells whether
  the number is on file.
- Audited as ``assistant.verify`` with the outcome and the count, never the digits.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, select, update

from forbear.domain.errors import ValidationError
from forbear.services.assistant.conversations import (
    SYSTEM_ACTOR,
    VERIFY_WINDOW,
    Conversation,
    get_conversation,
    lock_conversation,
)
from forbear.store import audit
from forbear.store.assistant import AssistantConversation, VerifiedBy
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Borrower, OwnerType

MAX_FAILURES = 3
WINDOW = VERIFY_WINDOW
DIGITS = (4, 6)
_C = AssistantConversation


class VerifyOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class Verification:
    outcome: VerifyOutcome
    conversation: Conversation
    failures_left: int  # wrong answers still accepted in this window

    @property
    def ok(self) -> bool:
        return self.outcome is VerifyOutcome.OK


def _digits(id_digits: str) -> str:
    cleaned = id_digits.strip().upper()
    if len(cleaned) not in DIGITS or not cleaned.isascii() or not cleaned.isalnum():
        raise ValidationError("id_digits", "the last 4 or 6 characters of the ID number")
    return cleaned


def _expected(conn: Connection, vault: PiiVault, conversation: Conversation, n: int) -> str | None:
    """The last ``n`` characters of the borrower's ID number, if this conversation may be
    verified by them at all (the debtor's own number), else None."""
    if conversation.borrower_id is None or conversation.owner_type != OwnerType.DEBTOR.value:
        return None
    blob = conn.execute(
        select(Borrower.national_id_enc).where(Borrower.id == conversation.borrower_id)
    ).scalar_one_or_none()
    number = vault.decrypt_optional(blob, context=Contexts.BORROWER_NATIONAL_ID)
    if number is None or len(number.strip()) < n:
        return None
    return number.strip().upper()[-n:]


def verify_identity(
    conn: Connection,
    vault: PiiVault,
    conversation: Conversation,
    *,
    id_digits: str,
    now: datetime,
) -> Verification:
    """Check ``id_digits`` for ``conversation`` (module docstring). A conversation
    verified already answers ``ok`` without comparing."""
    given = _digits(id_digits)
    lock_conversation(conn, conversation.id)
    current = get_conversation(conn, vault, conversation.id)
    if current.verified:
        return Verification(VerifyOutcome.OK, current, MAX_FAILURES)
    row = conn.execute(
        select(_C.verify_failures, _C.verify_window_start).where(_C.id == conversation.id)
    ).one()
    failures = int(row.verify_failures)
    start = row.verify_window_start
    if start is not None and now - start >= WINDOW:
        failures, start = 0, None
    if failures >= MAX_FAILURES:
        _audit(conn, conversation.id, VerifyOutcome.LOCKED, failures, now)
        return Verification(VerifyOutcome.LOCKED, current, 0)
    expected = _expected(conn, vault, current, len(given))
    # compare even when there is nothing to compare with: the same work either way
    match = hmac.compare_digest(
        given.encode(), (expected if expected is not None else "\x00" * len(given)).encode()
    )
    if match and expected is not None:
        conn.execute(
            update(_C)
            .where(_C.id == conversation.id)
            .values(
                verified_at=now,
                verified_by=VerifiedBy.ID_LAST4.value,
                verify_failures=0,
                verify_window_start=None,
                updated_at=now,
            )
        )
        _audit(conn, conversation.id, VerifyOutcome.OK, failures, now)
        return Verification(
            VerifyOutcome.OK, get_conversation(conn, vault, conversation.id), MAX_FAILURES
        )
    failures += 1
    conn.execute(
        update(_C)
        .where(_C.id == conversation.id)
        .values(
            verify_failures=failures,
            verify_window_start=start if start is not None else now,
            updated_at=now,
        )
    )
    outcome = VerifyOutcome.LOCKED if failures >= MAX_FAILURES else VerifyOutcome.WRONG
    _audit(conn, conversation.id, outcome, failures, now)
    return Verification(
        outcome, get_conversation(conn, vault, conversation.id), MAX_FAILURES - failures
    )


def _audit(
    conn: Connection, conversation_id: int, outcome: VerifyOutcome, failures: int, now: datetime
) -> None:
    audit.record(
        conn,
        action="assistant.verify",
        actor=SYSTEM_ACTOR,
        subject_type="assistant_conversation",
        subject_id=str(conversation_id),
        payload={"outcome": outcome.value, "failures": failures},
        at=now,
    )
