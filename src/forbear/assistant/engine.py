"""The conversation engine: one message in, the replies out (issue 14, items 1, 3 and 4).

Every front end builds an :class:`Incoming` and calls :meth:`Assistant.handle`; the
answer is an :class:`Outgoing` whose replies have already passed the guardrails and the
content filter. For SMS and app messages the engine also queues the replies for the
dispatcher (:func:`forbear.services.assistant.queue_outbound`); the portal and the API
show them in the response.

One message is one transaction (``app.transaction()``): the conversation is opened and
locked (:func:`forbear.services.assistant.open_conversation`), the borrower's turn
recorded, the guardrails read the message first (:func:`.guardrails.screen`), then the
model (:class:`forbear.assistant.nlu.Understander`, today in the lender's zone), an
identity check when the message carries the ID number's last digits, the dialogue's step
(:func:`.dialogue.step`), its actions through the very use cases of the portal
(:mod:`forbear.services.portal`) and the assistant's (handoff, vulnerability flag, wrong
number), the replies rendered (:mod:`.replies`), optionally rephrased (:mod:`.llm`),
checked (:func:`.guardrails.check_reply`: a failing one is replaced by the fallback and the
conversation handed over), recorded and, for sms/app, queued; then the state is saved.

While an agent holds the conversation the engine records the borrower's turn and answers
nothing (``agent_joined``), except once, right after the agent joined, to say so. Bad
input never raises: an empty, over-long (cut), binary or emoji-only message gets a reply.
A conversation id that is not the sender's is :class:`~forbear.domain.errors.NotFound`,
exactly as a missing one (the front end answers 404).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from forbear.assistant import dialogue
from forbear.assistant.book import BookFacts
from forbear.assistant.dialogue import Action, State
from forbear.assistant.guardrails import Screened, check_reply, screen
from forbear.assistant.llm import Rephraser
from forbear.assistant.llm import from_settings as llm_from_settings
from forbear.assistant.nlu import Understander, Understanding
from forbear.assistant.replies import Reply, render
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.replies import with_opt_out
from forbear.services import assistant as conversations
from forbear.services import portal
from forbear.services.days import book_date
from forbear.services.lender import rules_in_force

log = logging.getLogger(__name__)

Channel = Literal["portal", "sms", "app", "api", "cli"]


@dataclass(frozen=True)
class Incoming:
    """One message from a borrower (or someone who writes as one)."""

    channel: Channel
    text: str
    received_at: datetime  # UTC
    # A borrower already identified by the front end: a portal session, the lender's app
    # (signed by the lender), the CLI's --borrower. It counts as verified identity.
    borrower_id: int | None = None
    # For SMS and app messages without a session: the phone number it came from.
    sender: str | None = None
    # Continue this conversation (the portal and the API keep its id); else the engine
    # finds the open one of this borrower or sender on this channel, or starts one.
    conversation_id: int | None = None
    language: str | None = None  # the front end's language hint ("zh" or "en")


@dataclass(frozen=True)
class Option:
    """A quick reply the portal shows as a button (and the API returns): pressing it sends
    ``value`` as the next message."""

    label: str
    value: str


@dataclass(frozen=True)
class Outgoing:
    conversation_id: int
    replies: tuple[str, ...]  # what the borrower reads, in order, already filtered
    state: str  # the dialogue state after this message
    intent: str | None  # what the message was understood as (None: not understood)
    handed_over: bool  # a person has been asked to take over (or has)
    agent_joined: bool = False  # a person is answering now: the engine stays silent
    options: tuple[Option, ...] = field(default_factory=tuple)
    language: str = "zh"


_OUTBOUND = frozenset({"sms", "app"})
_OUTCOMES: dict[str, dialogue.VerifyResult] = {"ok": "ok", "wrong": "wrong", "locked": "locked"}
_REFUSED = (Conflict, ValidationError, NotFound)


class ModelFailed(Exception):
    """The intent model raised on a readable message (logged; a person takes over)."""


@dataclass
class _Turn:
    """What one message produced, before it is recorded."""

    texts: list[str] = field(default_factory=list)
    handed_over: bool = False
    reason: str | None = None


class Assistant:
    """The conversation engine (module docstring)."""

    def __init__(
        self,
        app: Any,
        understander: Understander,
        *,
        llm: Rephraser | None = None,
        deliver: bool = True,
    ):
        self.app = app
        self.understander = understander
        self.llm = llm
        # queue sms/app answers for the dispatcher (off for the terminal's simulated SMS)
        self.deliver = deliver

    # ------------------------------------------------------------------ the message

    def handle(self, incoming: Incoming) -> Outgoing:
        """Answer one message (module docstring). Raises only for a conversation that is
        not the sender's (:class:`NotFound`) or a front end's mistake
        (:class:`ValidationError`: no borrower and no sender, a bad channel)."""
        received = incoming.received_at
        zone = self._zone()
        today = received.astimezone(zone).date()
        s = screen(incoming.text)
        with self.app.transaction() as conn:
            conv = conversations.open_conversation(
                conn,
                self.app.vault,
                channel=incoming.channel,
                now=received,
                borrower_id=incoming.borrower_id,
                sender=incoming.sender,
                conversation_id=incoming.conversation_id,
                language=incoming.language if incoming.language in ("zh", "en") else None,
            )
            u = self._understand(s, today)
            lang = self._language(incoming, conv, u, s)
            conversations.record_turn(
                conn,
                self.app.vault,
                conv,
                role="borrower",
                text=s.text,
                now=received,
                intent=u.intent if u is not None else None,
                confidence=round(min(max(u.confidence, 0.0), 1.0), 4) if u is not None else None,
            )
            if conv.status == "agent":
                if s.crisis:  # the agent reads it; the hold goes on at once all the same
                    conversations.flag_vulnerable(conn, conv, now=received)
                return self._agent_holds(conn, conv, lang, u, received)
            rules = rules_in_force(conn, self.app.settings.data_dir)
            as_of = book_date(conn, today) or today
            verification: dialogue.VerifyResult | None = None
            if self._checks_identity(conv, u) and not (
                s.third_party or conv.slots.get(dialogue.THIRD_PARTY)
            ):  # someone who said they write for another is never verified
                assert u is not None
                checked = conversations.verify_identity(
                    conn, self.app.vault, conv, id_digits=u.digits[0], now=received
                )
                conv = checked.conversation
                verification = _OUTCOMES[checked.outcome.value]
            facts = BookFacts(
                conn, conv, today=today, as_of=as_of, rules=rules, verification=verification
            )
            state = State(conv.state or dialogue.START, dict(conv.slots), conv.misses)
            try:
                if u is None and not (s.empty or s.unreadable or s.crisis):
                    raise ModelFailed  # the model failed on a readable message
                step = dialogue.step(state, u, s, facts, lang)
            except ModelFailed:
                step = dialogue.Step(state=state.name, slots=state.slots, misses=state.misses)
                step.say("fallback").hand_over("other")
            except _REFUSED:
                log.warning("assistant: a fact could not be read", exc_info=False)
                step = dialogue.Step(state=dialogue.START, slots={}, misses=0, intent=None)
                step.say("fallback").hand_over("other")
            turn = _Turn()
            replies = list(step.replies)
            for action in step.actions:
                replies.extend(self._act(conn, conv, action, as_of, received, facts, turn))
            shown_verified = facts.verified and not step.slots.get(dialogue.THIRD_PARTY)
            texts = [render(r, lang, verified=shown_verified) for r in replies]
            quiet_zone = conversations.zone_of(conn, conv) or self.app.settings.lender_timezone
            texts = self._guard(
                texts, conv, lang, rules, received, turn, shown_verified, quiet_zone
            )
            if turn.handed_over and not any(a.kind == "hand_over" for a in step.actions):
                self._hand_over(conn, conv, turn.reason or "other", step.intent, received)
            handed = turn.handed_over or any(a.kind == "hand_over" for a in step.actions)
            self._send(conn, conv, texts, received, lang)
            conversations.save_state(
                conn,
                self.app.vault,
                conv,
                state=step.state,
                slots=step.slots,
                misses=step.misses,
                language=lang,
                now=received,
            )
            status = conversations.get_conversation(conn, self.app.vault, conv.id).status
        return Outgoing(
            conversation_id=conv.id,
            replies=tuple(texts),
            state=step.state,
            intent=step.intent,
            handed_over=handed or status in ("waiting", "agent"),
            options=tuple(Option(label, value) for label, value in step.options),
            language=lang,
        )

    # ------------------------------------------------------------------ parts

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.app.settings.lender_timezone)

    def _understand(self, s: Screened, today: date) -> Understanding | None:
        if s.empty or s.unreadable:
            return None
        try:
            return self.understander.understand(s.text, today=today)
        except Exception as exc:  # the model must never turn a message into an error page
            # the error's type only: its message or traceback may quote the borrower's words
            log.error("assistant: the model failed on a message: %s", type(exc).__name__)
            return None

    @staticmethod
    def _language(
        incoming: Incoming,
        conv: conversations.Conversation,
        u: Understanding | None,
        s: Screened,
    ) -> str:
        if u is not None and s.text and any(ch.isalpha() for ch in s.text):
            return u.language
        if incoming.language in ("zh", "en"):
            return incoming.language
        return conv.language if conv.language in ("zh", "en") else "zh"

    @staticmethod
    def _checks_identity(conv: conversations.Conversation, u: Understanding | None) -> bool:
        if conv.verified or u is None or not u.digits:
            return False
        return conv.state == "verify" or u.intent in dialogue.DEBT_INTENTS | {"verify_identity"}

    def _agent_holds(
        self,
        conn: Any,
        conv: conversations.Conversation,
        lang: str,
        u: Understanding | None,
        now: datetime,
    ) -> Outgoing:
        """An agent answers: nothing from the bot, but once, right after the agent
        joined, the borrower is told a person is there."""
        joined = conv.agent_joined_at.isoformat() if conv.agent_joined_at else "?"
        texts: list[str] = []
        slots = dict(conv.slots)
        if slots.get("agent_told") != joined:
            texts = [render(Reply("agent_joined"), lang)]
            slots["agent_told"] = joined
            self._send(conn, conv, texts, now, lang)
        conversations.save_state(
            conn,
            self.app.vault,
            conv,
            state=conv.state,
            slots=slots,
            misses=conv.misses,
            language=lang,
            now=now,
        )
        return Outgoing(
            conversation_id=conv.id,
            replies=tuple(texts),
            state=conv.state,
            intent=u.intent if u is not None else None,
            handed_over=True,
            agent_joined=True,
            language=lang,
        )

    def _hand_over(
        self,
        conn: Any,
        conv: conversations.Conversation,
        reason: str,
        intent: str | None,
        now: datetime,
    ) -> None:
        # a closed conversation cannot be handed over: nothing to do
        with contextlib.suppress(ValidationError):
            conversations.hand_over(conn, conv, reason=reason, now=now, intent=intent)

    def _act(
        self,
        conn: Any,
        conv: conversations.Conversation,
        action: Action,
        as_of: date,
        now: datetime,
        facts: BookFacts,
        turn: _Turn,
    ) -> list[Reply]:
        """Run one action through its use case; the replies it earns."""
        p = action.params
        if action.kind == "hand_over":
            self._hand_over(conn, conv, str(p["reason"]), p.get("intent"), now)
            return []
        if action.kind == "flag_vulnerable":
            conversations.flag_vulnerable(conn, conv, now=now)
            return []
        if action.kind == "mark_wrong_number":
            conversations.mark_wrong_number(conn, conv, now=now)
            return []
        borrower_id = conv.borrower_id
        if borrower_id is None or not conv.verified:  # the dialogue never asks: a guard
            turn.handed_over, turn.reason = True, "other"
            return [Reply("fallback")]
        _, days, hotline = facts.rights()
        try:
            with conn.begin_nested():
                result = self._use_case(conn, borrower_id, action, as_of, now)
        except Conflict:
            if action.conflict is not None:
                return [action.conflict]
            turn.handed_over, turn.reason = True, "other"
            return [Reply("refused")]
        except (ValidationError, NotFound):
            turn.handed_over, turn.reason = True, "other"
            return [Reply("refused")]
        if action.kind == "dispute":
            self._hand_over(conn, conv, "dispute", "dispute", now)
            turn.handed_over = True
        if action.kind == "complain":
            self._hand_over(conn, conv, "complaint", "complaint", now)
            turn.handed_over = True
        if action.done is None:
            return []
        params = dict(action.done.params)
        params.setdefault("days", days)
        params.setdefault("hotline", hotline)
        params.setdefault("ref", result)
        return [Reply(action.done.key, params)]

    def _use_case(
        self, conn: Any, borrower_id: int, action: Action, as_of: date, now: datetime
    ) -> Any:
        p = action.params
        if action.kind == "make_promise":
            return portal.make_promise(
                conn,
                borrower_id=borrower_id,
                loan_id=int(p["loan_id"]),
                amount=int(p["amount"]),
                promised_on=date.fromisoformat(str(p["promised_on"])),
                as_of=as_of,
                now=now,
            )
        if action.kind == "choose_plan":
            return portal.choose_plan(
                conn,
                borrower_id=borrower_id,
                loan_id=int(p["loan_id"]),
                option=str(p["option"]),
                as_of=as_of,
            ).id
        if action.kind == "dispute":
            return portal.dispute(
                conn,
                borrower_id=borrower_id,
                loan_id=int(p["loan_id"]),
                reason=str(p["reason"]),
                now=now,
            )
        if action.kind == "complain":
            return portal.complain(
                conn,
                self.app.vault,
                borrower_id=borrower_id,
                loan_id=p.get("loan_id"),
                category=str(p["category"]),
                description=str(p["description"]),
                now=now,
            )
        if action.kind == "opt_out":
            return portal.opt_out(conn, borrower_id=borrower_id, channel=str(p["channel"]), now=now)
        raise ValueError(action.kind)  # pragma: no cover - every kind is handled above

    def _guard(
        self,
        texts: list[str],
        conv: conversations.Conversation,
        lang: str,
        rules: CompiledRules,
        now: datetime,
        turn: _Turn,
        verified: bool,
        zone: str,
    ) -> list[str]:
        """Every reply through the guardrails (and the optional rephrasing, checked the
        same way); a failing reply becomes the fallback and the conversation goes to a
        person. Quiet hours are judged in ``zone``, the borrower's (the lender's for a
        writer on no file)."""

        def ok(text: str) -> bool:
            return check_reply(
                text,
                channel=conv.channel,
                lang=lang,
                verified=verified,
                rules=rules,
                at=now,
                timezone=zone,
                borrower_wrote_at=now,
            ).ok

        out: list[str] = []
        for text in texts:
            if not ok(text):
                log.warning("assistant: a reply failed the guardrails and was replaced")
                turn.handed_over, turn.reason = True, turn.reason or "other"
                text = render(Reply("fallback"), lang, verified=verified)
            elif self.llm is not None:
                better = self.llm.rephrase(text, lang)
                if better is not None and ok(better):
                    text = better
            out.append(text)
        return list(dict.fromkeys(out)) if len(set(out)) < len(out) else out

    def _send(
        self,
        conn: Any,
        conv: conversations.Conversation,
        texts: list[str],
        now: datetime,
        lang: str,
    ) -> None:
        """Record the assistant's turns; queue them for the dispatcher on sms/app."""
        for text in texts:
            outbox_id = None
            if conv.channel in _OUTBOUND and self.deliver:
                try:
                    outbox_id = conversations.queue_outbound(
                        conn,
                        self.app.vault,
                        conv,
                        with_opt_out(text, channel=conv.channel, lang=lang),
                        now,
                    )
                except ValidationError:
                    outbox_id = None
            conversations.record_turn(
                conn,
                self.app.vault,
                conv,
                role="assistant",
                text=text,
                now=now,
                outbox_id=outbox_id,
            )


# ---------------------------------------------------------------------------- building


def build(app: Any) -> Assistant:
    """The engine the app uses: the trained model (``settings.assistant_model_dir`` or
    ``<data_dir>/models/assistant``, trained first when missing or stale) and the optional
    rephrasing model (``settings.llm_url``)."""
    from forbear.assistant.nlu import model

    settings = app.settings
    model_dir = model.default_model_dir(settings.assistant_model_dir, Path(settings.data_dir))
    understander = model.load_or_train(model_dir)
    key = settings.llm_key.get_secret_value() if settings.llm_key is not None else None
    return Assistant(
        app, understander, llm=llm_from_settings(settings.llm_url, key, settings.llm_model)
    )


__all__ = ["Assistant", "Channel", "Incoming", "Option", "Outgoing", "build"]
