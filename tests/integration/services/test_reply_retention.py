"""Retention of what comes back from the channels (issue 13): callback records after
three months, replies from senders on no file after half a year; a borrower's own
replies go with the borrower (tests/integration/services/test_personal_data_at_rest.py
checks the purge reviews every table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select

from forbear.services.outreach import replies
from forbear.services.outreach.callbacks import CallbackKind, SignedCallback, accept
from forbear.store.crypto import PiiVault
from forbear.store.outreach import ChannelCallback, InboundMessage

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _stranger_reply(conn: Connection, vault: PiiVault, at: datetime, n: int) -> int:
    callback = SignedCallback("sms-cn", CallbackKind.REPLY, f"{n:064x}", at)
    incoming = replies.IncomingReply(
        channel="sms", sender=f"1390000{n:04d}", text="你好", event_id=f"ret-{n}"
    )
    accepted = accept(conn, callback, replies.event_key(incoming, vault), now=at)
    done = replies.receive_reply(conn, accepted, incoming, provider="sms-cn", vault=vault, now=at)
    assert done.reply_id is not None and not done.matched
    return done.reply_id


def test_old_callbacks_and_unmatched_replies_expire(
    connection: Connection, vault: PiiVault
) -> None:
    old = _stranger_reply(connection, vault, NOW - timedelta(days=200), 1)
    middle = _stranger_reply(connection, vault, NOW - timedelta(days=100), 2)
    new = _stranger_reply(connection, vault, NOW - timedelta(days=1), 3)
    counts = replies.expire(connection, NOW)
    assert counts == {"channel_callbacks": 2, "inbound_messages": 1}
    left = connection.execute(select(InboundMessage.id).order_by(InboundMessage.id)).scalars()
    assert list(left) == [middle, new]
    assert connection.execute(select(func.count()).select_from(ChannelCallback)).scalar_one() == 1
    assert replies.expire(connection, NOW) == {"channel_callbacks": 0, "inbound_messages": 0}
    assert old not in (middle, new)
