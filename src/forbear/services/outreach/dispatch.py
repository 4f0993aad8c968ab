"""The dispatcher's use cases: a claimed batch is checked again at the moment of sending,
rendered, recorded as contacts, handed to the channels, and its outcome stored.

One batch goes through three short transactions, and nothing is sent inside one:

1. :func:`forbear.services.outreach.claims.claim`: due rows -> ``sending`` under a lease.
2. :func:`prepare`: under the debtors' locks (ascending ids), the live borrower situation
   (:func:`forbear.services.situation.of_borrowers`) and the compliance gate
   (:func:`forbear.services.contacts.gate.decide_many`, **one** gate call for the batch,
   at the moment of sending) decide each row:

   - stopped by the situation (:mod:`.checks`: paid, nothing owed, a promise or plan
     since) or by the gate (a hold: dispute, complaint, opt-out, cease ...; a cap) ->
     ``cancelled`` with the rule ids in ``reason_rules``;
   - blocked **only by the hour** (the gate names an ``earliest_allowed_at``: quiet hours
     have begun in the debtor's zone) -> back to ``queued`` with ``next_attempt_at`` at
     that moment (08:00 local the next morning);
   - a template variable this borrower has no value for (``OUTBOX.MISSING_VARIABLE``), no
     approved template, or a text the content filter refuses -> ``cancelled`` with the
     reason: never sent half-filled;
   - allowed -> recorded as a contact attempt with its audit event (the way
     :func:`~forbear.services.contacts.gate.request_contact` records one: frequency caps
     count it from now on), the text as it will be sent stored encrypted (``body_enc``)
     and the row handed back as :class:`Ready`.

   Forbear's own service messages (origin ``system``: the opt-out confirmation) skip the
   collection gate and are no contact attempt, but pass the content filter.

   The borrower assistant's answers (origin ``assistant``, issue 14: replies to a borrower
   who wrote first, the text written and sealed when queued) skip the collection gate's
   caps and the live situation, and are no contact attempt, but are cancelled by
   (:func:`_assistant_checks`): the content filter (audience ``third_party`` for a third
   party's number), an open opt-out of that medium, a do-not-contact hold on the point or
   the borrower, a cease, lawyer or deceased hold; and, in the borrower's quiet hours, the
   rule ``*.ASSISTANT.QUIET_DEMAND`` (:func:`forbear.domain.compliance.assistant.
   may_send`: only a direct answer within minutes of the borrower's own message, and no
   payment demand). A refused answer is cancelled, not put off to the morning: sent
   then it would be a message the borrower did not ask for.
3. :func:`finish`: the providers' answers. Accepted -> ``sent``; a transient failure ->
   ``queued`` again after an exponential backoff with jitter (the provider's
   ``retry_after`` honoured), ``dead`` after the policy's last try; a permanent failure
   -> ``failed``, and an invalid address marks the contact point: the attempt's outcome
   (``invalid_number`` / ``failed``) and a ``do_not_contact`` hold on that contact point,
   which the gate's CN.HOLDS rule then blocks.

A worker killed between 2 and 3 leaves rows ``sending`` with their attempt and text:
when the lease runs out another worker claims them and sends the stored text again with
the same idempotency key (the provider accepts it once), without asking the gate twice.

Audit payloads and errors hold ids, rule ids and codes only: never an address, a name or
a text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

import polars as pl
from sqlalchemy import Connection, Table, bindparam, func, select

from forbear.domain.compliance.assistant import may_send
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.compliance.content import ContentRejected
from forbear.domain.compliance.schema import PLANNED, Channel, HoldKind, Outcome, Party
from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.strategy.schema import DEMANDS, Purpose
from forbear.services import situation
from forbear.services.contacts.common import CHANNEL_POINT_KIND, NEEDS_POINT
from forbear.services.contacts.gate import (
    ContactDecision,
    decide_many,
    decisions_of,
    no_disclosure_script,
    record_attempts,
)
from forbear.services.contacts.outcomes import record_outcome
from forbear.services.holds import open_at
from forbear.services.outreach import checks
from forbear.services.outreach.claims import Claimed
from forbear.services.outreach.points import ADDRESS_INVALID, mark_point_invalid
from forbear.services.outreach.render import (
    MissingTemplate,
    MissingVariable,
    Rendered,
    Renderer,
)
from forbear.services.templates import check_body
from forbear.store import audit
from forbear.store.assistant import AssistantTurn, TurnRole
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.locks import LockSpace, lock_many
from forbear.store.models import Borrower, ContactPoint
from forbear.store.outreach import in_ints, update_rows
from forbear.store.runs import Decision, OutboxMessage, OutboxOrigin, OutboxStatus

BODY_CONTEXT = "outbox.body"  # the associated-data label of outbox.body_enc
TO_CONTEXT = "outbox.to"  # of outbox.to_enc (a sender on no file)
INVALID = "OUTBOX.INVALID"
# The holds that stop even an answer to a borrower who wrote first (an opt-out only of
# its medium, a do-not-contact hold only when on the point or the whole borrower).
ASSISTANT_STOPS = (
    HoldKind.OPT_OUT.value,
    HoldKind.DO_NOT_CONTACT.value,
    HoldKind.CEASE.value,
    HoldKind.LAWYER.value,
    HoldKind.DECEASED.value,
)
ASSISTANT_HOLD = "OUTBOX.ASSISTANT.HOLD"
_O = OutboxMessage
_T = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a transient failure is tried again."""

    max_tries: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=2)

    def delay(self, tries: int, rng: random.Random, retry_after: float | None = None) -> timedelta:
        """The wait after the ``tries``-th failed try: ``base * 2**(tries-1)``, capped,
        with "full jitter" between half and all of it; never less than the provider's
        ``retry_after``."""
        exponential = self.base_delay * (1 << min(max(0, tries - 1), 30))
        capped = min(exponential, self.max_delay)
        wait = capped * (0.5 + 0.5 * rng.random())
        if retry_after is not None and retry_after > 0:
            wait = max(wait, timedelta(seconds=min(retry_after, 86_400.0)))
        return wait


