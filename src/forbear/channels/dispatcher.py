"""``forbear dispatch``: the outbox leaves the building.

One turn of the loop (:meth:`Dispatcher.turn`):

1. **claim** a batch of due rows for the configured channels whose senders are not
   backed up (:func:`forbear.services.outreach.claims.claim`, its own transaction);
2. **prepare** it (:func:`forbear.services.outreach.dispatch.prepare`, one transaction:
   the situation and the gate asked again at this moment, rendered, recorded as contacts);
3. **hand** each message to its channel's thread pool; a send waits for a token of its
   provider's bucket (the provider's rate limit), then calls the adapter; with a provider
   ``batch_size`` above 1 and an adapter that has ``send_many``
   (:class:`~forbear.channels.base.BatchAdapter`), the batch's messages go in groups of
   that size, one request each, a group waiting for as many tokens as it has messages
   (the limit counts messages, not requests);
4. **finish** the answers that have come back (:func:`~forbear.services.outreach.dispatch.finish`,
   a transaction per group of answers).

A pool per channel, and a channel with too many sends outstanding is not claimed for:
a provider that hangs holds its own channel's messages (their leases are kept alive),
never the others'. Sends run outside any transaction.

:meth:`Dispatcher.stop` (the command line calls it on SIGTERM/SIGINT) stops claiming,
lets the sends under way finish and stores their answers, gives rows claimed but not yet
handed over back to the queue, and flushes the adapters. ``--once`` (:meth:`run_once`)
dispatches until nothing is due and returns.

Logs counts, channel names and error kinds only: never an address, a name or a text.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from forbear.bootstrap import Forbear
from forbear.channels.base import (
    Accepted,
    BatchAdapter,
    ChannelAdapter,
    ChannelFailure,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)
from forbear.channels.config import ChannelsConfig
from forbear.channels.config import load as load_config
from forbear.channels.registry import build
from forbear.channels.sandbox import SandboxAdapter
from forbear.services.contacts.gate import lender_rules
from forbear.services.outreach import claims, dispatch
from forbear.services.outreach.dispatch import Ready, SendResult

log = logging.getLogger("forbear.dispatch")

FINISH_GROUP = 500  # answers stored per transaction
# Answers wait at most this long (seconds) to be stored together: each storing transaction
# also extends the audit chain, so storing the few answers that came back since the last
# turn (the loop turns every few milliseconds) cost more than the sends themselves.
FINISH_EVERY = 0.25
IDLE_POLL = 2.0  # seconds between empty turns of the long-running loop


class TokenBucket:
    """``rate`` sends per second with bursts of up to ``burst``; :meth:`take` blocks
    until a token is free (or ``stop`` is set: then False)."""

    def __init__(
        self,
        rate: float | None,
        burst: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._sleep = sleep
        self.capacity = max(1.0, burst if burst is not None else (rate or 1.0))
        self._tokens = self.capacity
        self._clock = monotonic
        self._last = monotonic()
        self._lock = threading.Lock()

    def take(self, stop: threading.Event | None = None, n: int = 1) -> bool:
        """``n`` tokens (a request of ``n`` messages). More than the bucket holds are taken
        once it is full, leaving it in debt: the takes after it wait the longer, so the
        rate holds on average."""
        if self.rate is None:
            return True
        need = min(float(n), self.capacity)
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= need:
                    self._tokens -= n
                    return True
                wait = (need - self._tokens) / self.rate
            if stop is not None and stop.is_set():
                return False
            self._sleep(min(wait, 0.25))


@dataclass
class Totals:
    """What a dispatcher did (counts only)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    failed: int = 0
    cancelled: int = 0
    rescheduled: int = 0
    released: int = 0
    errors: int = 0  # turns that failed (run_forever goes on)
    by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return (
            self.sent + self.retried + self.dead + self.failed + self.cancelled + self.rescheduled
        )


@dataclass
class _Lane:
    """One channel: its adapter, its pool, its provider's bucket, sends outstanding."""

    channel: str
    adapter: ChannelAdapter
    pool: ThreadPoolExecutor
    bucket: TokenBucket
    pending: dict[int, Ready] = field(default_factory=dict)
    batch_size: int = 1  # messages per provider request (send_many when above 1)


def default_worker_id() -> str:
    import os

    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _result(adapter: ChannelAdapter, message: OutgoingMessage) -> SendResult:
    try:
        accepted = adapter.send(message)
    except ChannelFailure as exc:
        return _outcome(adapter, exc)
    except Exception as exc:  # an adapter's bug must not lose the message: retried later
        # the type only: an exception's text may carry the address or the request
        log.warning("adapter %s raised %s", adapter.name, type(exc).__name__)
        return SendResult("transient", adapter.name, reason=f"adapter error {type(exc).__name__}")
    return _outcome(adapter, accepted)


