"""The dispatcher with a provider that takes many messages a request (``batch_size`` above
1 and an adapter with ``send_many``), on a committed database (SQLite file, PostgreSQL):
messages go in requests of the batch size, each message meets its own answer (accepted,
retried after its backoff, failed with its contact point marked invalid, which the gate
then blocks), an adapter that raises loses nothing, and against the provider stand-in the
database's sent messages are exactly its accept log."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from forbear.bootstrap import Forbear
from forbear.channels.base import (
    Accepted,
    BatchAdapter,
    ChannelFailure,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)
from forbear.channels.config import ChannelsConfig, ProviderConfig
from forbear.channels.dispatcher import Dispatcher, run
from forbear.channels.sms import SmsGatewayAdapter
from forbear.clock import fixed_clock
from forbear.services.outreach.dispatch import RetryPolicy
from forbear.sim.provider import StandIn, StandInConfig, read_log_lines
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.runs import OutboxMessage
from integration.outreach.test_dispatch_loop import NOON, app, queue, statuses

__all__ = ["app"]  # the fixture: a database of the test's own with the three-loan book


class Batching:
    """A provider with a batch action: accepts each message unless its key is in
    ``invalid`` (a permanent refusal of the number) or ``throttled`` (transient, once);
    records the size of every request."""

    max_batch = 100

    def __init__(self, *, invalid: Sequence[str] = (), throttled: Sequence[str] = ()) -> None:
        self.name = "batching"
        self.rate_per_second: float | None = None
        self.invalid = set(invalid)
        self.throttled = set(throttled)
        self.lock = threading.Lock()
        self.requests: list[int] = []
        self.accepted: list[str] = []
        self.raise_next = False

    def send(self, message: OutgoingMessage) -> Accepted:
        raise AssertionError("a batching provider is sent batches")

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[Accepted | ChannelFailure]:
        with self.lock:
            if self.raise_next:
                self.raise_next = False
                raise RuntimeError("a bug in the adapter")
            self.requests.append(len(messages))
            outcomes: list[Accepted | ChannelFailure] = []
            for m in messages:
                assert m.to and m.body and "{" not in m.body
                if m.message_id in self.invalid:
                    outcomes.append(
                        PermanentFailure("invalid", code="MOBILE_ILLEGAL", address_invalid=True)
                    )
                elif m.message_id in self.throttled:
                    self.throttled.discard(m.message_id)
                    outcomes.append(TransientFailure("throttled", code="LIMIT", retry_after=1))
                else:
                    self.accepted.append(m.message_id)
                    outcomes.append(Accepted(self.name, f"b-{m.message_id}"))
            return outcomes

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


def config(batch_size: int, *, kind: str = "sms_http") -> ChannelsConfig:
    return ChannelsConfig(
        providers=(ProviderConfig("gw", kind, ("sms",), threads=4, batch_size=batch_size),),
        retry=RetryPolicy(max_tries=3, base_delay=timedelta(seconds=10)),
        batch=50,
    )


def test_a_batching_provider_gets_the_messages_in_requests_of_its_batch_size(
    app: Forbear,
) -> None:
    keys = queue(app, "L0001", 25)
    provider = Batching()
    assert isinstance(provider, BatchAdapter)
    totals = run(app, once=True, config=config(10), worker_id="w1", adapters={"sms": provider})
    assert totals.sent == 25
    assert sorted(provider.requests) == [5, 10, 10]
    assert sorted(provider.accepted) == sorted(keys)  # each once
    assert set(statuses(app).values()) == {"sent"}
    with app.reading() as conn:
        refs = {
            r.dedupe_key: r.provider_ref
            for r in conn.execute(select(OutboxMessage.dedupe_key, OutboxMessage.provider_ref))
        }
    assert refs == {k: f"b-{k}" for k in keys}
    # batch_size 1 keeps one send a message (the adapter's send)
    queue(app, "L0001", 1, start=100)
    single = Batching()
    dispatcher = Dispatcher(app, config(1), worker_id="w1", adapters={"sms": single})
    assert {lane.batch_size for lane in dispatcher._lanes.values()} == {1}
    dispatcher.close()


def test_each_message_of_a_batch_meets_its_own_answer(app: Forbear) -> None:
    fine, throttled = queue(app, "L0001", 2)
    (invalid,) = queue(app, "L0003", 1)
    provider = Batching(invalid=[invalid], throttled=[throttled])
    run(app, once=True, config=config(10), worker_id="w1", adapters={"sms": provider})
    assert provider.requests == [3]  # one request for the three
    now = statuses(app)
    assert (now[fine], now[throttled], now[invalid]) == ("sent", "queued", "failed")
    with app.reading() as conn:
        failed = conn.execute(
            select(OutboxMessage.contact_point_id, OutboxMessage.contact_attempt_id).where(
                OutboxMessage.dedupe_key == invalid
            )
        ).one()
        hold = conn.execute(
            select(Hold.kind, Hold.reason).where(Hold.contact_point_id == failed.contact_point_id)
        ).one()
        outcome = conn.execute(
            select(ContactAttempt.outcome).where(ContactAttempt.id == failed.contact_attempt_id)
        ).scalar_one()
    assert tuple(hold) == ("do_not_contact", "OUTBOX.ADDRESS_INVALID")
    assert outcome == "invalid_number"
    # after its backoff the throttled one goes; the invalid number's next message is
    # stopped by the gate (CN.HOLDS) and never reaches the provider
    app.clock = fixed_clock(NOON + timedelta(minutes=5))
    (next_one,) = queue(app, "L0003", 1, start=10)
    run(app, once=True, config=config(10), worker_id="w1", adapters={"sms": provider})
    now = statuses(app)
    assert (now[throttled], now[next_one]) == ("sent", "cancelled")
    assert sorted(provider.accepted) == sorted([fine, throttled])
    with app.reading() as conn:
        rules = conn.execute(
            select(OutboxMessage.reason_rules).where(OutboxMessage.dedupe_key == next_one)
        ).scalar_one()
    assert "CN.HOLDS" in json.loads(rules)


def test_an_adapter_that_raises_loses_none_of_the_batch(app: Forbear) -> None:
    keys = queue(app, "L0001", 4)
    provider = Batching()
    provider.raise_next = True
    run(app, once=True, config=config(10), worker_id="w1", adapters={"sms": provider})
    assert {statuses(app)[k] for k in keys} == {"queued"}  # tried again after the backoff
    app.clock = fixed_clock(NOON + timedelta(minutes=5))
    run(app, once=True, config=config(10), worker_id="w1", adapters={"sms": provider})
    assert {statuses(app)[k] for k in keys} == {"sent"}
    assert sorted(provider.accepted) == sorted(keys)


def test_through_the_stand_in_the_database_is_the_providers_log(
    app: Forbear, tmp_path: Path
) -> None:
    keys = queue(app, "L0001", 30) + queue(app, "L0003", 10, start=1000)
    log = tmp_path / "accept.log"
    with StandIn(StandInConfig(log_path=log, access_key_secret="s")) as standin:
        gateway = SmsGatewayAdapter(
            "gw",
            endpoint=standin.url + "/",
            access_key_id="forbear-standin",
            access_key_secret="s",
            sign_name="某某消费金融",
            templates={"CN.M1.REMIND.SMS": "SMS_1"},
        )
        try:
            totals = run(
                app, once=True, config=config(10), worker_id="w1", adapters={"sms": gateway}
            )
        finally:
            gateway.close()
        stats = standin.stats()
    assert totals.sent == 40
    assert stats["batch_requests"] == 4 and stats["accepted"] == 40
    logged = {line["key"]: line["ref"] for line in read_log_lines(log)}
    with app.reading() as conn:
        refs = {
            r.dedupe_key: r.provider_ref
            for r in conn.execute(select(OutboxMessage.dedupe_key, OutboxMessage.provider_ref))
        }
    assert refs == logged and sorted(logged) == sorted(keys)
