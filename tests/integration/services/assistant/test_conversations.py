"""Opening conversations, recording turns and the engine's state (issue 14, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, select, update

from forbear.domain.errors import NotFound, ValidationError
from forbear.services import assistant as svc
from forbear.store.assistant import AssistantConversation, AssistantTurn
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.models import Borrower

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DEBTOR_PHONE = "13812345678"  # C0001 (tests/factories.py), ID ending 1233
THIRD_PARTY_PHONE = "13987654321"  # C0001's emergency contact
STRANGER_PHONE = "13700000000"  # on no file


def test_a_portal_conversation_is_verified_and_continued(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    first = svc.open_conversation(
        connection, vault, channel="portal", now=NOW, borrower_id=book["C0001"]
    )
    assert first.verified and first.verified_by == "portal_session"
    assert first.status == "bot" and first.state == "start" and first.slots == {}
    again = svc.open_conversation(
        connection,
        vault,
        channel="portal",
        now=NOW + timedelta(minutes=5),
        borrower_id=book["C0001"],
    )
    assert again.id == first.id
    given = svc.open_conversation(
        connection,
        vault,
        channel="portal",
        now=NOW + timedelta(minutes=6),
        borrower_id=book["C0001"],
        conversation_id=first.id,
        language="en",
    )
    assert given.id == first.id and given.language == "en"
    # another channel is another conversation
    app = svc.open_conversation(
        connection, vault, channel="app", now=NOW, borrower_id=book["C0001"]
    )
    assert app.id != first.id and app.verified_by == "app"


def test_someone_elses_conversation_answers_like_a_missing_one(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    mine = svc.open_conversation(
        connection, vault, channel="portal", now=NOW, borrower_id=book["C0001"]
    )
    with pytest.raises(NotFound) as other:
        svc.open_conversation(
            connection,
            vault,
            channel="portal",
            now=NOW,
            borrower_id=book["C0002"],
            conversation_id=mine.id,
        )
    with pytest.raises(NotFound) as missing:
        svc.open_conversation(
            connection,
            vault,
            channel="portal",
            now=NOW,
            borrower_id=book["C0002"],
            conversation_id=mine.id + 1000,
        )
    assert str(other.value).replace(str(mine.id), "#") == str(missing.value).replace(
        str(mine.id + 1000), "#"
    )
    with pytest.raises(NotFound):  # a sender cannot continue a portal conversation either
        svc.open_conversation(
            connection, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE, conversation_id=mine.id
        )


def test_an_idle_conversation_is_closed_and_a_new_one_starts(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    old = svc.open_conversation(connection, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
    later = NOW + svc.IDLE + timedelta(seconds=1)
    new = svc.open_conversation(connection, vault, channel="sms", now=later, sender=DEBTOR_PHONE)
    assert new.id != old.id
    closed = svc.get_conversation(connection, vault, old.id)
    assert closed.status == "closed" and closed.closed_at == later
    # the given id of a closed conversation starts a new one too
    newer = svc.open_conversation(
        connection, vault, channel="sms", now=later, sender=DEBTOR_PHONE, conversation_id=old.id
    )
    assert newer.id == new.id


def test_senders_are_matched_by_blind_index(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    debtor = svc.open_conversation(
        connection, vault, channel="sms", now=NOW, sender="+86 138-1234-5678"
    )
    assert debtor.borrower_id == book["C0001"] and debtor.owner_type == "debtor"
    assert not debtor.verified and not debtor.third_party and debtor.sender_known
    third = svc.open_conversation(
        connection, vault, channel="sms", now=NOW, sender=THIRD_PARTY_PHONE
    )
    assert third.owner_type == "emergency_contact" and third.third_party
    assert third.borrower_id == book["C0001"] and not third.verified
    stranger = svc.open_conversation(
        connection, vault, channel="sms", now=NOW, sender=STRANGER_PHONE
    )
    assert stranger.borrower_id is None and stranger.owner_type is None
    assert not stranger.verified and not stranger.sender_known
    stored = connection.execute(
        select(AssistantConversation.sender_bidx).where(AssistantConversation.id == stranger.id)
    ).scalar_one()
    assert stored == vault.blind_index("phone", STRANGER_PHONE)
    assert STRANGER_PHONE not in stored


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel": "fax", "borrower_id": 1}, "channel"),
        ({"channel": "portal"}, "sender"),
        ({"channel": "sms", "borrower_id": 1}, "channel"),
        ({"channel": "portal", "sender": DEBTOR_PHONE}, "channel"),
        ({"channel": "sms", "sender": DEBTOR_PHONE, "language": "fr"}, "language"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    connection: Connection, vault: PiiVault, book: dict[str, int], kwargs: dict, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        svc.open_conversation(connection, vault, now=NOW, **kwargs)
    assert refused.value.field == field
    count = select(func.count()).select_from(AssistantConversation)
    assert connection.execute(count).scalar_one() == 0


def test_an_unknown_borrower_is_not_found(connection: Connection, vault: PiiVault) -> None:
    with pytest.raises(NotFound):
        svc.open_conversation(connection, vault, channel="cli", now=NOW, borrower_id=999_999)


def test_turns_are_numbered_encrypted_and_cut(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = svc.open_conversation(connection, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
    said = "我叫张伟，身份证410105199001011233，这个月实在还不上"
    one = svc.record_turn(
        connection,
        vault,
        c,
        role="borrower",
        text=said,
        now=NOW,
        intent="cannot_pay",
        confidence=0.9,
    )
    two = svc.record_turn(
        connection, vault, c, role="assistant", text="x" * (svc.MAX_TEXT + 50), now=NOW
    )
    assert (one.seq, two.seq) == (1, 2)
    assert two.text == "x" * svc.MAX_TEXT
    blobs = connection.execute(select(AssistantTurn.body_enc)).scalars().all()
    for blob in blobs:
        assert b"410105" not in blob and "张伟".encode() not in blob
    read = svc.turns_of(connection, vault, c.id)
    assert [t.text for t in read] == [said, "x" * svc.MAX_TEXT]
    assert read[0].intent == "cannot_pay" and read[0].confidence == pytest.approx(0.9)
    with pytest.raises(ValidationError):
        svc.record_turn(connection, vault, c, role="robot", text="hi", now=NOW)
    with pytest.raises(ValidationError):
        svc.record_turn(connection, vault, c, role="borrower", text="hi", now=NOW, confidence=2.0)


def test_the_engine_state_and_slots_are_saved_encrypted(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = svc.open_conversation(
        connection, vault, channel="portal", now=NOW, borrower_id=book["C0001"]
    )
    slots = {"amount_fen": 50_000, "date": "2026-12-20", "note": "工资下周发"}
    saved = svc.save_state(
        connection, vault, c, state="promise.confirm", slots=slots, misses=1, language="en", now=NOW
    )
    assert saved.state == "promise.confirm" and saved.slots == slots
    assert saved.misses == 1 and saved.language == "en"
    blob = connection.execute(
        select(AssistantConversation.slots_enc).where(AssistantConversation.id == c.id)
    ).scalar_one()
    assert blob is not None and "工资".encode() not in blob and b"50000" not in blob
    with pytest.raises(ValidationError):
        svc.save_state(connection, vault, c, state="", slots={}, misses=0, language="zh", now=NOW)
    with pytest.raises(ValidationError):
        svc.save_state(
            connection, vault, c, state="s", slots={"x": object()}, misses=0, language="zh", now=NOW
        )
    cleared = svc.save_state(
        connection, vault, c, state="start", slots={}, misses=0, language="zh", now=NOW
    )
    assert cleared.slots == {}


def test_audit_events_hold_no_personal_data(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    c = svc.open_conversation(connection, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
    svc.record_turn(connection, vault, c, role="borrower", text="我的电话13812345678", now=NOW)
    svc.verify_identity(connection, vault, c, id_digits="9999", now=NOW)
    svc.verify_identity(connection, vault, c, id_digits="1233", now=NOW)
    svc.hand_over(connection, c, reason="asked", now=NOW)
    payloads = (
        connection.execute(select(AuditEvent.payload).where(AuditEvent.action.like("assistant.%")))
        .scalars()
        .all()
    )
    assert len(payloads) >= 4
    for payload in payloads:
        text = str(payload)
        for secret in (DEBTOR_PHONE, "1233", "9999", "13812345678"):
            assert secret not in text


def test_quiet_hours_are_judged_in_the_borrowers_zone_and_a_strangers_has_none(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    connection.execute(
        update(Borrower).where(Borrower.id == book["C0001"]).values(timezone="Europe/London")
    )
    own = svc.open_conversation(connection, vault, channel="sms", now=NOW, sender=DEBTOR_PHONE)
    stranger = svc.open_conversation(
        connection, vault, channel="sms", now=NOW, sender=STRANGER_PHONE
    )
    assert svc.zone_of(connection, own) == "Europe/London"
    assert svc.zone_of(connection, stranger) is None
