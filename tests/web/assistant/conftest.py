"""What the assistant's web tests share: a signed-in borrower, conversations made through
the use cases (:mod:`forbear.services.assistant`), requests signed by the lender's app, and
the real engine over the intent model trained once for the test run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from forbear.domain.signatures import sign
from forbear.services import assistant as conversations
from forbear.store.models import Borrower
from web.portal_helpers import PortalBorrower, portal_borrower, portal_sign_in

APP_SECRET = b"the lender's app server secret"


@pytest.fixture
def me(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


@pytest.fixture
def signed(client: TestClient, db, clock, me: PortalBorrower) -> TestClient:  # type: ignore[no-untyped-def]
    """``client`` with the portal session of ``me`` (cookie and ``X-CSRF-Token``)."""
    portal_sign_in(client, db, clock, me.borrower_id)
    return client


@pytest.fixture
def app_secret(db):  # type: ignore[no-untyped-def]
    """The secret of the provider ``app`` configured (the lender's app server)."""
    db.settings = db.settings.model_copy(
        update={"channel_secrets": {"app": SecretStr(APP_SECRET.decode())}}
    )
    return APP_SECRET


def ref_of(db, borrower_id: int) -> str:  # type: ignore[no-untyped-def]
    return str(
        db.conn.execute(
            select(Borrower.external_ref).where(Borrower.id == borrower_id)
        ).scalar_one()
    )


def other_borrower(db, me: PortalBorrower) -> int:  # type: ignore[no-untyped-def]
    return int(
        db.conn.execute(
            select(Borrower.id).where(Borrower.id != me.borrower_id).order_by(Borrower.id).limit(1)
        ).scalar_one()
    )


SignedCall = Callable[..., Any]


@pytest.fixture
def app_call(client: TestClient, clock, app_secret: bytes) -> SignedCall:  # type: ignore[no-untyped-def]
    """A request signed as the lender's app server signs it (docstring of
    :mod:`forbear.web.api.assistant`); ``ts``, ``secret`` and ``signature`` to spoil it."""

    def call(
        method: str,
        path: str,
        payload: Any = None,
        *,
        ts: int | None = None,
        secret: bytes = app_secret,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ):  # type: ignore[no-untyped-def]
        moment = int(clock.now.timestamp()) if ts is None else ts
        body = b"" if payload is None else json.dumps(payload).encode()
        content = path.encode() if method == "GET" else body
        sent = {
            "X-Forbear-Timestamp": str(moment),
            "X-Forbear-Signature": signature or sign(secret, moment, content),
            "Content-Type": "application/json",
        }
        sent.update(headers or {})
        if method == "GET":
            return client.get(path, headers=sent)
        return client.post(path, content=body, headers=sent)

    return call


def start_conversation(db, clock, borrower_id: int, *, channel: str = "portal", turns=()):  # type: ignore[no-untyped-def]
    """A verified conversation of ``borrower_id`` with the given (role, text) turns."""
    found = conversations.open_conversation(
        db.conn, db.vault, channel=channel, now=clock.now, borrower_id=borrower_id
    )
    for role, text in turns:
        conversations.record_turn(db.conn, db.vault, found, role=role, text=text, now=clock.now)
    return found


def waiting_conversation(db, clock, borrower_id: int, *, reason: str = "asked"):  # type: ignore[no-untyped-def]
    """A conversation handed over to a person, as the engine hands one over."""
    found = start_conversation(
        db,
        clock,
        borrower_id,
        turns=(("borrower", "我要找人工客服"), ("assistant", "好的，正在为您转接人工客服。")),
    )
    return conversations.hand_over(db.conn, found, reason=reason, now=clock.now, intent="human")


@pytest.fixture(scope="session")
def understander():  # type: ignore[no-untyped-def]
    """The intent model, trained once for the whole run (H1's test helper)."""
    model = pytest.importorskip("assistant_model", reason="the intent model's test helper")
    from forbear.assistant.nlu import model as nlu_model

    return nlu_model.load(model.trained_model_dir())


@pytest.fixture
def engine(app, db, understander):  # type: ignore[no-untyped-def]
    """The real engine over this test's database, handed to the app."""
    from forbear.assistant.engine import Assistant
    from forbear.web.app import AssistantHolder

    built = Assistant(db, understander)
    app.state.assistant = AssistantHolder(db, engine=built)
    return built


def wait_until(check: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