@dataclass(frozen=True)
class Ready:
    """A message that may go now. ``to`` is the decrypted address: personal data, for
    the adapter only (never logged)."""

    outbox_id: int
    message_id: str
    channel: str
    to: str
    rendered: Rendered
    borrower_ref: str
    loan_ref: str
    origin: str
    tries: int
    contact_attempt_id: int | None
    contact_point_id: int | None
    loan_id: int | None  # None: the assistant's answer to a sender on no file
    borrower_id: int | None


@dataclass
class Prepared:
    """What :func:`prepare` made of a batch (counts only, and the messages to send)."""

    ready: list[Ready] = field(default_factory=list)
    cancelled: dict[str, int] = field(default_factory=dict)  # rule id -> count
    rescheduled: int = 0
    lost: int = 0  # rows no longer ours (another worker took them over)


SendKind = Literal["accepted", "transient", "permanent"]


@dataclass(frozen=True)
class SendResult:
    """A provider's answer, as the dispatcher hands it over (no personal data)."""

    kind: SendKind
    provider: str
    provider_ref: str | None = None
    reason: str = ""
    code: str | None = None
    retry_after: float | None = None
    address_invalid: bool = False


@dataclass(frozen=True)
class Finished:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    failed: int = 0


# ------------------------------------------------------------------------------ prepare


@dataclass
class _Row:
    claimed: Claimed
    rules: list[str] = field(default_factory=list)
    retry_at: datetime | None = None
    point: Any = None
    rendered: Rendered | None = None
    decision: ContactDecision | None = None
    is_demand: bool = True
    discloses_debt: bool | None = None  # None: as the template says (a demand discloses)


def _seal(vault: PiiVault, rendered: Rendered) -> bytes:
    payload = {
        "subject": rendered.subject,
        "body": rendered.body,
        "params": dict(rendered.params),
        "lang": rendered.lang,
        "template": rendered.template,
        "article": rendered.article,
    }
    return vault.encrypt(json.dumps(payload, ensure_ascii=False), context=BODY_CONTEXT)


def seal_text(vault: PiiVault, body: str, lang: str) -> bytes:
    """``body_enc`` for a text written by a person or the assistant (no template): what
    :func:`unseal` reads back."""
    return _seal(
        vault, Rendered(subject=None, body=body, params={}, lang="en" if lang == "en" else "zh")
    )


def unseal(vault: PiiVault, blob: bytes) -> Rendered:
    """The text as sent, from ``body_enc``."""
    data = json.loads(vault.decrypt(blob, context=BODY_CONTEXT))
    return Rendered(
        subject=data.get("subject"),
        body=str(data["body"]),
        params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
        lang="en" if data.get("lang") == "en" else "zh",
        template=data.get("template"),
        article=data.get("article"),
    )


