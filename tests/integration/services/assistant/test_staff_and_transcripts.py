"""The agents' side (queue, take over, reply, release, close) and reading transcripts
(issue 14, items 4 and 5): permissions, scope, the content filter, masking by role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, select

from forbear.domain.access import Actor, Role
from forbear.domain.compliance.content import ContentRejected
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.services import assistant as svc
from forbear.store.assistant import AssistantTurn
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.runs import OutboxMessage

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
DEBTOR_PHONE = "13812345678"
STRANGER_PHONE = "13700000000"
ALICE = Actor("web:alice", Role.AGENT)
BOB = Actor("web:bob", Role.AGENT)
LEGAL = Actor("web:leo", Role.LEGAL)
COMPLIANCE = Actor("web:cora", Role.COMPLIANCE_OFFICER)
ADMIN = Actor("web:root", Role.ADMIN)
AGENCY = Actor("web:agency", Role.AGENCY_AGENT, agency_id=77)  # nothing placed with it
BUCKETED = Actor("web:m3", Role.AGENT, scope_buckets=("M3",))


def _waiting(
    connection: Connection, vault: PiiVault, *, minutes: int = 0, **who: object
) -> svc.Conversation:
    at = NOW + timedelta(minutes=minutes)
    c = svc.open_conversation(connection, vault, now=at, **who)  # type: ignore[arg-type]
    svc.record_turn(connection, vault, c, role="borrower", text="我要找人工", now=at)
    svc.save_state(
        connection,
        vault,
        c,
        state="handoff",
        slots={"amount_fen": 30000},
        misses=0,
        language="zh",
        now=at,
    )
    return svc.hand_over(connection, c, reason="asked", now=at, intent="ask_human")


def test_the_queue_lists_waiting_and_taken_conversations_oldest_first(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    second = _waiting(connection, vault, minutes=5, channel="portal", borrower_id=book["C0001"])
    first = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    svc.open_conversation(connection, vault, channel="app", now=NOW, borrower_id=book["C0002"])
    entries = svc.queue(connection, ALICE, vault, NOW + timedelta(minutes=10))
    assert [e.conversation_id for e in entries] == [first.id, second.id]
    top = entries[0]
    assert (top.reason, top.intent, top.status, top.verified) == (
        "asked",
        "ask_human",
        "waiting",
        False,
    )
    assert top.loan_id == book["L0001"] and top.slots == {"amount_fen": 30000}
    assert entries[1].verified
    # legal sees the queue, not the form's values
    legal = svc.queue(connection, LEGAL, vault, NOW + timedelta(minutes=10))
    assert [e.slots for e in legal] == [{}, {}] and all(e.slots_hidden for e in legal)
    with pytest.raises(PermissionDenied):
        svc.queue(connection, ADMIN, vault, NOW)


def test_out_of_scope_conversations_are_invisible_and_answer_not_found(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    mine = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    stranger = _waiting(connection, vault, channel="sms", sender=STRANGER_PHONE)
    for actor in (AGENCY, BUCKETED):
        assert svc.queue(connection, actor, vault, NOW) == []
        for conversation_id in (mine.id, stranger.id):
            with pytest.raises(NotFound):
                svc.take_over(connection, actor, vault, conversation_id, NOW)
            with pytest.raises(NotFound):
                svc.transcript(connection, actor, vault, conversation_id, now=NOW)
    # the whole book's agents see the stranger's conversation too
    assert {e.conversation_id for e in svc.queue(connection, ALICE, vault, NOW)} == {
        mine.id,
        stranger.id,
    }


def test_one_agent_takes_over_and_the_borrower_is_told(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="portal", borrower_id=book["C0001"])
    taken = svc.take_over(connection, ALICE, vault, c.id, NOW)
    assert (taken.status, taken.agent, taken.agent_joined_at) == ("agent", "web:alice", NOW)
    with pytest.raises(Conflict):
        svc.take_over(connection, BOB, vault, c.id, NOW)
    turns = svc.borrower_transcript(connection, vault, book["C0001"], c.id)
    assert [t.role for t in turns] == ["borrower", "system"]
    assert turns[-1].text == "人工客服已加入对话。"
    with pytest.raises(PermissionDenied):
        svc.take_over(connection, LEGAL, vault, c.id, NOW)


def test_the_agents_reply_passes_the_content_filter_and_is_a_turn(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="portal", borrower_id=book["C0001"])
    with pytest.raises(Conflict):  # not taken yet
        svc.agent_reply(connection, ALICE, vault, c.id, "您好", NOW)
    svc.take_over(connection, ALICE, vault, c.id, NOW)
    with pytest.raises(Conflict):  # someone else's
        svc.agent_reply(connection, BOB, vault, c.id, "您好", NOW)
    before = connection.execute(select(AssistantTurn.id)).scalars().all()
    with pytest.raises(ContentRejected) as refused:
        svc.agent_reply(connection, ALICE, vault, c.id, "再不还钱就曝光你，让你坐牢", NOW)
    assert "CN.LANG.PROHIBITED" in {v.rule_id for v in refused.value.violations}
    with pytest.raises(ValidationError):
        svc.agent_reply(connection, ALICE, vault, c.id, "   ", NOW)
    assert connection.execute(select(AssistantTurn.id)).scalars().all() == before
    turn = svc.agent_reply(
        connection, ALICE, vault, c.id, "您好，我是客服小王，请问有什么可以帮您？", NOW
    )
    assert (turn.role, turn.author, turn.outbox_id) == ("agent", "web:alice", None)
    # a portal conversation travels no further than the page
    assert connection.execute(select(OutboxMessage.id)).first() is None
    seen = svc.borrower_transcript(connection, vault, book["C0001"], c.id)
    assert seen[-1].author == "agent"  # the borrower is not told the username


def test_an_sms_reply_of_an_agent_is_queued_for_the_dispatcher(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    svc.take_over(connection, ALICE, vault, c.id, NOW)
    turn = svc.agent_reply(connection, ALICE, vault, c.id, "您好，请问有什么可以帮您？", NOW)
    row = connection.execute(select(OutboxMessage).where(OutboxMessage.id == turn.outbox_id)).one()
    assert (row.origin, row.channel, row.actor, row.status) == (
        "assistant",
        "sms",
        "web:alice",
        "queued",
    )
    assert row.contact_point_id == c.contact_point_id and row.borrower_id == book["C0001"]
    assert "您好".encode() not in row.body_enc


def test_an_english_sms_reply_of_an_agent_carries_the_opt_out_line(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    svc.save_state(
        connection, vault, c, state="handoff", slots={}, misses=0, language="en", now=NOW
    )
    svc.take_over(connection, ALICE, vault, c.id, NOW)
    turn = svc.agent_reply(connection, ALICE, vault, c.id, "Hello, how can I help you?", NOW)
    assert turn.outbox_id is not None  # not refused by US.REGF.OPTOUT: the line is added
    assert turn.text == "Hello, how can I help you? Reply STOP to opt out of texts."


def test_release_gives_the_conversation_back_to_the_bot_and_close_ends_it(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="portal", borrower_id=book["C0001"])
    svc.take_over(connection, ALICE, vault, c.id, NOW)
    with pytest.raises(Conflict):
        svc.release(connection, BOB, vault, c.id, NOW)
    back = svc.release(connection, ALICE, vault, c.id, NOW)
    assert (back.status, back.agent, back.handoff_reason) == ("bot", None, None)
    with pytest.raises(Conflict):  # with the bot: nothing to release
        svc.release(connection, ALICE, vault, c.id, NOW)
    roles = [t.role for t in svc.borrower_transcript(connection, vault, book["C0001"], c.id)]
    assert roles == ["borrower", "system", "system"]
    closed = svc.close(connection, BOB, vault, c.id, NOW)
    assert closed.status == "closed" and closed.closed_at == NOW
    assert svc.close(connection, BOB, vault, c.id, NOW).closed_at == NOW  # no change
    with pytest.raises(ValidationError):
        svc.hand_over(connection, closed, reason="asked", now=NOW)
    actions = (
        connection.execute(select(AuditEvent.action).where(AuditEvent.subject_id == str(c.id)))
        .scalars()
        .all()
    )
    assert {"assistant.take_over", "assistant.release", "assistant.close"} <= set(actions)


def test_transcripts_are_masked_for_roles_that_do_not_read_correspondence(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    read = svc.transcript(connection, ALICE, vault, c.id, now=NOW)
    assert [t.text for t in read] == ["我要找人工"] and not read[0].text_hidden
    masked = svc.transcript(connection, LEGAL, vault, c.id, now=NOW)
    assert [(t.text, t.text_hidden, t.role) for t in masked] == [(None, True, "borrower")]
    with pytest.raises(PermissionDenied):
        svc.transcript(connection, ADMIN, vault, c.id, now=NOW)
    with pytest.raises(PermissionDenied):  # a purpose does not open the text for legal
        svc.transcript(connection, LEGAL, vault, c.id, now=NOW, purpose="litigation")


def test_the_compliance_console_reads_with_an_audited_purpose(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    read = svc.transcript(connection, COMPLIANCE, vault, c.id, now=NOW, purpose="complaint")
    assert read[0].text == "我要找人工"
    event = connection.execute(
        select(AuditEvent.actor, AuditEvent.payload).where(
            AuditEvent.action == "assistant.transcript.read"
        )
    ).one()
    assert event.actor == "web:cora"
    assert '"complaint"' in event.payload and "找人工" not in event.payload
    with pytest.raises(ValidationError):
        svc.transcript(connection, COMPLIANCE, vault, c.id, now=NOW, purpose="curiosity")


def test_the_borrower_sees_only_their_own_verified_conversations(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    portal = _waiting(connection, vault, channel="portal", borrower_id=book["C0001"])
    phone = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    with pytest.raises(NotFound):
        svc.borrower_transcript(connection, vault, book["C0002"], portal.id)
    with pytest.raises(NotFound):  # the debtor's phone, never verified
        svc.borrower_transcript(connection, vault, book["C0001"], phone.id)
    assert svc.borrower_conversations(connection, book["C0001"]) == [portal.id]
    svc.verify_identity(connection, vault, phone, id_digits="1233", now=NOW)
    assert svc.borrower_conversations(connection, book["C0001"]) == [phone.id, portal.id]


def test_the_same_reply_submitted_twice_is_answered_once(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _waiting(connection, vault, channel="sms", sender=DEBTOR_PHONE)
    svc.save_state(
        connection, vault, c, state="handoff", slots={}, misses=0, language="en", now=NOW
    )
    svc.take_over(connection, ALICE, vault, c.id, NOW)
    first = svc.agent_reply(connection, ALICE, vault, c.id, "Hello, how can I help?", NOW)
    again = svc.agent_reply(
        connection, ALICE, vault, c.id, "Hello, how can I help?", NOW + timedelta(seconds=5)
    )
    assert again.id == first.id  # the opt-out line added does not hide the repetition
    assert len(connection.execute(select(OutboxMessage.id)).all()) == 1
    later = svc.agent_reply(
        connection, ALICE, vault, c.id, "Hello, how can I help?", NOW + timedelta(minutes=3)
    )
    assert later.id != first.id  # said again later on purpose: sent
