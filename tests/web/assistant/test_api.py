"""The assistant's API (/api/v1/assistant) on the test book, SQLite and PostgreSQL: who may
call (a portal session with its CSRF token, or the lender's app signing for a borrower),
every refusal with its own code and nothing written, another borrower's conversation
answering 404 exactly like a missing one, bad input a 4xx with a clear message."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forbear.store.assistant import AssistantConversation, AssistantTurn
from forbear.store.outreach import ChannelCallback
from web.assistant.conftest import (
    SignedCall,
    other_borrower,
    ref_of,
    start_conversation,
)
from web.portal_helpers import PortalBorrower

pytestmark = pytest.mark.usefixtures("db")
MESSAGES = "/api/v1/assistant/messages"


def counts(db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return tuple(  # type: ignore[return-value]
        int(db.conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in (AssistantConversation, AssistantTurn)
    )


def error(response) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return response.status_code, response.json()["error"]["code"]


# ---------------------------------------------------------------------------- who calls


def test_no_credential_is_401_and_writes_nothing(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    before = counts(db)
    assert error(client.post(MESSAGES, json={"text": "我还欠多少钱"})) == (401, "unauthenticated")
    assert error(client.get("/api/v1/assistant/conversations/1")) == (401, "unauthenticated")
    assert counts(db) == before


def test_a_portal_session_needs_its_csrf_token(signed: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    before = counts(db)
    del signed.headers["X-CSRF-Token"]
    assert error(signed.post(MESSAGES, json={"text": "你好"})) == (403, "csrf_failed")
    signed.headers["X-CSRF-Token"] = "not-the-token"
    assert error(signed.post(MESSAGES, json={"text": "你好"})) == (403, "csrf_failed")
    assert counts(db) == before


def test_a_staff_session_opens_no_borrower_conversation(sign_in, db) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("agent1")
    assert error(client.post(MESSAGES, json={"text": "你好"})) == (401, "unauthenticated")


def test_own_transcript_and_another_borrowers_is_404_like_a_missing_one(
    signed: TestClient, db, clock, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    mine = start_conversation(
        db, clock, me.borrower_id, turns=(("borrower", "我还欠多少"), ("assistant", "您好"))
    )
    theirs = start_conversation(db, clock, other_borrower(db, me), turns=(("borrower", "秘密"),))
    got = signed.get(f"/api/v1/assistant/conversations/{mine.id}")
    assert got.status_code == 200
    body = got.json()
    assert body["conversation_id"] == mine.id
    assert [(t["role"], t["text"]) for t in body["turns"]] == [
        ("borrower", "我还欠多少"),
        ("assistant", "您好"),
    ]
    other = signed.get(f"/api/v1/assistant/conversations/{theirs.id}")
    missing = signed.get("/api/v1/assistant/conversations/2000000000")
    assert error(other) == error(missing) == (404, "not_found")
    assert "秘密" not in other.text
    assert other.json()["error"]["message"].replace(str(theirs.id), "N") == missing.json()["error"][
        "message"
    ].replace("2000000000", "N")


# ---------------------------------------------------------------------------- the app's signature


def test_the_app_signs_for_a_borrower_and_reads_the_transcript(
    app_call: SignedCall, db, clock, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    mine = start_conversation(db, clock, me.borrower_id, turns=(("borrower", "hello"),))
    path = f"/api/v1/assistant/conversations/{mine.id}?borrower_ref={ref_of(db, me.borrower_id)}"
    got = app_call("GET", path)
    assert got.status_code == 200, got.text
    assert [t["text"] for t in got.json()["turns"]] == ["hello"]
    # the same signed request again is a replay, refused and recorded nowhere else
    assert error(app_call("GET", path)) == (401, "signature_replayed")
    # signed for another borrower: that borrower's conversations only
    someone = ref_of(db, other_borrower(db, me))
    other = f"/api/v1/assistant/conversations/{mine.id}?borrower_ref={someone}"
    assert error(app_call("GET", other)) == (404, "not_found")


def test_signature_refusals_each_have_their_code_and_write_nothing(
    app_call: SignedCall, db, clock, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    payload = {"text": "我还欠多少钱", "borrower_ref": ref_of(db, me.borrower_id)}
    before = counts(db)
    callbacks = db.conn.execute(select(func.count()).select_from(ChannelCallback)).scalar_one()
    now = int(clock.now.timestamp())
    assert error(app_call("POST", MESSAGES, payload, secret=b"a wrong secret")) == (
        401,
        "signature_mismatch",
    )
    assert error(app_call("POST", MESSAGES, payload, ts=now - 3600)) == (401, "signature_stale")
    assert error(app_call("POST", MESSAGES, payload, signature="zz")) == (
        401,
        "signature_malformed",
    )
    assert error(app_call("POST", MESSAGES, payload, headers={"X-Forbear-Signature": ""})) == (
        401,
        "signature_missing",
    )
    # a signature over another body (the text changed on the way)
    spoiled = app_call(
        "POST", MESSAGES, payload, signature=app_sign(db, clock, {**payload, "text": "x"})
    )
    assert error(spoiled) == (401, "signature_mismatch")
    assert counts(db) == before
    assert db.conn.execute(select(func.count()).select_from(ChannelCallback)).scalar_one() == (
        callbacks
    )


def app_sign(db, clock, payload) -> str:  # type: ignore[no-untyped-def]
    import json

    from forbear.domain.signatures import sign
    from web.assistant.conftest import APP_SECRET

    return sign(APP_SECRET, int(clock.now.timestamp()), json.dumps(payload).encode())


def test_an_unknown_borrower_ref_is_refused(app_call: SignedCall, db) -> None:  # type: ignore[no-untyped-def]
    before = counts(db)
    answer = app_call("POST", MESSAGES, {"text": "你好", "borrower_ref": "NO-SUCH-CUSTOMER"})
    assert error(answer) == (401, "signature_unknown_borrower")
    missing = app_call("POST", MESSAGES, {"text": "你好"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "borrower_ref"
    assert counts(db) == before


def test_a_signed_request_with_a_bad_body_is_422_and_spends_no_signature(
    app_call: SignedCall, db, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    ref = ref_of(db, me.borrower_id)
    callbacks = db.conn.execute(select(func.count()).select_from(ChannelCallback)).scalar_one()
    for body, field in (
        ({"text": "x" * 4001, "borrower_ref": ref}, "text"),
        ({"text": 7, "borrower_ref": ref}, "text"),
        ({"text": "hi", "borrower_ref": ref, "extra": 1}, "extra"),
    ):
        answer = app_call("POST", MESSAGES, body)
        assert error(answer) == (422, "invalid_request")
        assert answer.json()["error"]["field"] == field
    assert db.conn.execute(select(func.count()).select_from(ChannelCallback)).scalar_one() == (
        callbacks
    )


def test_without_a_configured_app_secret_nothing_signed_is_accepted(
    client: TestClient, db, clock, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    from forbear.domain.signatures import sign

    moment = int(clock.now.timestamp())
    body = b'{"text": "hi", "borrower_ref": "x"}'
    answer = client.post(
        MESSAGES,
        content=body,
        headers={
            "X-Forbear-Timestamp": str(moment),
            "X-Forbear-Signature": sign(b"guess", moment, body),
            "Content-Type": "application/json",
        },
    )
    assert error(answer) == (401, "signature_unknown_provider")


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": 42}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": "hi", "conversation_id": "12"}, "conversation_id"),
        ({"text": "hi", "conversation_id": 0}, "conversation_id"),
        ({"text": "hi", "language": "fr"}, "language"),
        ({"text": "hi", "admin": True}, "admin"),
        ({}, "text"),
    ],
)
def test_bad_bodies_are_422_with_the_field(signed: TestClient, db, body, field) -> None:  # type: ignore[no-untyped-def]
    before = counts(db)
    answer = signed.post(MESSAGES, json=body)
    assert error(answer) == (422, "invalid_request")
    assert answer.json()["error"]["field"] == field
    assert answer.json()["error"]["message"]
    assert counts(db) == before


def test_malformed_json_control_characters_and_a_portal_borrower_ref_are_refused(
    signed: TestClient, db, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    before = counts(db)
    broken = signed.post(
        MESSAGES, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert error(broken) == (400, "malformed_json")
    nul = signed.post(MESSAGES, json={"text": "a\x00b"})
    assert nul.status_code == 400 and nul.json()["error"]["code"] == "control_characters"
    ref = signed.post(MESSAGES, json={"text": "hi", "borrower_ref": ref_of(db, me.borrower_id)})
    assert error(ref) == (422, "validation_error")
    assert counts(db) == before
    assert signed.get("/api/v1/assistant/conversations/abc").status_code == 422
    assert signed.get("/api/v1/assistant/conversations/99999999999").status_code == 422


def test_the_api_is_described_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/assistant/messages" in paths
    assert "/api/v1/assistant/conversations/{conversation_id}" in paths