def _actor_of(worker_id: str) -> str:
    return f"system:dispatcher:{worker_id}"[:64]


def prepare(
    conn: Connection,
    vault: PiiVault,
    rules: CompiledRules,
    claimed: Sequence[Claimed],
    *,
    worker_id: str,
    now: datetime,
    today: date,
    public_url: str,
    lease: timedelta = timedelta(minutes=5),
) -> Prepared:
    """Check, render and record a claimed batch at the moment of sending (module
    docstring). Runs in the caller's transaction; commits nothing."""
    out = Prepared()
    if not claimed:
        return out
    rows = [_Row(c) for c in claimed]
    borrower_ids = sorted({c.borrower_id for c in claimed if c.borrower_id is not None})
    # the debtors' locks in one statement, ascending (gate.lock_debtors' order)
    lock_many(conn, LockSpace.DEBTOR, borrower_ids)
    # still ours? (a lease that ran out may have been taken over meanwhile)
    ours = set(
        conn.execute(
            select(_O.id).where(
                in_ints(conn, _O.id, [c.id for c in claimed]),
                _O.status == OutboxStatus.SENDING.value,
                _O.claimed_by == worker_id,
            )
        )
        .scalars()
        .all()
    )
    out.lost = sum(1 for r in rows if r.claimed.id not in ours)
    rows = [r for r in rows if r.claimed.id in ours]
    people = _borrowers(conn, borrower_ids)
    points = _points(conn, borrower_ids)
    fresh = [r for r in rows if not r.claimed.in_flight]
    found = situation.of_borrowers(conn, borrower_ids, today, now, rules=rules) if fresh else None
    loans = {int(r["loan_id"]): r for r in found.loans.to_dicts()} if found is not None else {}
    plans = _decisions(conn, [r.claimed for r in fresh if r.claimed.origin == OutboxOrigin.RUN])
    renderer = Renderer(conn, vault, public_url, now)
    renderer.prefetch(borrower_ids, [_loan(r.claimed) for r in fresh if r.claimed.loan_id])

    # 1. the live situation, and the contact point each message goes to
    for row in fresh:
        c = row.claimed
        if c.origin == OutboxOrigin.ASSISTANT:
            row.is_demand = False
            if c.borrower_id is None:  # a sender on no file: the address is in to_enc
                if c.to_enc is None:
                    row.rules = [checks.NO_CONTACT_POINT]
                continue
            row.point = _choose_point(points.get(c.borrower_id, []), c)
            if row.point is None and _needs_point(c.channel):
                row.rules = [checks.NO_CONTACT_POINT]
            continue
        plan = plans.get((c.as_of, _loan(c), c.action_index), {})
        row.is_demand = bool(plan.get("is_demand", c.article is None))
        if plan.get("purpose") == LOCATE and c.origin == OutboxOrigin.RUN:
            # the run's location message (issue 17): it discloses nothing only with the
            # no-disclosure template, judged as online and in the run
            row.discloses_debt = not _no_disclosure(conn, c.channel, c.template)
        if c.origin == OutboxOrigin.AGENT:
            row.is_demand = c.article is None
        stop = checks.situation_block(
            origin=c.origin,
            planned_on=c.as_of,
            loan=loans.get(_loan(c)),
            treatment=plan.get("treatment"),
            purpose=plan.get("purpose"),
        )
        if stop is not None:
            row.rules = [stop]
            continue
        row.point = _choose_point(points.get(_borrower(c), []), c)
        if row.point is None and _needs_point(c.channel):
            row.rules = [checks.NO_CONTACT_POINT]

    # 2. the gate, once for the batch, at this moment
    gated = [
        r
        for r in fresh
        if not r.rules and r.claimed.origin not in (OutboxOrigin.SYSTEM, OutboxOrigin.ASSISTANT)
    ]
    if gated:
        planned = pl.DataFrame(
            [
                {
                    "contact_id": i,
                    "loan_id": r.claimed.loan_id,
                    "borrower_id": r.claimed.borrower_id,
                    "contact_point_id": None if r.point is None else int(r.point.id),
                    "channel": r.claimed.channel,
                    "party": Party.DEBTOR.value if r.point is None else str(r.point.owner_type),
                    "provenance": None if r.point is None else str(r.point.provenance),
                    "at": now,
                    "timezone": people[_borrower(r.claimed)]["timezone"],
                    "agency_id": r.claimed.agency_id,
                    "discloses_debt": (
                        r.claimed.article is None if r.discloses_debt is None else r.discloses_debt
                    ),
                    "is_demand": r.is_demand,
                }
                for i, r in enumerate(gated)
            ],
            schema=PLANNED,
        )
        decided = decide_many(conn, planned, rules).sort("contact_id")
        for row, decision in zip(gated, decisions_of(decided), strict=True):
            row.decision = decision
            if decision.allowed:
                continue
            if decision.earliest_allowed_at is not None:
                # only rules that time lifts block it (the gate names no moment
                # otherwise): quiet hours began, a rest day, a cap of the day
                row.retry_at = decision.earliest_allowed_at
            else:
                row.rules = list(decision.blocked_by) or ["OUTBOX.BLOCKED"]

    # 2b. the assistant's answers: their own checks (module docstring)
    _assistant_checks(
        conn,
        vault,
        rules,
        [r for r in fresh if r.claimed.origin == OutboxOrigin.ASSISTANT and not r.rules],
        people,
        now,
    )

    # 3. render what may go (the filter after substitution)
    for row in fresh:
        if row.rules or row.retry_at is not None or row.rendered is not None:
            continue
        c = row.claimed
        try:
            row.rendered = renderer.render(
                borrower_id=_borrower(c),
                loan_id=_loan(c),
                channel=c.channel,
                template=c.template,
                article=c.article,
                loan=loans.get(_loan(c)),
            )
        except MissingVariable as exc:
            row.rules = [exc.rule_id]
        except MissingTemplate as exc:
            row.rules = [exc.rule_id]
        except ContentRejected as exc:
            row.rules = sorted({v.rule_id for v in exc.violations}) or ["CONTENT.REJECTED"]
        except (ValidationError, NotFound) as exc:
            # a row that can never render (an unknown channel, a loan gone): cancelled
            # with the reason rather than claimed again and again
            row.rules = [f"{INVALID}:{type(exc).__name__}"]

    # 4. where each goes (decrypted only now, for what may go); nowhere -> cancelled
    addresses: dict[int, str] = {}
    for row in rows:
        c = row.claimed
        if row.rules or row.retry_at is not None:
            continue
        if row.rendered is None and not c.in_flight:
            continue
        point = row.point if not c.in_flight else _point_by_id(points, c)
        row.point = point
        person = {} if c.borrower_id is None else people.get(c.borrower_id, {})
        address = _address(vault, c, point, person)
        if address is None:
            row.rules = [checks.NO_CONTACT_POINT]
            row.rendered = None
        else:
            addresses[c.id] = address

    # 5. record the allowed sends as contacts (caps count them from now on)
    actor = _actor_of(worker_id)
    to_record = [r for r in fresh if r.rendered is not None and r.decision is not None]

    # an agent's message is that agent's contact (the audit trail names who sent it)
    # (and an agency agent's, that agency's)
    def key(r: _Row) -> tuple[bool, str, int]:
        agency = r.claimed.agency_id
        return (bool(r.is_demand), _sender(r.claimed, actor), -1 if agency is None else agency)

    for demand, sender, agency in sorted({key(r) for r in to_record}):
        group = [r for r in to_record if key(r) == (demand, sender, agency)]
        ids = record_attempts(
            conn,
            [r.decision for r in group if r.decision is not None],
            actor=sender,
            now=now,
            agency_id=None if agency == -1 else agency,
            template_codes=[r.claimed.template or r.claimed.article for r in group],
            discloses_debt=demand,
            is_demand=demand,
        )
        for row, attempt_id in zip(group, ids, strict=True):
            row.claimed = _with_attempt(row.claimed, attempt_id)

    # 6. write back in one statement per kind: cancelled, rescheduled, ready (text sealed)
    events: list[audit.Entry] = []
    cancels: list[dict[str, Any]] = []
    reschedules: list[dict[str, Any]] = []
    sealed: list[dict[str, Any]] = []
    for row in rows:
        c = row.claimed
        if row.rules:
            cancels.append({"oid": c.id, "rules": json.dumps(row.rules)})
            for rule in row.rules:
                out.cancelled[rule] = out.cancelled.get(rule, 0) + 1
            events.append(_entry("outbox.cancelled", actor, c, {"rules": row.rules}))
            continue
        if row.retry_at is not None:
            reschedules.append({"oid": c.id, "at": row.retry_at})
            out.rescheduled += 1
            blocked = list(row.decision.blocked_by) if row.decision else []
            events.append(
                _entry(
                    "outbox.rescheduled",
                    actor,
                    c,
                    {"next_attempt_at": row.retry_at.isoformat(), "rules": blocked},
                )
            )
            continue
        rendered = row.rendered if row.rendered is not None else _stored(vault, c)
        if rendered is None or c.id not in addresses:
            continue
        if row.rendered is not None:
            sealed.append(
                {
                    "oid": c.id,
                    "attempt": c.contact_attempt_id,
                    "point": None if row.point is None else int(row.point.id),
                    "body": _seal(vault, rendered),
                }
            )
        out.ready.append(
            Ready(
                outbox_id=c.id,
                message_id=c.dedupe_key,
                channel=c.channel,
                to=addresses[c.id],
                rendered=rendered,
                borrower_ref=""
                if c.borrower_id is None
                else str(people.get(c.borrower_id, {}).get("external_ref", "")),
                loan_ref="" if c.loan_id is None else renderer.loan_ref(c.loan_id),
                origin=c.origin,
                tries=c.tries,
                contact_attempt_id=c.contact_attempt_id,
                contact_point_id=None if row.point is None else int(row.point.id),
                loan_id=c.loan_id,
                borrower_id=c.borrower_id,
            )
        )
    _update_each(
        conn,
        cancels,
        status=OutboxStatus.CANCELLED.value,
        reason_rules=bindparam("rules"),
        lease_until=None,
        updated_at=now,
    )
    _update_each(
        conn,
        reschedules,
        status=OutboxStatus.QUEUED.value,
        next_attempt_at=bindparam("at"),
        lease_until=None,
        claimed_by=None,
        updated_at=now,
    )
    _update_each(
        conn,
        sealed,
        contact_attempt_id=bindparam("attempt"),
        contact_point_id=bindparam("point"),
        body_enc=bindparam("body"),
        lease_until=now + lease,
        updated_at=now,
    )
    if events:
        audit.record_many(conn, events)
    return out


