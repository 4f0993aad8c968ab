"""Conversations end to end (issue 14, evidence), on SQLite and PostgreSQL: the real engine
over a committed copy of the small book, the trained model, and what staff see through the
web API (FastAPI's TestClient over the same database).

(a) a promise taken by SMS at 23:30 Shanghai time from the number on file, after the ID
    number's last four digits, is on the loan's promises in the agents' API;
(b) a plan chosen through the portal chat, its schedule (amounts and days) read back, is
    the loan's plan in force;
(c) a dispute through the chat places the dispute hold, visible on the account;
(d) "不是我的号码" from a number on file holds that contact point: the gate stops the next
    SMS to it; from a stranger it changes nothing and gets the same answer;
(e) bad input gets a sensible answer, never an exception; an unknown number is answered
    exactly as the number on file before verification.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text as sql
from tests.integration.assistant.conftest import (
    TODAY,
    AssistantBook,
    BuiltBook,
    Person,
    date_forms,
    fresh_forbear,
    leaks,
    make_assistant,
    money_forms,
    secrets_of,
)

from forbear.bootstrap import Forbear

SHANGHAI_2330 = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
AFTERNOON = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
YES = ("确认", "是", "对", "好", "yes", "confirm", "ok")
_strangers = itertools.count(1)


def stranger() -> str:
    return f"1360000{next(_strangers):04d}"


@dataclass
class Chat:
    """One person's conversation with the engine, message after message."""

    assistant: Any
    channel: str
    at: datetime
    borrower_id: int | None = None
    sender: str | None = None
    conversation_id: int | None = None
    log: list[tuple[str, Any]] = field(default_factory=list)

    def say(self, text: str) -> Any:
        from forbear.assistant.engine import Incoming

        self.at += timedelta(seconds=20)
        out = self.assistant.handle(
            Incoming(
                channel=self.channel,  # type: ignore[arg-type]
                text=text,
                received_at=self.at,
                borrower_id=self.borrower_id,
                sender=self.sender,
                conversation_id=self.conversation_id if self.channel != "sms" else None,
            )
        )
        assert out.conversation_id
        self.conversation_id = out.conversation_id
        assert isinstance(out.replies, tuple)
        assert all(isinstance(r, str) for r in out.replies)
        self.log.append((text, out))
        return out

    @property
    def replies(self) -> list[str]:
        return [r for _, out in self.log for r in out.replies]

    def transcript(self) -> str:
        lines = []
        for text, out in self.log:
            lines.append(f"> {text[:80]!r}")
            lines += [f"< {r}" for r in out.replies]
            lines.append(
                f"  [{out.intent} -> {out.state}; options {[o.value for o in out.options]}]"
            )
        return "\n".join(lines)

    def confirm_until_done(self, out: Any, *, turns: int = 4) -> Any:
        """Answer yes (the quick reply that says so, else 确认) while the engine asks to
        confirm something it read back."""
        for _ in range(turns):
            if "confirm" not in out.state:
                return out
            option = next(
                (o for o in out.options if any(y in (o.label + o.value).lower() for y in YES)),
                None,
            )
            out = self.say(option.value if option else "确认")
        return out


@dataclass
class World:
    forbear: Forbear
    book: AssistantBook
    assistant: Any
    token: str

    def situation(self, person: Person) -> Any:
        """The loan's row of the borrower situation the agent's page shows
        (:func:`forbear.services.situation.of_loan`), as of the end of the afternoon."""
        from forbear.services import situation

        with self.forbear.reading() as conn:
            _, row = situation.of_loan(conn, person.loan_id, TODAY, AFTERNOON + timedelta(hours=2))
        assert row is not None
        return row

    def api(self, path: str) -> Any:
        from forbear.web import create_app

        class Clock:
            def __call__(self) -> datetime:
                return AFTERNOON + timedelta(hours=12)

        app = create_app(self.forbear, clock=Clock())
        with TestClient(
            app, base_url="https://testserver", headers={"Authorization": f"Bearer {self.token}"}
        ) as client:
            answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def world(assistant_book: BuiltBook, understander: Any, tmp_path: Path) -> Iterator[World]:
    from forbear.services import staff

    with fresh_forbear(assistant_book, tmp_path) as forbear:
        with forbear.transaction() as conn:
            staff.add_staff(
                conn,
                username="super.assistant",
                display_name="测试 主管",
                role="supervisor",
                actor="test",
                now=AFTERNOON - timedelta(days=3),
            )
            token = staff.issue_api_token(
                conn,
                "super.assistant",
                name="assistant test",
                actor="test",
                now=AFTERNOON - timedelta(days=3),
            ).token
        yield World(forbear, assistant_book.book, make_assistant(forbear, understander), token)


