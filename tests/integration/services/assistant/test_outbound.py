"""The assistant's answers by SMS: queued as outbox rows of origin ``assistant`` and sent by
the dispatcher as replies (issue 14, item 3): no caps, but the content filter, opt-outs,
do-not-contact holds and the quiet-hours rule CN.ASSISTANT.QUIET_DEMAND."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select

from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.domain.errors import ValidationError
from forbear.services import assistant as svc
from forbear.services.contacts.holds import add_hold
from forbear.services.outreach import claims, dispatch
from forbear.store.assistant import AssistantConversation
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault
from forbear.store.runs import OutboxMessage

DAY_AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
NIGHT_AT = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
DEBTOR_PHONE = "13812345678"
STRANGER_PHONE = "13700000000"
WORKER = "h3-test"


@pytest.fixture(scope="module")
def rules() -> CompiledRules:
    return default_rules()


def _answer(
    connection: Connection,
    vault: PiiVault,
    text: str,
    at: datetime,
    *,
    wrote_before: timedelta | None = timedelta(minutes=1),
    sender: str = DEBTOR_PHONE,
) -> int | None:
    """The engine's steps: the borrower's message (``wrote_before`` ``at``), the answer
    queued and recorded as a turn linked to its outbox row."""
    c = svc.open_conversation(connection, vault, channel="sms", now=at, sender=sender)
    if wrote_before is not None:
        svc.record_turn(connection, vault, c, role="borrower", text="在吗", now=at - wrote_before)
    outbox_id = svc.queue_outbound(connection, vault, c, text, at)
    svc.record_turn(connection, vault, c, role="assistant", text=text, now=at, outbox_id=outbox_id)
    return outbox_id


def _prepare(
    connection: Connection, vault: PiiVault, rules: CompiledRules, at: datetime
) -> dispatch.Prepared:
    batch = claims.claim(connection, WORKER, at, 50)
    return dispatch.prepare(
        connection,
        vault,
        rules,
        batch,
        worker_id=WORKER,
        now=at,
        today=date(2026, 12, 7),
        public_url="https://example.test",
    )


def _row(connection: Connection, outbox_id: int | None) -> Any:
    return connection.execute(select(OutboxMessage).where(OutboxMessage.id == outbox_id)).one()


def test_only_travelling_conversations_are_queued(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    portal = svc.open_conversation(
        connection, vault, channel="portal", now=DAY_AT, borrower_id=book["C0001"]
    )
    assert svc.queue_outbound(connection, vault, portal, "您好", DAY_AT) is None
    debtor = svc.open_conversation(
        connection, vault, channel="sms", now=DAY_AT, sender=DEBTOR_PHONE
    )
    with pytest.raises(ValidationError):
        svc.queue_outbound(connection, vault, debtor, "长" * 501, DAY_AT)
    with pytest.raises(ValidationError):
        svc.queue_outbound(connection, vault, debtor, " ", DAY_AT)
    assert connection.execute(select(OutboxMessage.id)).first() is None
    outbox_id = svc.queue_outbound(connection, vault, debtor, "您好，请问有什么可以帮您？", DAY_AT)
    row = _row(connection, outbox_id)
    assert (row.origin, row.channel, row.due_at, row.contact_point_id) == (
        "assistant",
        "sms",
        DAY_AT,
        debtor.contact_point_id,
    )
    assert dispatch.unseal(vault, row.body_enc).body == "您好，请问有什么可以帮您？"


def test_an_answer_is_sent_as_a_reply_without_a_contact_attempt(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    outbox_id = _answer(connection, vault, "您本月应还1,100.16元，可在App内还款。", DAY_AT)
    prepared = _prepare(connection, vault, rules, DAY_AT + timedelta(seconds=5))
    assert [r.outbox_id for r in prepared.ready] == [outbox_id]
    ready = prepared.ready[0]
    assert ready.to == DEBTOR_PHONE and ready.origin == "assistant"
    assert ready.rendered.body == "您本月应还1,100.16元，可在App内还款。"
    assert ready.contact_attempt_id is None
    assert connection.execute(select(ContactAttempt.id)).first() is None  # no cap counts it
    finished = dispatch.finish(
        connection,
        [(ready, dispatch.SendResult("accepted", "test", "ref-1"))],
        worker_id=WORKER,
        now=DAY_AT + timedelta(seconds=6),
    )
    assert finished is not None
    row = _row(connection, outbox_id)
    assert (row.status, row.provider_ref, row.contact_attempt_id) == ("sent", "ref-1", None)


def test_a_sender_on_no_file_is_answered_by_the_same_road_to_the_number_it_wrote_from(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    text = "您好，我是智能客服，请问有什么可以帮您？"
    outbox_id = _answer(connection, vault, text, DAY_AT, sender=STRANGER_PHONE)
    row = _row(connection, outbox_id)
    assert (row.origin, row.channel, row.status) == ("assistant", "sms", "queued")
    assert (row.borrower_id, row.loan_id, row.contact_point_id) == (None, None, None)
    assert STRANGER_PHONE.encode() not in row.to_enc  # the number is sealed
    stranger = svc.open_conversation(
        connection, vault, channel="sms", now=DAY_AT, sender=STRANGER_PHONE
    )
    sealed = connection.execute(
        select(AssistantConversation.sender_enc).where(AssistantConversation.id == stranger.id)
    ).scalar_one()
    assert sealed is not None and STRANGER_PHONE.encode() not in sealed
    prepared = _prepare(connection, vault, rules, DAY_AT + timedelta(seconds=5))
    assert [(r.outbox_id, r.to, r.borrower_id) for r in prepared.ready] == [
        (outbox_id, STRANGER_PHONE, None)
    ]
    ready = prepared.ready[0]
    assert ready.rendered.body == text and (ready.borrower_ref, ready.loan_ref) == ("", "")
    dispatch.finish(
        connection,
        [(ready, dispatch.SendResult("accepted", "test", "ref-9"))],
        worker_id=WORKER,
        now=DAY_AT + timedelta(seconds=6),
    )
    assert _row(connection, outbox_id).status == "sent"
    # the debtor's own number keeps no sealed sender: its contact point is the address
    debtor = svc.open_conversation(
        connection, vault, channel="sms", now=DAY_AT, sender=DEBTOR_PHONE
    )
    assert (
        connection.execute(
            select(AssistantConversation.sender_enc).where(AssistantConversation.id == debtor.id)
        ).scalar_one()
        is None
    )


def test_a_strangers_answer_refused_by_the_content_filter_is_cancelled(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    outbox_id = _answer(connection, vault, "您欠款5,000元已逾期", DAY_AT, sender=STRANGER_PHONE)
    prepared = _prepare(connection, vault, rules, DAY_AT + timedelta(seconds=5))
    assert prepared.ready == [] and _row(connection, outbox_id).status == "cancelled"


def test_an_opt_out_of_sms_or_a_do_not_contact_hold_stops_it(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    add_hold(
        connection,
        loan_id=book["L0001"],
        kind="opt_out",
        actor="test",
        since=DAY_AT - timedelta(days=1),
        channel="email",
        all_loans=True,
    )
    first = _answer(connection, vault, "好的，已为您记录。", DAY_AT)
    assert [r.outbox_id for r in _prepare(connection, vault, rules, DAY_AT).ready] == [first]
    add_hold(
        connection,
        loan_id=book["L0001"],
        kind="opt_out",
        actor="test",
        since=DAY_AT,
        channel="sms",
        all_loans=True,
    )
    second = _answer(connection, vault, "好的，已为您记录。", DAY_AT + timedelta(minutes=1))
    prepared = _prepare(connection, vault, rules, DAY_AT + timedelta(minutes=1))
    assert prepared.ready == []
    row = _row(connection, second)
    assert row.status == "cancelled"
    assert json.loads(row.reason_rules) == ["OUTBOX.ASSISTANT.HOLD:opt_out"]


def test_a_do_not_contact_hold_on_the_point_stops_it(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    c = svc.open_conversation(connection, vault, channel="sms", now=DAY_AT, sender=DEBTOR_PHONE)
    assert svc.mark_wrong_number(connection, c, now=DAY_AT) is not None
    outbox_id = _answer(connection, vault, "好的。", DAY_AT + timedelta(minutes=1))
    assert _prepare(connection, vault, rules, DAY_AT + timedelta(minutes=1)).ready == []
    assert json.loads(_row(connection, outbox_id).reason_rules) == [
        "OUTBOX.ASSISTANT.HOLD:do_not_contact"
    ]


def test_the_content_filter_stops_a_text_that_slipped_through(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    outbox_id = _answer(connection, vault, "再不还钱就曝光你，让你坐牢", DAY_AT)
    assert _prepare(connection, vault, rules, DAY_AT).ready == []
    row = _row(connection, outbox_id)
    assert row.status == "cancelled" and "CN.LANG.PROHIBITED" in json.loads(row.reason_rules)


def test_in_quiet_hours_only_a_prompt_answer_that_demands_nothing_goes(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    answer = _answer(connection, vault, "您本月应还1,100.16元。", NIGHT_AT)
    demand = _answer(connection, vault, "请尽快还款。", NIGHT_AT)
    prepared = _prepare(connection, vault, rules, NIGHT_AT + timedelta(seconds=5))
    assert [r.outbox_id for r in prepared.ready] == [answer]
    assert json.loads(_row(connection, demand).reason_rules) == ["CN.ASSISTANT.QUIET_DEMAND"]


def test_in_quiet_hours_an_answer_long_after_the_borrowers_message_is_refused(
    connection: Connection, vault: PiiVault, book: dict[str, int], rules: CompiledRules
) -> None:
    late = _answer(
        connection, vault, "您好，还有什么可以帮您？", NIGHT_AT, wrote_before=timedelta(hours=1)
    )
    assert _prepare(connection, vault, rules, NIGHT_AT).ready == []
    row = _row(connection, late)
    assert row.status == "cancelled"  # not put off to the morning
    assert json.loads(row.reason_rules) == ["CN.ASSISTANT.QUIET_DEMAND"]