def _assistant_checks(
    conn: Connection,
    vault: PiiVault,
    rules: CompiledRules,
    rows: Sequence[_Row],
    people: Mapping[int, Mapping[str, Any]],
    now: datetime,
) -> None:
    """Decide the assistant's answers in ``rows``: ``rules`` set when refused, else
    ``rendered`` set to the stored text."""
    if not rows:
        return
    borrower_ids = sorted({b for r in rows if (b := r.claimed.borrower_id) is not None})
    holds = conn.execute(
        select(Hold.borrower_id, Hold.kind, Hold.channel, Hold.contact_point_id).where(
            Hold.borrower_id.in_(borrower_ids), Hold.kind.in_(ASSISTANT_STOPS), open_at(now)
        )
    ).all()
    # the borrower's latest message in the conversation each answer belongs to
    linked = dict(
        (int(r.outbox_id), int(r.conversation_id))
        for r in conn.execute(
            select(AssistantTurn.outbox_id, AssistantTurn.conversation_id).where(
                AssistantTurn.outbox_id.in_([r.claimed.id for r in rows])
            )
        )
    )
    wrote: dict[int, datetime] = {}
    if linked:
        wrote = {
            int(r.conversation_id): r.at
            for r in conn.execute(
                select(
                    AssistantTurn.conversation_id,
                    func.max(AssistantTurn.created_at).label("at"),
                )
                .where(
                    AssistantTurn.conversation_id.in_(sorted(set(linked.values()))),
                    AssistantTurn.role == TurnRole.BORROWER.value,
                    AssistantTurn.created_at <= now,
                )
                .group_by(AssistantTurn.conversation_id)
            )
        }
    for row in rows:
        c = row.claimed
        point_id = None if row.point is None else int(row.point.id)
        stopped = sorted(
            {
                h.kind
                for h in holds
                if h.borrower_id == c.borrower_id
                and (h.contact_point_id is None or h.contact_point_id == point_id)
                and (
                    h.kind != HoldKind.OPT_OUT.value or h.channel is None or h.channel == c.channel
                )
            }
        )
        if stopped:
            row.rules = [f"{ASSISTANT_HOLD}:{kind}" for kind in stopped]
            continue
        if c.body_enc is None:
            row.rules = [f"{INVALID}:no_text"]
            continue
        text = unseal(vault, c.body_enc)
        # a sender on no file is, for all we know, a third party: no word of a debt
        third = c.borrower_id is None or (
            row.point is not None and str(row.point.owner_type) != Party.DEBTOR.value
        )
        violations = check_body(
            text.body,
            channel=c.channel,
            audience="third_party" if third else "debtor",
            lang=text.lang,
        )
        if violations:
            row.rules = sorted({v.rule_id for v in violations})
            continue
        conversation = linked.get(c.id)
        quiet = may_send(
            text.body,
            rules=rules,
            at=now,
            timezone=str(
                rules.timezone_default
                if c.borrower_id is None
                else people.get(c.borrower_id, {}).get("timezone", rules.timezone_default)
            ),
            borrower_wrote_at=None if conversation is None else wrote.get(conversation),
        )
        if not quiet.allowed:
            row.rules = [quiet.rule_id or "ASSISTANT.QUIET_DEMAND"]
            continue
        row.rendered = text