def verify_by_sms(world: World, chat: Chat, person: Person, first: str) -> Any:
    """``first`` from the number on file; the engine asks for the second factor before
    anything about the debt (and says nothing of it); the last four digits answer it."""
    out = chat.say(first)
    assert out.state == "verify", chat.transcript()
    assert not leaks(chat.replies, secrets_of(world.forbear, person), first), chat.transcript()
    return chat.say(f"身份证后四位 {person.id_last4}")


def said_any(replies: list[str], forms: set[str]) -> bool:
    text = "\n".join(replies)
    return any(re.search(r"(?<![\d.])" + re.escape(f) + r"(?!\d)", text) for f in forms)


# ------------------------------------------------------------------ (a) promise by SMS


def test_a_promise_by_sms_at_2330_is_on_the_agents_page(world: World) -> None:
    person = world.book.person(0)
    chat = Chat(world.assistant, "sms", SHANGHAI_2330 - timedelta(minutes=1), sender=person.phone)
    out = verify_by_sms(world, chat, person, "我下周五还2000块")
    out = chat.confirm_until_done(out)
    promises = world.api(f"/api/v1/accounts/{person.loan_id}/promises")["items"]
    assert len(promises) == 1, chat.transcript()
    promise = promises[0]
    assert promise["status"] == "open"
    amount = promise["amount"]
    fen = amount["fen"] if isinstance(amount, dict) else int(amount)
    assert fen == 200_000, promise
    promised_on = date.fromisoformat(promise["promised_on"])
    # next Friday from Thursday 2026-11-26 (Shanghai), read back before it was taken
    assert promised_on in (date(2026, 11, 27), date(2026, 12, 4)), promise
    assert said_any(chat.replies, money_forms(200_000) | {"2000"}), chat.transcript()
    assert said_any(chat.replies, date_forms(promised_on)), chat.transcript()
    assert not out.handed_over


# ------------------------------------------------------------------ (b) plan through chat


def test_a_plan_chosen_in_the_portal_chat_is_read_back_and_in_force(world: World) -> None:
    from forbear.services import plans
    from forbear.services import portal as portal_service

    person = world.book.person(1)
    with world.forbear.reading() as conn:
        offered, _ = portal_service.plan_options(conn, person.borrower_id, person.loan_id, TODAY)
    assert any(o.plan_type == "restructure" for o in offered)
    chat = Chat(world.assistant, "portal", AFTERNOON, borrower_id=person.borrower_id)
    out = chat.say("我想分期还款")
    for _ in range(3):  # the engine may ask which loan, then which plan
        if out.state == "plan_choose" or not out.options:
            break
        out = chat.say(out.options[0].value)
    assert out.state == "plan_choose", chat.transcript()
    choice = next(
        (o for o in out.options if "restructure-6" in o.value or "6" in o.label), out.options[-1]
    )
    out = chat.say(choice.value)
    assert out.state == "plan_confirm", chat.transcript()
    read_back = "\n".join(out.replies)
    out = chat.confirm_until_done(out)
    with world.forbear.reading() as conn:
        owed = portal_service.owed(conn, person.borrower_id, person.loan_id, TODAY)
        assert owed.active_plan_id is not None, chat.transcript()
        lines = [ln for ln in plans.plan_lines(conn, owed.active_plan_id) if ln.due_date > TODAY]
    assert len(lines) >= 2
    # the schedule in force was read back before it was confirmed: every instalment's day
    # and amount, one after the other (a contract instalment the plan keeps is one of them)
    rows = [x for x in read_back.splitlines() if x.strip()]
    for line in lines:
        found = [
            x
            for x in rows
            if said_any([x], date_forms(line.due_date)) and said_any([x], money_forms(line.total))
        ]
        assert found, (f"{line.due_date} {line.total / 100:,.2f} not read back", read_back)
    # the agents' view of the loan: the plan governs it
    assert world.situation(person)["active_plan"] is True


# ------------------------------------------------------------------ (c) dispute


def test_a_dispute_through_the_chat_places_the_hold(world: World) -> None:
    person = world.book.person(2)
    chat = Chat(world.assistant, "portal", AFTERNOON, borrower_id=person.borrower_id)
    out = chat.say("这个金额不对，我要提出异议")
    for _ in range(4):
        if out.state in ("start", "handed_over") and "dispute" not in out.state:
            break
        if out.state == "dispute_reason":
            reason = next((o for o in out.options if "amount" in o.value), None)
            out = chat.say(reason.value if reason else "金额不对")
        elif "confirm" in out.state:
            out = chat.confirm_until_done(out)
        elif out.options:
            out = chat.say(out.options[0].value)
        else:
            break
    detail = world.api(f"/api/v1/accounts/{person.loan_id}")
    kinds = [h["kind"] for h in detail["open_holds"]]
    assert "dispute" in kinds, chat.transcript() + f"\n{detail['open_holds']}"
    assert world.situation(person)["disputed"] is True