def _outcome(adapter: ChannelAdapter, outcome: Accepted | ChannelFailure) -> SendResult:
    if isinstance(outcome, Accepted):
        return SendResult("accepted", outcome.provider or adapter.name, outcome.provider_ref)
    if isinstance(outcome, PermanentFailure):
        return SendResult(
            "permanent",
            adapter.name,
            reason=outcome.reason,
            code=outcome.code,
            address_invalid=outcome.address_invalid,
        )
    retry_after = outcome.retry_after if isinstance(outcome, TransientFailure) else None
    return SendResult(
        "transient", adapter.name, reason=outcome.reason, code=outcome.code, retry_after=retry_after
    )


def _results(adapter: BatchAdapter, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
    """``send_many``'s outcomes as answers; an adapter that raises, or answers for other
    than its messages, leaves them all to be tried again (never lost)."""
    try:
        outcomes = adapter.send_many(messages)
        if len(outcomes) != len(messages):
            raise ValueError("send_many answered for other than its messages")
        return [_outcome(adapter, outcome) for outcome in outcomes]
    except Exception as exc:  # an adapter's bug must not lose the messages: retried later
        log.warning("adapter %s raised %s", adapter.name, type(exc).__name__)
        error = SendResult("transient", adapter.name, reason=f"adapter error {type(exc).__name__}")
        return [error] * len(messages)


def outgoing(ready: Ready) -> OutgoingMessage:
    r = ready.rendered
    return OutgoingMessage(
        message_id=ready.message_id,
        channel=ready.channel,
        to=ready.to,
        body=r.body,
        lang=r.lang,
        subject=r.subject,
        template=r.template or r.article,
        params=dict(r.params),
        borrower_ref=ready.borrower_ref,
        loan_ref=ready.loan_ref,
    )


class Dispatcher:
    """The loop of one worker (module docstring). ``adapters`` (channel -> adapter) may be
    given, for tests and for callers that build their own; otherwise they are built from
    ``config``. Not thread-safe: one thread drives it; :meth:`stop` may come from any."""

    def __init__(
        self,
        forbear: Forbear,
        config: ChannelsConfig | None = None,
        *,
        worker_id: str | None = None,
        batch: int | None = None,
        adapters: Mapping[str, ChannelAdapter] | None = None,
        max_pending: int | None = None,
        backlog_batch: int | None = None,
    ) -> None:
        self.forbear = forbear
        settings = forbear.settings
        self.config = config or load_config(settings.channels_file, settings.data_dir)
        self.worker_id = claims.worker_id_ok(worker_id or default_worker_id())
        self.batch = batch or self.config.batch
        self.backlog_batch = max(self.batch, backlog_batch or self.config.backlog_batch)
        self.max_pending = max_pending or 2 * self.batch
        # rows the next claim asks for: ``batch``, doubled (up to ``backlog_batch``) after
        # each claim that came back full while the sends kept up (:meth:`_claim_size`)
        self._size = self.batch
        self._full = False
        self.totals = Totals()
        self._stop = threading.Event()
        # answers as they come back; None: not sent (stopping), to be given back
        self._answers: queue.SimpleQueue[tuple[Ready, SendResult | None]] = queue.SimpleQueue()
        self._lanes: dict[str, _Lane] = {}
        self._own: list[ChannelAdapter] = []
        # When the leases of the sends in flight next need extending: every lease this
        # worker holds runs at least until this moment plus half a lease (claims and
        # extensions both give a whole lease), so extending no earlier keeps them all.
        self._extend_at: datetime | None = None
        self._answered_since: float | None = None  # monotonic: answers waiting since
        self._build(adapters)

    # --- set up and tear down --------------------------------------------------------

    def _build(self, given: Mapping[str, ChannelAdapter] | None) -> None:
        secrets = {
            k: v.get_secret_value() for k, v in self.forbear.settings.channel_secrets.items()
        }
        buckets: dict[str, TokenBucket] = {}
        for provider in self.config.providers:
            adapter: ChannelAdapter | None = None
            for channel in provider.channels:
                if given is not None:
                    if channel not in given:
                        continue
                    adapter = given[channel]
                elif adapter is None:
                    adapter = build(
                        provider, data_dir=self.forbear.settings.data_dir, secrets=secrets
                    )
                    if isinstance(adapter, SandboxAdapter):
                        adapter.use_clock(self.forbear.now)
                    self._own.append(adapter)
                assert adapter is not None
                rate = provider.rate_per_second or adapter.rate_per_second
                bucket = buckets.setdefault(provider.name, TokenBucket(rate))
                batch_size = 1
                if provider.batch_size > 1 and isinstance(adapter, BatchAdapter):
                    batch_size = max(1, min(provider.batch_size, adapter.max_batch))
                self._lanes[channel] = _Lane(
                    channel,
                    adapter,
                    ThreadPoolExecutor(
                        max_workers=provider.threads, thread_name_prefix=f"send-{channel}"
                    ),
                    bucket,
                    batch_size=batch_size,
                )

    def stop(self) -> None:
        """Stop claiming; the sends under way finish (see :meth:`close`)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Wait for the sends under way, store their answers, flush and close adapters."""
        for lane in self._lanes.values():
            lane.pool.shutdown(wait=True)
        self._finish_answers()
        for adapter in {id(lane.adapter): lane.adapter for lane in self._lanes.values()}.values():
            try:
                adapter.flush()
            finally:
                if adapter in self._own:
                    adapter.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the loop ----------------------------------------------------------------------

    def run_once(self) -> int:
        """Dispatch until nothing is due (or :meth:`stop`), wait for every answer and
        store it; returns how many messages were handled in this pass."""
        before = self.totals.handled
        while not self.stopping:
            if self.turn() == 0 and not self._outstanding():
                break
        self._drain(wait=True)
        for lane in self._lanes.values():
            lane.adapter.flush()
        return self.totals.handled - before

    def run_forever(self, poll: float = IDLE_POLL) -> None:
        """Turn until :meth:`stop`; rests ``poll`` seconds when nothing was due."""
        while not self.stopping:
            try:
                claimed = self.turn()
            except Exception as exc:  # the database away, a bad batch: rest, then again
                # the type only (a message may quote a value); claimed rows come back
                # when their lease runs out
                self.totals.errors += 1
                log.warning("dispatch turn failed: %s", type(exc).__name__)
                self._stop.wait(poll)
                continue
            if claimed == 0 and not self._outstanding():
                for lane in self._lanes.values():
                    lane.adapter.flush()
                self._stop.wait(poll)
        self._drain(wait=True)

    def _outstanding(self) -> bool:
        return any(lane.pending for lane in self._lanes.values())

    def turn(self) -> int:
        """One batch: claim, prepare, hand over; store the answers that came back.
        Returns how many rows were claimed."""
        self._drain(wait=False)
        self._keep_leases()
        open_channels = [
            c for c, lane in self._lanes.items() if len(lane.pending) < self.max_pending
        ]
        if not open_channels or self.stopping:
            if self._outstanding():
                time.sleep(0.01)
            return 0
        forbear = self.forbear
        size = self._claim_size()
        with forbear.transaction() as conn:
            batch = claims.claim(
                conn,
                self.worker_id,
                forbear.now(),
                size,
                self.config.lease,
                channels=open_channels,
            )
        self._full = len(batch) >= size
        if not batch:
            return 0
        if self._extend_at is None:
            self._extend_at = forbear.now() + self.config.lease / 2
        self.totals.claimed += len(batch)
        if self.stopping:
            self._release([c.id for c in batch])
            return len(batch)
        with forbear.transaction() as conn:
            rules = lender_rules(forbear.settings.data_dir, conn)
            prepared = dispatch.prepare(
                conn,
                forbear.vault,
                rules,
                batch,
                worker_id=self.worker_id,
                now=forbear.now(),
                today=forbear.today(),
                public_url=forbear.settings.public_url,
                lease=self.config.lease,
            )
        self.totals.cancelled += sum(prepared.cancelled.values())
        for rule, n in prepared.cancelled.items():
            self.totals.by_rule[rule] = self.totals.by_rule.get(rule, 0) + n
        self.totals.rescheduled += prepared.rescheduled
        grouped: dict[str, list[Ready]] = {}
        for ready in prepared.ready:
            lane = self._lanes[ready.channel]
            lane.pending[ready.outbox_id] = ready
            if lane.batch_size > 1:
                grouped.setdefault(ready.channel, []).append(ready)
            else:
                lane.pool.submit(self._send, lane, ready)
        for channel, readies in grouped.items():
            lane = self._lanes[channel]
            # one template a provider request (the large SMS APIs' batch actions)
            readies.sort(key=lambda r: r.rendered.template or "")
            for start in range(0, len(readies), lane.batch_size):
                lane.pool.submit(self._send_many, lane, readies[start : start + lane.batch_size])
        return len(batch)

    def _claim_size(self) -> int:
        """How many rows to claim now. Preparing a batch has a fixed cost (the live
        situation and the gate are read once per batch, about half a CPU second), so while
        a backlog drains the batch grows: doubled after a claim that came back full, as
        long as the sends keep up (fewer than ``batch`` outstanding), up to
        ``backlog_batch``; back to ``batch`` as soon as a claim finds less than it asked
        for. Outside a backlog batches stay small: the debtors' locks a batch holds while
        it is prepared are held briefly, and a message is not held behind many others."""
        if not self._full:
            self._size = self.batch
        elif sum(len(lane.pending) for lane in self._lanes.values()) < self.batch:
            self._size = min(2 * self._size, self.backlog_batch)
        return self._size

    def _send(self, lane: _Lane, ready: Ready) -> None:
        if self.stopping or not lane.bucket.take(self._stop):
            # not started before the stop: given back (with its recorded attempt and
            # text, sent by the next worker under the same idempotency key)
            self._answers.put((ready, None))
            return
        self._answers.put((ready, _result(lane.adapter, outgoing(ready))))

    def _send_many(self, lane: _Lane, group: list[Ready]) -> None:
        """One provider request for ``group`` (a lane whose adapter has ``send_many``)."""
        if self.stopping or not lane.bucket.take(self._stop, len(group)):
            for ready in group:
                self._answers.put((ready, None))
            return
        adapter = lane.adapter
        assert isinstance(adapter, BatchAdapter)
        for ready, answer in zip(
            group, _results(adapter, [outgoing(r) for r in group]), strict=True
        ):
            self._answers.put((ready, answer))

    def _drain(self, *, wait: bool) -> None:
        """Store the answers that have come back (together: :data:`FINISH_GROUP` of them,
        or all once the first has waited :data:`FINISH_EVERY`, or at once when every send
        in flight has answered); with ``wait``, until none is outstanding (the pools
        finish their queues)."""
        while True:
            self._finish_answers(force=False)
            if not wait or not self._outstanding():
                return
            time.sleep(0.005)

    def _due_to_store(self) -> bool:
        waiting = self._answers.qsize()
        if waiting == 0:
            self._answered_since = None
            return False
        in_flight = sum(len(lane.pending) for lane in self._lanes.values())
        if waiting >= min(FINISH_GROUP, in_flight):
            return True
        now = time.monotonic()
        if self._answered_since is None:
            self._answered_since = now
        return now - self._answered_since >= FINISH_EVERY

    def _finish_answers(self, *, force: bool = True) -> None:
        if not force and not self._due_to_store():
            return
        self._answered_since = None
        while True:
            group: list[tuple[Ready, SendResult]] = []
            unsent: list[Ready] = []
            while len(group) + len(unsent) < FINISH_GROUP:
                try:
                    ready, answer = self._answers.get_nowait()
                except queue.Empty:
                    break
                if answer is None:
                    unsent.append(ready)
                else:
                    group.append((ready, answer))
            if not group and not unsent:
                return
            with self.forbear.transaction() as conn:
                done = dispatch.finish(
                    conn,
                    group,
                    worker_id=self.worker_id,
                    now=self.forbear.now(),
                    policy=self.config.retry,
                )
                if unsent:
                    self.totals.released += claims.release(
                        conn, self.worker_id, [r.outbox_id for r in unsent], self.forbear.now()
                    )
            for ready in [*(r for r, _ in group), *unsent]:
                self._lanes[ready.channel].pending.pop(ready.outbox_id, None)
            self.totals.sent += done.sent
            self.totals.retried += done.retried
            self.totals.dead += done.dead
            self.totals.failed += done.failed

    def _keep_leases(self) -> None:
        """Extend the leases of sends still outstanding (a slow provider's), so another
        worker does not take them over while this one still waits for an answer. Only
        once half a lease has passed since the oldest of them was given (``_extend_at``):
        the loop turns every few milliseconds while the lanes are full, and rewriting
        every lease in flight on each turn cost more than the sends."""
        ids = [i for lane in self._lanes.values() for i in lane.pending]
        if not ids:
            self._extend_at = None
            return
        now = self.forbear.now()
        if self._extend_at is not None and now < self._extend_at:
            return
        with self.forbear.transaction() as conn:
            claims.extend(conn, self.worker_id, ids, now + self.config.lease)
        self._extend_at = now + self.config.lease / 2

    def _release(self, ids: list[int]) -> None:
        with self.forbear.transaction() as conn:
            self.totals.released += claims.release(conn, self.worker_id, ids, self.forbear.now())


def run(
    forbear: Forbear,
    *,
    once: bool,
    batch: int | None = None,
    worker_id: str | None = None,
    config: ChannelsConfig | None = None,
    adapters: Mapping[str, ChannelAdapter] | None = None,
    on_ready: Callable[[Dispatcher], None] | None = None,
) -> Totals:
    """Run a dispatcher (once, or until stopped), holding the SQLite single-dispatcher
    lock when the database is SQLite (a second is refused with
    :class:`~forbear.services.outreach.claims.DispatcherBusy`)."""
    engine = forbear.engine
    with (
        claims.single_dispatcher(
            engine.dialect.name, engine.url.database, Path(forbear.settings.data_dir)
        ),
        Dispatcher(forbear, config, worker_id=worker_id, batch=batch, adapters=adapters) as found,
    ):
        if on_ready is not None:
            on_ready(found)
        if once:
            found.run_once()
        else:
            found.run_forever()
        return found.totals