def _loan(c: Claimed) -> int:
    """The loan of a row that has one: every row but the assistant's answer to a sender on
    no file (the outbox's ``whose`` constraint)."""
    if c.loan_id is None:
        raise ValidationError("loan_id", f"outbox row {c.id} has no loan")
    return c.loan_id


def _borrower(c: Claimed) -> int:
    if c.borrower_id is None:
        raise ValidationError("borrower_id", f"outbox row {c.id} has no borrower")
    return c.borrower_id


def _update_each(conn: Connection, rows: list[dict[str, Any]], **values: Any) -> None:
    """One UPDATE of the outbox for many rows (:func:`forbear.store.outreach.update_rows`:
    a single statement on PostgreSQL): ``rows`` carry ``oid`` and the bind parameters
    ``values`` name; nothing when ``rows`` is empty."""
    update_rows(conn, _T, rows, values)


def _sender(c: Claimed, dispatcher: str) -> str:
    if c.origin == OutboxOrigin.AGENT and c.actor:
        return str(c.actor)
    return dispatcher


def _with_attempt(c: Claimed, attempt_id: int) -> Claimed:
    return replace(c, contact_attempt_id=attempt_id)


def _stored(vault: PiiVault, c: Claimed) -> Rendered | None:
    return None if c.body_enc is None else unseal(vault, c.body_enc)


