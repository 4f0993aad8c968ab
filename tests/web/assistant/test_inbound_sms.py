"""An SMS reply routed to the assistant (``assistant_sms`` on): the provider's answer is the
same as ever and the same for a number on no file; once the reply is stored the engine
answers (its replies queued for the dispatcher) and the reply leaves the agents' safety net;
an engine that fails leaves the reply for the agents and logs no personal data."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from forbear.domain.access import Actor, Role
from forbear.domain.signatures import sign
from forbear.services.outreach import replies
from forbear.store.assistant import AssistantConversation
from forbear.store.outreach import InboundMessage
from forbear.store.runs import OutboxMessage
from forbear.web.app import AssistantHolder
from web.portal_helpers import PortalBorrower

PROVIDER = "sms-cn"
SECRET = b"the sms provider's secret"
STRANGER = "13900000000"


@pytest.fixture
def sms_db(db):  # type: ignore[no-untyped-def]
    db.settings = db.settings.model_copy(
        update={"channel_secrets": {PROVIDER: SecretStr(SECRET.decode())}, "assistant_sms": True}
    )
    return db


def send_reply(client: TestClient, clock, sender: str, text: str, event: str):  # type: ignore[no-untyped-def]
    body = json.dumps({"from": sender, "text": text, "event_id": event}).encode()
    moment = int(clock.now.timestamp())
    return client.post(
        f"/api/v1/channels/{PROVIDER}/replies",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Forbear-Timestamp": str(moment),
            "X-Forbear-Signature": sign(SECRET, moment, body),
        },
    )


def stored(db):  # type: ignore[no-untyped-def]
    """The latest reply stored."""
    return db.conn.execute(select(InboundMessage).order_by(InboundMessage.id.desc()).limit(1)).one()


@pytest.mark.usefixtures("engine")
def test_a_reply_goes_to_the_assistant_which_answers_by_sms(
    client: TestClient, sms_db, clock, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    db = sms_db
    known = send_reply(client, clock, me.mobile, "我还欠多少钱", "e-known")
    assert known.status_code == 200 and known.json() == {"status": "applied"}
    reply = stored(db)
    assert reply.routed_to == "assistant"
    assert reply.handled_at is not None and reply.handled_by.startswith("assistant:")
    conversation_id = int(reply.handled_by.split(":")[1])
    conversation = db.conn.execute(
        select(AssistantConversation).where(AssistantConversation.id == conversation_id)
    ).one()
    assert (conversation.channel, conversation.borrower_id) == ("sms", me.borrower_id)
    assert conversation.verified_at is None  # a number on file still needs a second factor
    queued = db.conn.execute(
        select(OutboxMessage).where(
            OutboxMessage.origin == "assistant", OutboxMessage.borrower_id == me.borrower_id
        )
    ).all()
    assert queued, "the assistant's answer is queued for the dispatcher"
    # a number on no file: the very same answer to the provider
    unknown = send_reply(client, clock, STRANGER, "我还欠多少钱", "e-unknown")
    assert unknown.status_code == known.status_code
    assert unknown.json() == known.json()
    stranger = stored(db)
    assert stranger.routed_to == "assistant" and stranger.handled_at is not None


def test_an_engine_failure_leaves_the_reply_for_the_agents(
    client: TestClient, app, sms_db, clock, me: PortalBorrower, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    db = sms_db

    class Broken(AssistantHolder):
        def get(self):  # type: ignore[no-untyped-def]
            raise RuntimeError(f"broken while reading {me.mobile}")

    app.state.assistant = Broken(db)
    text = "我下周五还两千块"
    with caplog.at_level(logging.ERROR, logger="forbear.web.channels"):
        answer = send_reply(client, clock, me.mobile, text, "e-broken")
    assert answer.status_code == 200 and answer.json() == {"status": "applied"}
    reply = stored(db)
    assert reply.routed_to == "assistant" and reply.handled_at is None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert me.mobile not in logged and text not in logged
    # after the grace period the agents' inbox shows it (the safety net)
    later = clock.now + timedelta(minutes=16)
    inbox = replies.list_unhandled(
        db.conn,
        Actor("web:super1", Role.SUPERVISOR),
        vault=db.vault,
        now=later,
        today=later.date(),
    )
    assert reply.id in [r.id for r in inbox]