# ------------------------------------------------------------------ (d) wrong number


def _sms_gate(forbear: Forbear, person: Person, at: datetime) -> Any:
    from forbear.domain.compliance.config import default_rules
    from forbear.services.contacts import evaluate_contact

    with forbear.reading() as conn:
        return evaluate_contact(
            conn,
            loan_id=person.loan_id,
            channel="sms",
            at=at,
            rules=default_rules(),
            contact_point_id=person.point_id,
        )


def test_not_my_number_holds_the_point_and_the_gate_stops_the_next_sms(world: World) -> None:
    person = world.book.person(3)
    next_morning = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    before = _sms_gate(world.forbear, person, next_morning)
    assert before.allowed, before.blocked_by
    # a stranger says the same: nothing is marked, and the answer is the same
    other = Chat(world.assistant, "sms", AFTERNOON, sender=stranger())
    other.say("不是我的号码")
    chat = Chat(world.assistant, "sms", AFTERNOON, sender=person.phone)
    chat.say("不是我的号码")
    assert chat.replies and chat.replies == other.replies, chat.transcript() + other.transcript()
    assert not leaks(chat.replies, secrets_of(world.forbear, person), "不是我的号码")
    after = _sms_gate(world.forbear, person, next_morning)
    assert not after.allowed, chat.transcript()
    assert any("HOLD" in r.upper() or "CONTACT" in r.upper() for r in after.blocked_by)
    # the agents see the hold on the contact point, not on the debt
    detail = world.api(f"/api/v1/accounts/{person.loan_id}")
    assert "do_not_contact" in [h["kind"] for h in detail["open_holds"]], detail["open_holds"]
    assert world.situation(person)["disputed"] is False


# ------------------------------------------------------------------ (e) bad input

BAD_INPUTS = {
    "empty": "",
    "blank": "   \n\t ",
    "very_long": "我想问一下还款的事情。" * 1000,  # 10,000 characters
    "binary": bytes(range(256)).decode("latin-1"),
    "nul_and_escapes": "\x00\x07\x1b[31m还款\x1b[0m\x00",
    "emoji_only": "😭😭🙏💸",
    "mixed_script": "Привет 我想 pay 分期 ありがとう 🙏 안녕",
    "surrogate_like": "\ufffd\ufeff\u200b\u202e还款",
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_a_sensible_answer(world: World, name: str) -> None:
    person = world.book.person(4)
    text = BAD_INPUTS[name]
    for chat in (
        Chat(world.assistant, "portal", AFTERNOON, borrower_id=person.borrower_id),
        Chat(world.assistant, "sms", AFTERNOON, sender=stranger()),
    ):
        out = chat.say(text)
        print(f"\n{name} ({chat.channel}):\n{chat.transcript()}")  # pytest -s
        assert out.replies, chat.transcript()
        assert all(r.strip() and len(r) <= 2000 for r in out.replies), chat.transcript()
        assert not any("Traceback" in r or "Error" in r for r in out.replies)
    if name == "very_long":
        # cut, politely: the answer says so, and the next message is answered as usual
        assert any(k in r for r in chat.replies for k in ("长", "截", "long", "cut", "字")), (
            chat.transcript()
        )


def test_an_unknown_number_is_answered_as_the_number_on_file_before_verification(
    world: World,
) -> None:
    person = world.book.person(5)
    messages = ["你好", "我还欠多少钱", "我想分期", "我15号还2000", "what is my balance"]
    known = Chat(world.assistant, "sms", AFTERNOON, sender=person.phone)
    unknown = Chat(world.assistant, "sms", AFTERNOON, sender=stranger())
    for text in messages:
        known.say(text)
        unknown.say(text)
    assert known.replies == unknown.replies, known.transcript() + "\n---\n" + unknown.transcript()
    assert [o.state for _, o in known.log] == [o.state for _, o in unknown.log]
    assert not leaks(known.replies, secrets_of(world.forbear, person), "\n".join(messages))
    # and by the same road: as many answers queued for the stranger's number as for the
    # borrower's (a stranger left unanswered would learn the number is on no file)
    with world.forbear.reading() as conn:
        queued = dict(
            conn.execute(
                sql(
                    "SELECT borrower_id IS NULL, count(*) FROM outbox WHERE origin = 'assistant' "
                    "AND (borrower_id IS NULL OR borrower_id = :b) GROUP BY borrower_id IS NULL"
                ),
                {"b": person.borrower_id},
            ).all()
        )
    assert queued.get(True, 0) == queued.get(False, 0) > 0
