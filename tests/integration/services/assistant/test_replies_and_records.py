"""SMS replies routed to the assistant (with the agents' safety net), and the transcripts
as records: encrypted at rest, rotated with the key, exported to the borrower, purged by
retention (issue 14, items 3 and 7)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, func, select, update

from forbear.domain.access import Actor, Role
from forbear.services import assistant as svc
from forbear.services import keys, retention
from forbear.services.assistant import retention as kept
from forbear.services.outreach import replies
from forbear.services.outreach.callbacks import CallbackKind, SignedCallback, accept
from forbear.services.privacy import export_borrower
from forbear.store.assistant import AssistantConversation, AssistantTurn
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan
from forbear.store.outreach import InboundMessage
from forbear.store.runs import OutboxMessage

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
DEBTOR_PHONE = "13812345678"
THIRD_PARTY_PHONE = "13987654321"
STRANGER_PHONE = "13700000000"
AGENT = Actor("web:alice", Role.AGENT)


def _reply(
    connection: Connection,
    vault: PiiVault,
    text: str,
    at: datetime,
    n: int,
    *,
    assistant_sms: bool,
    channel: str = "sms",
    sender: str = DEBTOR_PHONE,
) -> replies.ReplyReceived:
    incoming = replies.IncomingReply(channel=channel, sender=sender, text=text, event_id=f"a-{n}")
    callback = SignedCallback("sms-cn", CallbackKind.REPLY, f"{n:064x}", at)
    accepted = accept(connection, callback, replies.event_key(incoming, vault), now=at)
    return replies.receive_reply(
        connection,
        accepted,
        incoming,
        provider="sms-cn",
        vault=vault,
        now=at,
        assistant_sms=assistant_sms,
    )


def _inbox(connection: Connection, vault: PiiVault, at: datetime) -> list[int]:
    found = replies.list_unhandled(connection, AGENT, vault=vault, now=at, today=at.date())
    return [r.id for r in found]


def test_sms_replies_go_to_the_assistant_only_when_asked(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    off = _reply(connection, vault, "请问我还欠多少", NOW, 1, assistant_sms=False)
    on = _reply(connection, vault, "请问我还欠多少", NOW, 2, assistant_sms=True)
    stop = _reply(connection, vault, "TD", NOW, 3, assistant_sms=True)
    assert off.routed_to == replies.RoutedTo.AGENT
    assert on.routed_to == replies.RoutedTo.ASSISTANT
    assert stop.routed_to == replies.RoutedTo.NONE and stop.hold_ids  # opt-outs as before
    stored = connection.execute(
        select(InboundMessage.routed_to).where(InboundMessage.id == on.reply_id)
    ).scalar_one()
    assert stored == "assistant"


def test_an_assistant_reply_reaches_the_agents_only_if_left_unhandled(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    handled = _reply(connection, vault, "我想分期", NOW, 10, assistant_sms=True)
    dropped = _reply(connection, vault, "我想分期", NOW, 11, assistant_sms=True)
    assert handled.reply_id is not None and dropped.reply_id is not None
    assert _inbox(connection, vault, NOW + timedelta(minutes=5)) == []
    c = svc.open_conversation(connection, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
    assert replies.mark_handled_by_assistant(connection, handled.reply_id, c.id, now=NOW)
    assert not replies.mark_handled_by_assistant(connection, handled.reply_id, c.id, now=NOW)
    # the engine failed on the other one: after the grace period a person sees it
    later = NOW + replies.ASSISTANT_GRACE + timedelta(seconds=1)
    assert _inbox(connection, vault, later) == [dropped.reply_id]
    agents = _reply(connection, vault, "hi", NOW, 12, assistant_sms=False)
    assert not replies.mark_handled_by_assistant(connection, agents.reply_id or 0, c.id, now=NOW)


def test_transcripts_and_slots_hold_no_clear_text_and_rotate_with_the_key(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = svc.open_conversation(
        connection, vault, channel="portal", now=NOW, borrower_id=book["C0001"]
    )
    svc.record_turn(connection, vault, c, role="borrower", text="我丈夫住院了，下月再还", now=NOW)
    svc.save_state(
        connection, vault, c, state="s", slots={"reason": "住院"}, misses=0, language="zh", now=NOW
    )
    assert keys.encrypted_columns("assistant_turns") == {"body_enc": "assistant.turn"}
    assert keys.encrypted_columns("assistant_conversations") == {
        "slots_enc": "assistant.slots",
        "sender_enc": "assistant.sender",
    }
    for blob in connection.execute(select(AssistantTurn.body_enc)).scalars():
        assert "住院".encode() not in blob
    slots = connection.execute(select(AssistantConversation.slots_enc)).scalar_one()
    assert "住院".encode() not in slots
    old_key, new_key = bytes(range(32)), bytes(range(1, 33))
    rotated = PiiVault(new_key, key_version=2, previous_keys={1: old_key}, index_key=old_key)
    report = keys.reencrypt(connection, rotated, actor="ops", batch_size=2)
    assert report.tables["assistant_turns"].values_reencrypted == 1
    assert report.tables["assistant_conversations"].values_reencrypted == 1
    new_only = PiiVault(new_key, key_version=2, index_key=old_key)
    assert [t.text for t in svc.turns_of(connection, new_only, c.id)] == ["我丈夫住院了，下月再还"]


def test_the_borrowers_export_holds_their_own_transcripts_only(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    own = svc.open_conversation(
        connection, vault, channel="portal", now=NOW, borrower_id=book["C0001"]
    )
    svc.record_turn(connection, vault, own, role="borrower", text="我想分三期", now=NOW)
    third = svc.open_conversation(
        connection, vault, channel="sms", now=NOW, sender=THIRD_PARTY_PHONE
    )
    svc.record_turn(connection, vault, third, role="borrower", text="我是他妻子", now=NOW)
    exported = export_borrower(
        connection,
        vault,
        actor="web:cora",
        role="compliance_officer",
        borrower_ref="C0001",
        purpose="privacy_request",
    )
    assert [c["id"] for c in exported["assistant_conversations"]] == [own.id]
    assert [t["body"] for t in exported["assistant_turns"]] == ["我想分三期"]
    assert "sender_bidx" not in exported["assistant_conversations"][0]
    assert "我是他妻子" not in json.dumps(exported, ensure_ascii=False, default=str)


def test_retention_keeps_the_borrowers_and_forgets_strangers_and_slots(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    old = NOW - timedelta(days=200)
    own = svc.open_conversation(connection, vault, channel="sms", now=old, sender=DEBTOR_PHONE)
    svc.save_state(
        connection, vault, own, state="s", slots={"n": 1}, misses=0, language="zh", now=old
    )
    stranger = svc.open_conversation(
        connection, vault, channel="sms", now=old, sender=STRANGER_PHONE
    )
    svc.record_turn(connection, vault, stranger, role="borrower", text="你是谁", now=old)
    answered = svc.queue_outbound(connection, vault, stranger, "您好", old)  # to the stranger
    recent = svc.open_conversation(connection, vault, channel="sms", now=NOW, sender="13700000001")
    kept_answer = svc.queue_outbound(connection, vault, recent, "您好", NOW)
    third = svc.open_conversation(
        connection, vault, channel="sms", now=NOW, sender=THIRD_PARTY_PHONE
    )
    counts = kept.expire(connection, NOW)
    # 1 gone, 1 cleared; the old answer to the stranger's number gone with its conversation
    assert counts == {"assistant_conversations": 2, "assistant_turns": 1, "outbox": 1}
    left = connection.execute(select(AssistantConversation.id)).scalars().all()
    assert sorted(left) == sorted([own.id, third.id, recent.id])
    outbox = connection.execute(select(OutboxMessage.id)).scalars().all()
    assert answered is not None and outbox == [kept_answer]
    assert svc.get_conversation(connection, vault, own.id).slots == {}
    # the borrower's purge takes the rest, turns and all
    svc.record_turn(connection, vault, own, role="borrower", text="好", now=NOW)
    erased = kept.erase_borrowers(connection, [book["C0001"]])
    assert erased == {"assistant_conversations": 2, "assistant_turns": 1}
    assert connection.execute(select(func.count()).select_from(AssistantTurn)).scalar_one() == 0


def test_the_retention_purge_erases_an_anonymised_borrowers_transcripts(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    gone = svc.open_conversation(
        connection, vault, channel="portal", now=NOW, borrower_id=book["C0001"]
    )
    svc.record_turn(connection, vault, gone, role="borrower", text="我想结清", now=NOW)
    stays = svc.open_conversation(
        connection, vault, channel="portal", now=NOW, borrower_id=book["C0002"]
    )
    svc.record_turn(connection, vault, stays, role="borrower", text="还在还款中", now=NOW)
    # C0001's loans written off long ago; C0002's loan still open
    connection.execute(
        update(Loan)
        .where(Loan.id.in_([book["L0001"], book["L0002"]]))
        .values(written_off_on=date(2026, 2, 1))
    )
    report = retention.purge(connection, vault, as_of=date(2035, 1, 1), actor="ops", now=NOW)
    assert report.borrowers_anonymised == 1
    assert report.counts["assistant_conversations"] == 1
    assert report.counts["assistant_turns"] == 1
    left = connection.execute(select(AssistantTurn.conversation_id)).scalars().all()
    assert left == [stays.id]
