"""The identity check, the handoff, the vulnerability hold and "not my number" (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, select

from forbear.domain.access import Actor, Role
from forbear.domain.compliance.config import default_rules
from forbear.domain.errors import ValidationError
from forbear.services import assistant as svc
from forbear.services.contacts.gate import request_contact
from forbear.store.audit import AuditEvent
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Borrower

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DEBTOR_PHONE = "13812345678"  # C0001 (tests/factories.py), ID 410105199001011233
THIRD_PARTY_PHONE = "13987654321"  # C0001's emergency contact
STRANGER_PHONE = "13700000000"


def _sms(connection: Connection, vault: PiiVault, sender: str) -> svc.Conversation:
    return svc.open_conversation(connection, vault, channel="sms", now=NOW, sender=sender)


@pytest.mark.parametrize("digits", ["1233", "011233", " 1233 "])
def test_the_debtor_passes_with_the_last_digits_of_the_id_number(
    connection: Connection, vault: PiiVault, book: dict[str, int], digits: str
) -> None:
    c = _sms(connection, vault, DEBTOR_PHONE)
    done = svc.verify_identity(connection, vault, c, id_digits=digits, now=NOW)
    assert done.ok and done.conversation.verified
    assert done.conversation.verified_by == "id_last4"
    # verified once: asked again, ok without counting anything
    again = svc.verify_identity(connection, vault, done.conversation, id_digits="0000", now=NOW)
    assert again.ok and again.conversation.verify_failures == 0


def test_the_trailing_x_of_an_id_number_matches_in_either_case(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    connection.execute(
        Borrower.__table__.update()
        .where(Borrower.id == book["C0001"])
        .values(
            national_id_enc=vault.encrypt(
                "11010519491231002X", context=Contexts.BORROWER_NATIONAL_ID
            )
        )
    )
    c = _sms(connection, vault, DEBTOR_PHONE)
    assert svc.verify_identity(connection, vault, c, id_digits="002x", now=NOW).ok


def test_three_wrong_answers_lock_the_check_for_a_day(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _sms(connection, vault, DEBTOR_PHONE)
    outcomes = [
        svc.verify_identity(connection, vault, c, id_digits=d, now=NOW + timedelta(minutes=i))
        for i, d in enumerate(["0000", "1111", "2222", "1233"])
    ]
    assert [o.outcome.value for o in outcomes] == ["wrong", "wrong", "locked", "locked"]
    assert [o.failures_left for o in outcomes] == [2, 1, 0, 0]
    assert not outcomes[-1].conversation.verified  # the right answer, too late
    later = NOW + timedelta(hours=24, minutes=1)
    fresh = svc.verify_identity(connection, vault, c, id_digits="1233", now=later)
    assert fresh.ok


@pytest.mark.parametrize("sender", [THIRD_PARTY_PHONE, STRANGER_PHONE])
def test_a_third_party_or_a_stranger_gets_wrong_exactly_like_a_mismatch(
    connection: Connection, vault: PiiVault, book: dict[str, int], sender: str
) -> None:
    other = _sms(connection, vault, sender)
    debtor = _sms(connection, vault, DEBTOR_PHONE)
    # even the debtor's true digits do not verify a number that is not the debtor's
    theirs = [
        svc.verify_identity(connection, vault, other, id_digits=d, now=NOW)
        for d in ["1233", "0000", "1233", "1233"]
    ]
    mismatch = [
        svc.verify_identity(connection, vault, debtor, id_digits=d, now=NOW)
        for d in ["9999", "0000", "9999", "1233"]
    ]
    assert [(t.outcome, t.failures_left) for t in theirs] == [
        (m.outcome, m.failures_left) for m in mismatch
    ]
    assert not theirs[0].conversation.verified


@pytest.mark.parametrize("digits", ["12", "12345", "abc$", "１２３３", ""])
def test_malformed_digits_are_refused_without_counting(
    connection: Connection, vault: PiiVault, book: dict[str, int], digits: str
) -> None:
    c = _sms(connection, vault, DEBTOR_PHONE)
    with pytest.raises(ValidationError):
        svc.verify_identity(connection, vault, c, id_digits=digits, now=NOW)
    assert svc.get_conversation(connection, vault, c.id).verify_failures == 0


def test_the_identity_audit_names_the_outcome_never_the_digits(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _sms(connection, vault, DEBTOR_PHONE)
    svc.verify_identity(connection, vault, c, id_digits="4321", now=NOW)
    svc.verify_identity(connection, vault, c, id_digits="011233", now=NOW)
    payloads = (
        connection.execute(
            select(AuditEvent.payload)
            .where(AuditEvent.action == "assistant.verify")
            .order_by(AuditEvent.seq)
        )
        .scalars()
        .all()
    )
    assert len(payloads) == 2
    assert '"wrong"' in payloads[0] and '"ok"' in payloads[1]
    for payload in payloads:
        assert "4321" not in payload and "1233" not in payload


def test_hand_over_queues_the_conversation_once(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _sms(connection, vault, DEBTOR_PHONE)
    waiting = svc.hand_over(connection, c, reason="dispute", now=NOW, intent="dispute_debt")
    assert waiting.status == "waiting" and waiting.handoff_reason == "dispute"
    assert waiting.handoff_intent == "dispute_debt" and waiting.handoff_at == NOW
    again = svc.hand_over(connection, waiting, reason="asked", now=NOW + timedelta(minutes=1))
    assert again.handoff_reason == "dispute" and again.handoff_at == NOW
    with pytest.raises(ValidationError):
        svc.hand_over(connection, c, reason="bored", now=NOW)


def _vulnerable_holds(connection: Connection, borrower_id: int) -> list[int]:
    return list(
        connection.execute(
            select(Hold.id).where(Hold.borrower_id == borrower_id, Hold.kind == "vulnerable")
        ).scalars()
    )


def test_a_crisis_places_one_vulnerability_hold_on_all_the_loans(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _sms(connection, vault, DEBTOR_PHONE)  # the debtor's number, not yet verified
    hold_id = svc.flag_vulnerable(connection, c, now=NOW)
    assert hold_id is not None
    hold = connection.execute(select(Hold).where(Hold.id == hold_id)).one()
    assert hold.loan_id is None and hold.until is None  # every loan, until released
    assert svc.get_conversation(connection, vault, c.id).vulnerable
    assert svc.flag_vulnerable(connection, c, now=NOW) is None  # one hold is enough
    assert _vulnerable_holds(connection, book["C0001"]) == [hold_id]
    blocked = request_contact(
        connection,
        loan_id=book["L0002"],
        channel="call",  # the pack's vulnerable hold stops calls and visits at once
        at=datetime(2026, 12, 7, 2, 0, tzinfo=UTC),  # 10:00 in Shanghai
        actor="agent:test",
        rules=default_rules(),
    )
    assert not blocked.allowed and blocked.blocked_by == ("CN.HOLDS",)


def test_a_third_partys_crisis_flags_the_conversation_only(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    third = _sms(connection, vault, THIRD_PARTY_PHONE)
    stranger = _sms(connection, vault, STRANGER_PHONE)
    assert svc.flag_vulnerable(connection, third, now=NOW) is None
    assert svc.flag_vulnerable(connection, stranger, now=NOW) is None
    assert svc.get_conversation(connection, vault, third.id).vulnerable
    assert _vulnerable_holds(connection, book["C0001"]) == []


def test_not_my_number_puts_the_review_hold_on_that_point(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    third = _sms(connection, vault, THIRD_PARTY_PHONE)
    hold_id = svc.mark_wrong_number(connection, third, now=NOW)
    assert hold_id is not None
    hold = connection.execute(select(Hold).where(Hold.id == hold_id)).one()
    assert (hold.kind, hold.contact_point_id) == ("do_not_contact", third.contact_point_id)
    assert svc.mark_wrong_number(connection, third, now=NOW) is None
    stranger = _sms(connection, vault, STRANGER_PHONE)
    assert svc.mark_wrong_number(connection, stranger, now=NOW) is None


def test_a_new_conversation_does_not_reset_the_failures(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = _sms(connection, vault, DEBTOR_PHONE)
    for digits in ("0000", "1111"):
        svc.verify_identity(connection, vault, c, id_digits=digits, now=NOW)
    # an agent closes it; the sender writes again at once
    svc.close(connection, Actor("web:alice", Role.AGENT), vault, c.id, NOW)
    again = svc.open_conversation(connection, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
    assert again.id != c.id and again.verify_failures == 2
    third = svc.verify_identity(connection, vault, again, id_digits="2222", now=NOW)
    assert third.outcome.value == "locked"
    # a day later the slate is clean
    svc.close(connection, Actor("web:alice", Role.AGENT), vault, again.id, NOW)
    later = NOW + timedelta(days=1, minutes=1)
    fresh = svc.open_conversation(connection, vault, channel="sms", now=later, sender=DEBTOR_PHONE)
    assert fresh.verify_failures == 0
    assert svc.verify_identity(connection, vault, fresh, id_digits="1233", now=later).ok
