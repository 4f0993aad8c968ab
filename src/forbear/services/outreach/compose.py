"""Messages an agent sends from the workbench (issue 13, item 5): what may be sent to this
borrower, the rendered preview with the gate's answer now, and send.

An agent (``contact.make``, the loan in scope: :func:`forbear.services.scope.require_loan`,
so a loan of another agency answers :class:`NotFound`) picks an approved template or an
education article for one channel:

- :func:`choices`: per sendable channel, whether this borrower can be reached there (a
  contact point of the debtor's own for the channels that need one; no opt-out hold open
  now) and the approved debtor templates and articles that channel carries;
- :func:`preview`: the text as the borrower would get it (the borrower's variables,
  checked by the content filter, :mod:`forbear.services.outreach.render`), and the gate's
  answer for that channel now (allowed, or blocked with rule ids, their explanation in the
  agent's language and the earliest allowed time in the borrower's zone). Nothing is
  written;
- :func:`send`: asks the gate now and, if it allows, queues one outbox row (origin
  ``agent``, the agent, due now) with an audit event ``outreach.queued``. The dispatcher
  sends it, asking the gate again at that moment, and records the contact; a message the
  facts no longer allow by then is cancelled or rescheduled there, with its rule ids.

**Idempotent.** The browser or API client names each send with a request id (the compose
page puts one in the form it shows with the preview). The outbox row's ``dedupe_key`` (its
stable id, unique) is the sha256 of the agent and that id, so a double click, a reload or a
retried POST queues one message: the debtor's lock (:func:`forbear.store.locks.lock_debtor`)
serialises sends to one borrower, the existing row is found and returned, and the unique
key refuses whatever gets past. The same id for a different message is a :class:`Conflict`.

**Refusals.** A blocked gate is returned as :class:`Sent` with ``message`` None and an
``outreach.blocked`` audit event (rule ids only), so the refusal is on the trail when the
caller commits; the caller then calls :meth:`Sent.raise_if_blocked`
(:class:`ContactBlocked`, a 4xx). A text the filter refuses raises
:class:`~forbear.domain.compliance.content.ContentRejected`; a missing template variable
:class:`~forbear.services.outreach.render.MissingVariable` (``OUTBOX.MISSING_VARIABLE``):
nothing is queued.

No personal data in the audit payloads or errors: ids, codes and rule ids only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from forbear.domain.access import Actor, Role
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.content import ContentRejected
from forbear.domain.compliance.gate import explain
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import education
from forbear.services import templates as template_service
from forbear.services.contacts import ContactBlocked, ContactDecision, evaluate_contact
from forbear.services.contacts.common import CHANNEL_POINT_KIND, NEEDS_POINT
from forbear.services.outreach import render as renderer
from forbear.services.portal import opted_out
from forbear.services.privacy import PiiVault
from forbear.services.scope import require_loan
from forbear.store import audit
from forbear.store.locks import lock_debtor
from forbear.store.models import Borrower, ContactPoint, Loan
from forbear.store.runs import OutboxMessage, OutboxOrigin, OutboxStatus
from forbear.store.templates import TemplateStatus

CONTACT = "contact.make"
GateLang = Literal["zh", "en"]

# The channels the dispatcher sends by itself, in the order the workbench offers them.
# Calls and visits are an agent's own work (the account page's contact form).
SENDABLE: tuple[Channel, ...] = (
    Channel.SMS,
    Channel.EMAIL,
    Channel.APP_PUSH,
    Channel.IM,
    Channel.AI_CALL,
    Channel.LETTER,
)
# An education article goes as text: SMS (its summary and the portal link), e-mail, the
# app and in-app messages. A voice call or a letter carries a template only.
ARTICLE_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL, Channel.APP_PUSH, Channel.IM})

# A client's request id: what makes a send idempotent. Letters, digits, ``-`` and ``_``;
# a UUID fits.
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# ``outbox.actor`` holds the audit name of the agent who queued a message.
ACTOR_MAX = 64


# ------------------------------------------------------------------------------ choices


@dataclass(frozen=True)
class TemplateChoice:
    code: str
    version: int
    lang: str
    body: str  # the approved template with its {placeholders}, not yet filled


@dataclass(frozen=True)
class ArticleChoice:
    slug: str
    title: str
    summary: str


@dataclass(frozen=True)
class ChannelChoice:
    """One channel: can the borrower be reached there, and what it may carry.
    ``unreachable`` is None when reachable, else ``no_contact_point`` or ``opted_out``."""

    channel: str
    unreachable: str | None
    templates: tuple[TemplateChoice, ...]
    articles: tuple[ArticleChoice, ...]

    @property
    def reachable(self) -> bool:
        return self.unreachable is None


@dataclass(frozen=True)
class Choices:
    loan_id: int
    borrower_id: int
    channels: tuple[ChannelChoice, ...]

    def channel(self, name: str) -> ChannelChoice | None:
        return next((c for c in self.channels if c.channel == name), None)


def _check(conn: Connection, actor: Actor, loan_id: int, now: datetime, today: date) -> int:
    """``contact.make`` and the loan in scope; the loan's borrower."""
    actor.require(CONTACT)
    require_loan(conn, actor, loan_id, now, today)
    borrower_id = conn.execute(
        select(Loan.borrower_id).where(Loan.id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:  # require_loan has just seen it: a concurrent purge
        raise NotFound("loan", str(loan_id))
    return int(borrower_id)


def _point_kinds(conn: Connection, borrower_id: int) -> set[str]:
    """The kinds of contact point the debtor has of their own (phone, e-mail, address)."""
    rows = conn.execute(
        select(ContactPoint.kind)
        .where(ContactPoint.borrower_id == borrower_id, ContactPoint.owner_type == "debtor")
        .distinct()
    ).scalars()
    return {str(kind) for kind in rows}


def _approved_templates(conn: Connection) -> dict[str, list[TemplateChoice]]:
    """Approved templates written for the debtor, by channel."""
    found: dict[str, list[TemplateChoice]] = {}
    for info in template_service.list_templates(conn):
        if info.status != TemplateStatus.APPROVED.value or info.audience != "debtor":
            continue
        found.setdefault(info.channel, []).append(
            TemplateChoice(code=info.code, version=info.version, lang=info.lang, body=info.body)
        )
    return found


def choices(
    conn: Connection, actor: Actor, loan_id: int, *, now: datetime, today: date, lang: str = "zh"
) -> Choices:
    """What ``actor`` may send to the borrower of ``loan_id`` now, per channel
    (module docstring). ``lang`` is the language of the articles' titles shown."""
    borrower_id = _check(conn, actor, loan_id, now, today)
    kinds = _point_kinds(conn, borrower_id)
    stopped = set(opted_out(conn, borrower_id, at=now))
    if conn.execute(select(Borrower.address_enc).where(Borrower.id == borrower_id)).scalar():
        kinds.add("address")  # a letter may go to the address on file
    templates = _approved_templates(conn)
    articles = tuple(
        ArticleChoice(slug=a.slug, title=a.title, summary=a.summary)
        for a in education.articles(lang)
    )
    channels: list[ChannelChoice] = []
    for channel in SENDABLE:
        kind = CHANNEL_POINT_KIND[channel]
        unreachable: str | None = None
        if (channel in NEEDS_POINT or channel is Channel.LETTER) and (
            kind is None or kind.value not in kinds
        ):
            unreachable = "no_contact_point"
        elif channel.value in stopped:
            unreachable = "opted_out"
        channels.append(
            ChannelChoice(
                channel=channel.value,
                unreachable=unreachable,
                templates=tuple(sorted(templates.get(channel.value, []), key=lambda t: t.code)),
                articles=articles if channel in ARTICLE_CHANNELS else (),
            )
        )
    return Choices(loan_id=loan_id, borrower_id=borrower_id, channels=tuple(channels))


# ------------------------------------------------------------------------------ preview


def _render(
    conn: Connection,
    vault: PiiVault,
    loan_id: int,
    channel: Channel,
    template: str | None,
    article: str | None,
    now: datetime,
    today: date,
    public_url: str,
) -> renderer.Rendered:
    """The text as the dispatcher would send it now (the same renderer): the borrower's
    live situation on ``today``, Chinese first."""
    borrower_id = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one()
    return renderer.render_message(
        conn,
        vault,
        now=now,
        today=today,
        public_url=public_url,
        borrower_id=int(borrower_id),
        loan_id=loan_id,
        channel=channel.value,
        template=template,
        article=article,
    )


@dataclass(frozen=True)
class GateAnswer:
    """The gate's answer now, as the agent reads it."""

    allowed: bool
    blocked_by: tuple[str, ...]
    earliest_allowed_at: datetime | None
    earliest_local: str | None  # ``YYYY-MM-DD HH:MM`` in the borrower's zone
    timezone: str
    explanation: tuple[str, ...]  # the agent's language; the earliest time is said above
    contact_point_id: int | None


@dataclass(frozen=True)
class Preview:
    """The message as the borrower would get it, and whether it may go now. ``refused``
    holds the content filter's rule ids when the rendered text may not go at all, or
    ``missing:<field>`` for a variable this borrower has no value for; then ``body`` is
    empty."""

    loan_id: int
    channel: str
    template: str | None
    article: str | None
    lang: str
    subject: str | None
    body: str
    refused: tuple[str, ...]
    gate: GateAnswer

    @property
    def sendable(self) -> bool:
        return not self.refused and self.gate.allowed


def _what(channel: str, template: str | None, article: str | None) -> Channel:
    """Validate one channel and exactly one of a template code or an article slug."""
    try:
        chosen = Channel(channel)
    except ValueError:
        known = ", ".join(c.value for c in SENDABLE)
        raise ValidationError("channel", f"one of: {known}") from None
    if chosen not in SENDABLE:
        known = ", ".join(c.value for c in SENDABLE)
        raise ValidationError("channel", f"the workbench sends on: {known}")
    if (template is None) == (article is None):
        raise ValidationError("template", "choose a template or an article (one of them)")
    if template is not None and not 0 < len(template) <= 64:
        raise ValidationError("template", "a template code of 1 to 64 characters")
    if article is not None:
        if chosen not in ARTICLE_CHANNELS:
            raise ValidationError("article", f"an article cannot go by {chosen.value}")
        education.article(article, "zh")  # NotFound for an unknown slug
    return chosen


def _check_template(conn: Connection, code: str, channel: Channel) -> None:
    info = template_service.approved(conn, code)  # NotFound unless approved
    if info.audience != "debtor":
        raise ValidationError("template", "a template for third parties cannot go to the debtor")
    if info.channel != channel.value:
        raise ValidationError("template", f"template {code} is written for {info.channel}")


def _gate(
    conn: Connection,
    rules: CompiledRules,
    actor: Actor,
    loan_id: int,
    channel: Channel,
    now: datetime,
    lang: GateLang,
) -> tuple[ContactDecision, GateAnswer]:
    decision = evaluate_contact(
        conn,
        loan_id=loan_id,
        channel=channel.value,
        at=now,
        rules=rules,
        agency_id=actor.agency_id if actor.role is Role.AGENCY_AGENT else None,
    )
    zone = str(decision.row["timezone"])
    earliest = decision.earliest_allowed_at
    lines: list[str] = [] if decision.allowed else explain(decision.row, rules, lang)
    answer = GateAnswer(
        allowed=decision.allowed,
        blocked_by=decision.blocked_by,
        earliest_allowed_at=earliest,
        earliest_local=(
            None
            if earliest is None
            else earliest.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
        ),
        timezone=zone,
        # the last sentence says when in UTC (or never): the answer says it in the
        # borrower's zone instead
        explanation=tuple(lines[:-1]),
        contact_point_id=decision.contact_point_id,
    )
    return decision, answer


def preview(
    conn: Connection,
    vault: PiiVault,
    rules: CompiledRules,
    actor: Actor,
    loan_id: int,
    *,
    channel: str,
    template: str | None = None,
    article: str | None = None,
    now: datetime,
    today: date,
    public_url: str,
    lang: GateLang = "zh",
) -> Preview:
    """The rendered message and the gate's answer now (module docstring); writes
    nothing. ``lang`` is the agent's language (the gate's explanation); the message is
    in the borrower's. ``public_url`` is the base of the portal link a message may carry."""
    _check(conn, actor, loan_id, now, today)
    chosen = _what(channel, template, article)
    if template is not None:
        _check_template(conn, template, chosen)
    _, answer = _gate(conn, rules, actor, loan_id, chosen, now, lang)
    subject: str | None = None
    body, message_lang = "", "zh"
    refused: tuple[str, ...] = ()
    try:
        rendered = _render(conn, vault, loan_id, chosen, template, article, now, today, public_url)
        subject, body, message_lang = rendered.subject, rendered.body, rendered.lang
    except ContentRejected as exc:
        refused = tuple(sorted({v.rule_id for v in exc.violations}))
    except renderer.MissingVariable as exc:
        refused = (renderer.MISSING_VARIABLE, *(f"missing:{n}" for n in exc.names))
    return Preview(
        loan_id=loan_id,
        channel=chosen.value,
        template=template,
        article=article,
        lang=message_lang,
        subject=subject,
        body=body,
        refused=refused,
        gate=answer,
    )


# ------------------------------------------------------------------------------ send


@dataclass(frozen=True)
class QueuedMessage:
    """An outbox row as the agent who queued it sees it."""

    id: int
    dedupe_key: str
    loan_id: int
    channel: str
    template: str | None
    article: str | None
    status: str
    due_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Sent:
    """The answer to a send: the queued message (``created`` false when this request id
    had queued it before), or the gate's refusal (``message`` None)."""

    message: QueuedMessage | None
    created: bool
    gate: GateAnswer

    def raise_if_blocked(self) -> None:
        if self.message is None:
            raise ContactBlocked(self.gate.blocked_by, self.gate.earliest_allowed_at)


def message_key(actor_name: str, request_id: str) -> str:
    """The outbox's stable id of an agent's message: sha256 of ``agent|actor|request``."""
    return hashlib.sha256(f"agent|{actor_name}|{request_id}".encode()).hexdigest()


def _queued(row: Any) -> QueuedMessage:
    r = row._mapping
    return QueuedMessage(
        id=int(r["id"]),
        dedupe_key=str(r["dedupe_key"]),
        loan_id=int(r["loan_id"]),
        channel=str(r["channel"]),
        template=r["template"],
        article=r["article"],
        status=str(r["status"]),
        due_at=r["due_at"],
        created_at=r["created_at"],
    )


_QUEUED_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.dedupe_key,
    OutboxMessage.loan_id,
    OutboxMessage.channel,
    OutboxMessage.template,
    OutboxMessage.article,
    OutboxMessage.status,
    OutboxMessage.due_at,
    OutboxMessage.created_at,
)


def _existing(conn: Connection, key: str) -> QueuedMessage | None:
    row = conn.execute(
        select(*_QUEUED_COLUMNS).where(OutboxMessage.dedupe_key == key)
    ).one_or_none()
    return None if row is None else _queued(row)


def _same(
    found: QueuedMessage, loan_id: int, channel: Channel, template: str | None, article: str | None
) -> bool:
    return (found.loan_id, found.channel, found.template, found.article) == (
        loan_id,
        channel.value,
        template,
        article,
    )


def send(
    conn: Connection,
    vault: PiiVault,
    rules: CompiledRules,
    actor: Actor,
    loan_id: int,
    *,
    channel: str,
    request_id: str,
    template: str | None = None,
    article: str | None = None,
    now: datetime,
    today: date,
    public_url: str,
    lang: GateLang = "zh",
) -> Sent:
    """Queue the message for the dispatcher if the gate allows it now (module
    docstring). Call :meth:`Sent.raise_if_blocked` after the transaction commits."""
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise ValidationError("request_id", "8 to 64 letters, digits, '-' or '_' (a UUID)")
    if len(actor.name) > ACTOR_MAX:
        raise ValidationError("actor", f"an actor name of at most {ACTOR_MAX} characters")
    borrower_id = _check(conn, actor, loan_id, now, today)
    chosen = _what(channel, template, article)
    key = message_key(actor.name, request_id)
    # One borrower's sends (and contacts) in turn: a replay waits for the first and finds
    # its row.
    lock_debtor(conn, borrower_id)
    found = _existing(conn, key)
    if found is not None:
        if not _same(found, loan_id, chosen, template, article):
            raise Conflict(f"request {request_id} already queued a different message")
        _, answer = _gate(conn, rules, actor, loan_id, chosen, now, lang)
        return Sent(message=found, created=False, gate=answer)
    if template is not None:
        _check_template(conn, template, chosen)
    decision, answer = _gate(conn, rules, actor, loan_id, chosen, now, lang)
    if not decision.allowed:
        audit.record(
            conn,
            action="outreach.blocked",
            actor=actor.name,
            subject_type="loan",
            subject_id=str(loan_id),
            payload={
                "loan_id": loan_id,
                "borrower_id": borrower_id,
                "channel": chosen.value,
                "template": template,
                "article": article,
                "blocked_by": list(decision.blocked_by),
                "earliest_allowed_at": (
                    None
                    if answer.earliest_allowed_at is None
                    else answer.earliest_allowed_at.isoformat()
                ),
            },
            at=now,
        )
        return Sent(message=None, created=False, gate=answer)
    # The text must render for this borrower and pass the filter, or nothing is queued
    # (ContentRejected / MissingVariable propagate). The dispatcher renders again when it
    # sends: the facts (an amount, a due date) may change in between.
    _render(conn, vault, loan_id, chosen, template, article, now, today, public_url)
    new_id = conn.execute(
        insert(OutboxMessage)
        .values(
            as_of=today,
            loan_id=loan_id,
            borrower_id=borrower_id,
            action_index=0,
            channel=chosen.value,
            template=template,
            article=article,
            contact_point_id=decision.contact_point_id,
            dedupe_key=key,
            status=OutboxStatus.QUEUED.value,
            created_at=now,
            origin=OutboxOrigin.AGENT.value,
            actor=actor.name,
            agency_id=actor.agency_id if actor.role is Role.AGENCY_AGENT else None,
            due_at=now,
            next_attempt_at=now,
            tries=0,
            reason_rules="[]",
            updated_at=now,
        )
        .returning(OutboxMessage.id)
    ).scalar_one()
    audit.record(
        conn,
        action="outreach.queued",
        actor=actor.name,
        subject_type="outbox",
        subject_id=str(new_id),
        payload={
            "loan_id": loan_id,
            "borrower_id": borrower_id,
            "channel": chosen.value,
            "template": template,
            "article": article,
            "contact_point_id": decision.contact_point_id,
            "dedupe_key": key,
        },
        at=now,
    )
    queued = _existing(conn, key)
    assert queued is not None
    return Sent(message=queued, created=True, gate=answer)