def _entry(action: str, actor: str, c: Claimed, extra: Mapping[str, Any]) -> audit.Entry:
    payload = {
        "outbox_id": c.id,
        "loan_id": c.loan_id,
        "borrower_id": c.borrower_id,
        "channel": c.channel,
        "template": c.template,
        "article": c.article,
        "origin": c.origin,
        **extra,
    }
    return audit.Entry(action, actor, "outbox", str(c.id), payload, None)


def _needs_point(channel: str) -> bool:
    try:
        return Channel(channel) in NEEDS_POINT
    except ValueError:
        return False


def _borrowers(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = conn.execute(
        select(Borrower.id, Borrower.timezone, Borrower.external_ref, Borrower.address_enc).where(
            in_ints(conn, Borrower.id, ids)
        )
    )
    return {
        int(r.id): {
            "timezone": str(r.timezone or "Asia/Shanghai"),
            "external_ref": str(r.external_ref),
            "address_enc": r.address_enc,
        }
        for r in rows
    }


def _points(conn: Connection, ids: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    rows = conn.execute(
        select(
            ContactPoint.id,
            ContactPoint.borrower_id,
            ContactPoint.kind,
            ContactPoint.owner_type,
            ContactPoint.provenance,
            ContactPoint.is_primary,
            ContactPoint.value_enc,
        )
        .where(in_ints(conn, ContactPoint.borrower_id, ids))
        .order_by(ContactPoint.borrower_id, ContactPoint.is_primary.desc(), ContactPoint.id)
    )
    for r in rows:
        found.setdefault(int(r.borrower_id), []).append(r)
    return found


def _choose_point(points: list[Any], c: Claimed) -> Any:
    """The message's contact point (it must be the borrower's and of the channel's kind),
    else the debtor's primary one of that kind (as the online gate chooses)."""
    try:
        kind = CHANNEL_POINT_KIND[Channel(c.channel)]
    except (ValueError, KeyError):
        return None
    if kind is None:
        return None
    if c.contact_point_id is not None:
        for p in points:
            if int(p.id) == c.contact_point_id and p.kind == kind.value:
                return p
        return None
    for p in points:
        if p.kind == kind.value and p.owner_type == Party.DEBTOR.value:
            return p
    return None


def _point_by_id(points: Mapping[int, list[Any]], c: Claimed) -> Any:
    if c.contact_point_id is None or c.borrower_id is None:
        return None
    for p in points.get(c.borrower_id, []):
        if int(p.id) == c.contact_point_id:
            return p
    return None


def _address(vault: PiiVault, c: Claimed, point: Any, person: Mapping[str, Any]) -> str | None:
    """Where the message goes: the contact point's value; a letter without one goes to
    the borrower's address on file; app push and chat to the lender's own user id (the
    borrower's external reference)."""
    if point is not None:
        return vault.decrypt(point.value_enc, context=Contexts.CONTACT_VALUE)
    if c.to_enc is not None:  # the assistant's answer to a sender on no file
        return vault.decrypt(c.to_enc, context=TO_CONTEXT)
    if c.channel == Channel.LETTER.value:
        blob = person.get("address_enc")
        return None if blob is None else vault.decrypt(blob, context=Contexts.BORROWER_ADDRESS)
    if c.channel in (Channel.APP_PUSH.value, Channel.IM.value):
        ref = person.get("external_ref")
        return None if not ref else str(ref)
    return None


LOCATE = Purpose.LOCATE.value  # the strategy's location purpose


def _no_disclosure(conn: Connection, channel: str, template: str | None) -> bool:
    """Whether a location message's template is the no-disclosure script
    (:func:`~forbear.services.contacts.gate.no_disclosure_script`; unknown: no)."""
    try:
        return no_disclosure_script(conn, Channel(channel), template)
    except ValidationError:
        return False


def _decisions(
    conn: Connection, claimed: Sequence[Claimed]
) -> dict[tuple[date, int, int], dict[str, Any]]:
    """The run's decision behind each message (its treatment, purpose, is_demand)."""
    if not claimed:
        return {}
    wanted = {(c.as_of, c.loan_id, c.action_index) for c in claimed}
    d = Decision
    rows = conn.execute(
        select(d.as_of, d.loan_id, d.action_index, d.treatment, d.purpose, d.is_demand).where(
            d.as_of.in_(sorted({c.as_of for c in claimed})),
            in_ints(conn, d.loan_id, sorted({_loan(c) for c in claimed})),
        )
    )
    found: dict[tuple[date, int, int], dict[str, Any]] = {}
    for r in rows:
        key = (r.as_of, int(r.loan_id), int(r.action_index))
        if key in wanted:
            demand = r.is_demand
            if demand is None and r.purpose is not None:
                demand = r.purpose in {p.value for p in DEMANDS}
            found[key] = {
                "treatment": r.treatment,
                "purpose": r.purpose,
                "is_demand": True if demand is None else bool(demand),
            }
    return found


# ------------------------------------------------------------------------------- finish


def finish(
    conn: Connection,
    results: Sequence[tuple[Ready, SendResult]],
    *,
    worker_id: str,
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
    rng: random.Random | None = None,
) -> Finished:
    """Store what the providers answered (module docstring). Only rows this worker still
    holds are changed (locked first on PostgreSQL). Runs in the caller's transaction."""
    chance = rng or random.Random()
    actor = _actor_of(worker_id)
    if not results:
        return Finished()
    held = set(
        conn.execute(
            select(_O.id)
            .where(
                in_ints(conn, _O.id, [r.outbox_id for r, _ in results]),
                _O.status == OutboxStatus.SENDING.value,
                _O.claimed_by == worker_id,
            )
            .with_for_update()
        )
        .scalars()
        .all()
    )
    sent: list[dict[str, Any]] = []
    retries: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    events: list[audit.Entry] = []
    retried = dead = failed = 0
    for ready, result in results:
        if ready.outbox_id not in held:
            continue  # taken over meanwhile: its new holder finishes it
        tries = ready.tries + 1
        base = {"outbox_id": ready.outbox_id, "loan_id": ready.loan_id, "channel": ready.channel}
        if result.kind == "accepted":
            sent.append(
                {
                    "oid": ready.outbox_id,
                    "provider": result.provider[:32],
                    "ref": None if result.provider_ref is None else result.provider_ref[:128],
                    "tries": tries,
                }
            )
            events.append(
                audit.Entry(
                    "outbox.sent",
                    actor,
                    "outbox",
                    str(ready.outbox_id),
                    {
                        **base,
                        "provider": result.provider[:32],
                        "contact_attempt_id": ready.contact_attempt_id,
                        "origin": ready.origin,
                        "tries": tries,
                    },
                    None,
                )
            )
            continue
        error = _error(result)
        if result.kind == "transient" and tries < policy.max_tries:
            wait = policy.delay(tries, chance, result.retry_after)
            retries.append(
                {"oid": ready.outbox_id, "at": now + wait, "tries": tries, "error": error}
            )
            retried += 1
            _attempt_failed(conn, ready, Outcome.FAILED, actor, now)
            events.append(
                audit.Entry(
                    "outbox.retry",
                    actor,
                    "outbox",
                    str(ready.outbox_id),
                    {
                        **base,
                        "tries": tries,
                        "reason": error,
                        "after_s": int(wait.total_seconds()),
                    },
                    None,
                )
            )
            continue
        status = OutboxStatus.DEAD if result.kind == "transient" else OutboxStatus.FAILED
        ended.append(
            {"oid": ready.outbox_id, "status": status.value, "tries": tries, "error": error}
        )
        if status is OutboxStatus.DEAD:
            dead += 1
            _attempt_failed(conn, ready, Outcome.FAILED, actor, now)
        else:
            failed += 1
            invalid = result.address_invalid
            voice_or_text = ready.channel in (
                Channel.SMS.value,
                Channel.CALL.value,
                Channel.AI_CALL.value,
            )
            outcome = Outcome.INVALID_NUMBER if invalid and voice_or_text else Outcome.FAILED
            _attempt_failed(conn, ready, outcome, actor, now)
            if invalid and ready.contact_point_id is not None:
                _mark_invalid(conn, ready, actor, now)
        events.append(
            audit.Entry(
                f"outbox.{status.value}",
                actor,
                "outbox",
                str(ready.outbox_id),
                {
                    **base,
                    "tries": tries,
                    "reason": error,
                    "address_invalid": result.address_invalid,
                },
                None,
            )
        )
    _update_each(
        conn,
        sent,
        status=OutboxStatus.SENT.value,
        provider=bindparam("provider"),
        provider_ref=bindparam("ref"),
        sent_at=now,
        tries=bindparam("tries"),
        lease_until=None,
        last_error=None,
        updated_at=now,
    )
    _update_each(
        conn,
        retries,
        status=OutboxStatus.QUEUED.value,
        next_attempt_at=bindparam("at"),
        tries=bindparam("tries"),
        lease_until=None,
        claimed_by=None,
        contact_attempt_id=None,  # the retry asks the gate again
        body_enc=None,
        last_error=bindparam("error"),
        updated_at=now,
    )
    _update_each(
        conn,
        ended,
        status=bindparam("status"),
        tries=bindparam("tries"),
        lease_until=None,
        last_error=bindparam("error"),
        updated_at=now,
    )
    if events:
        audit.record_many(conn, events)
    return Finished(sent=len(sent), retried=retried, dead=dead, failed=failed)


def _error(result: SendResult) -> str:
    text = result.reason if result.code is None else f"{result.reason} ({result.code})"
    return text[:200]


def _attempt_failed(
    conn: Connection, ready: Ready, outcome: Outcome, actor: str, now: datetime
) -> None:
    if ready.contact_attempt_id is None:
        return
    pending = conn.execute(
        select(ContactAttempt.outcome).where(ContactAttempt.id == ready.contact_attempt_id)
    ).scalar_one_or_none()
    if pending is None:
        record_outcome(conn, ready.contact_attempt_id, outcome.value, actor, now=now)


def _mark_invalid(conn: Connection, ready: Ready, actor: str, now: datetime) -> None:
    """The contact point the provider refused for good is marked invalid
    (:func:`forbear.services.outreach.points.mark_point_invalid`)."""
    assert ready.contact_point_id is not None
    mark_point_invalid(conn, ready.contact_point_id, actor=actor, now=now, reason=ADDRESS_INVALID)
