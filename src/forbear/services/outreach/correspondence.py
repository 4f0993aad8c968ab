"""A borrower's correspondence as staff see it on the account's timeline (issue 13, item 5):
the outbox's messages to the borrower, queued by the daily run, by an agent from the
workbench or by Forbear itself, with their channel, where they are (queued, sending, sent,
delivered, failed, dead, cancelled with the rule ids or the reason) and when; and the text
as sent.

**Who reads the text.** A message's text holds personal data (the borrower's name, what
they owe). It is stored encrypted (``outbox.body_enc``, sealed by the dispatcher when it
sends: :func:`forbear.services.outreach.dispatch.unseal`) and decrypted here only for
a role that contacts borrowers or reviews correspondence (:data:`READ_TEXT`: agents,
supervisors, agency agents, compliance officers); any other role with ``account.view``
(legal) sees that there was a text, not the text (``text_hidden``). An agency agent sees
only the messages about loans in its scope, like every other read of
:mod:`forbear.services.scope`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select

from forbear.domain.access import Actor
from forbear.services.outreach.dispatch import unseal
from forbear.services.privacy import PiiVault
from forbear.services.scope import require_loan, visible_loans
from forbear.store.models import Loan
from forbear.store.runs import OutboxMessage

VIEW = "account.view"
# The permissions that open a message's text (any one of them): who writes to borrowers
# and who reviews what was written to them.
READ_TEXT = ("contact.make", "compliance.view")


@dataclass(frozen=True)
class Letter:
    """One outbox message to the borrower. ``text`` is the text as sent, or None: not yet
    sent, or ``text_hidden`` for the reader's role. ``reasons`` are the rule ids (or the
    reason code) of a cancellation or a refusal; ``error`` the provider's error code."""

    id: int
    loan_id: int
    origin: str  # run | agent | system
    actor: str | None
    channel: str
    template: str | None
    article: str | None
    status: str
    reasons: tuple[str, ...]
    error: str | None
    created_at: datetime
    due_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    updated_at: datetime | None
    tries: int
    text: str | None
    text_hidden: bool
    subject: str | None = None  # an e-mail's or a letter's, when the text is shown

    @property
    def at(self) -> datetime:
        """The moment the timeline orders it by: delivered, else sent, else queued."""
        return self.delivered_at or self.sent_at or self.created_at


@dataclass(frozen=True)
class Correspondence:
    """The messages to a borrower (``borrower_id``: whose replies,
    :func:`forbear.services.outreach.replies.list_for_borrower`, go beside them)."""

    borrower_id: int
    letters: list[Letter]


def may_read_text(actor: Actor) -> bool:
    return any(actor.may(p) for p in READ_TEXT)


def _reasons(stored: str | None) -> tuple[str, ...]:
    try:
        found = json.loads(stored or "[]")
    except ValueError:
        return ()
    return tuple(str(r) for r in found) if isinstance(found, list) else ()


def for_loan(
    conn: Connection,
    vault: PiiVault,
    actor: Actor,
    loan_id: int,
    *,
    at: datetime,
    today: date,
    limit: int = 200,
) -> Correspondence:
    """The messages to the borrower of ``loan_id`` (every loan of theirs the reader may
    see), newest first; ``account.view`` and the loan in scope (:class:`NotFound`)."""
    actor.require(VIEW)
    require_loan(conn, actor, loan_id, at, today)
    borrower_id = int(conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one())
    query = select(OutboxMessage).where(OutboxMessage.borrower_id == borrower_id)
    seen = visible_loans(conn, actor, at, today)
    if seen is not None:
        query = query.where(OutboxMessage.loan_id.in_(sorted(seen)))
    rows = conn.execute(
        query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    ).all()
    readable = may_read_text(actor)
    out: list[Letter] = []
    for r in rows:
        text: str | None = None
        subject: str | None = None
        if readable and r.body_enc is not None:
            sealed = unseal(vault, r.body_enc)  # as the dispatcher stored it when sending
            text, subject = sealed.body, sealed.subject
        out.append(
            Letter(
                id=int(r.id),
                loan_id=int(r.loan_id),
                origin=str(r.origin),
                actor=r.actor,
                channel=str(r.channel),
                template=r.template,
                article=r.article,
                status=str(r.status),
                reasons=_reasons(r.reason_rules),
                error=r.last_error,
                created_at=r.created_at,
                due_at=r.due_at,
                next_attempt_at=r.next_attempt_at,
                sent_at=r.sent_at,
                delivered_at=r.delivered_at,
                updated_at=r.updated_at,
                tries=int(r.tries or 0),
                text=text,
                text_hidden=not readable and r.body_enc is not None,
                subject=subject,
            )
        )
    return Correspondence(borrower_id=borrower_id, letters=out)
