"""The dispatcher killed with SIGKILL at random points, 20 times, while it sends 3,000
SMS (``FORBEAR_KILL_MESSAGES`` to change the count) on PostgreSQL to the provider
stand-in, which also throttles, fails, hangs and loses acknowledgements of messages it
took; each time a new worker is started, its clock past the killed one's leases. At the
end every message was accepted by the provider exactly once per idempotency key, none is
lost or left behind, the database's sent messages are exactly the provider's log (with
the same provider references), repeats carried the same content, and each sent message
has its one contact attempt.

Every other worker sends in batches (``SendBatchSms``, :data:`SEND_BATCH` messages a
request, each under its own key), the others one request a message, so a batch whose
answer was lost or whose worker was killed is sent again singly, and the reverse: the
stand-in must still accept each key once with the same content.

The kill moments are tied to the worker's progress (requests the provider has heard from
it), not to fixed waits, so each kill lands with a backlog left however fast the machine
is, and the backlog need only cover the 20 kills (about 100 messages each): 3,000 messages
exercise the same kills as 10,000 did, in a fraction of the time (the worker prepares
about 200 messages a second on a loaded machine). It stays the suite's slowest test (~20
worker processes, each importing the application): that is what it is about."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

import _dispatch_book as book
from databases import fresh_pg
from forbear.sim.provider import Faults, StandIn, StandInConfig
from forbear.store.contacts import ContactAttempt
from forbear.store.runs import OutboxMessage

MESSAGES = int(os.environ.get("FORBEAR_KILL_MESSAGES", "3000"))
KILLS = 20
BATCH = 50  # a killed worker's claim: small, so that a kill finds it in any phase
SEND_BATCH = 10  # messages per request of the batching workers
JITTER = 0.5  # seconds after the chosen request: at least a batch's send and answers
LEASE = 20.0  # seconds of the workers' clock
TERMINAL = {"sent", "delivered", "failed", "dead", "cancelled"}


def wait_for_requests(standin: StandIn, target: int, worker: subprocess.Popen[bytes]) -> int:
    """Wait until the provider has had ``target`` requests in all (or the worker ended, or
    30 s passed: nothing left to send); the count then."""
    deadline = time.monotonic() + 30
    while True:
        seen = standin.stats().get("requests", 0)
        if seen >= target or worker.poll() is not None or time.monotonic() > deadline:
            return seen
        time.sleep(0.01)


def statuses(engine: object) -> dict[str, int]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    return {str(status): int(n) for status, n in rows}


def sms_attempts(engine: object) -> dict[str | None, int]:
    """The SMS contact attempts by outcome (None: no outcome yet, as a sent message's)."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(ContactAttempt.outcome, func.count())
            .where(ContactAttempt.channel == "sms")
            .group_by(ContactAttempt.outcome)
        ).all()
    return {outcome: int(n) for outcome, n in rows}


@pytest.mark.postgres
@pytest.mark.slow
def test_killed_dispatchers_send_every_message_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    with fresh_pg("forbear_dispatch_kill") as engine:
        book.build_book(engine, 300, tmp_path / "book")
        loans = book.remindable(engine)
        assert loans
        attempts_before = sms_attempts(engine)
        book.queue(engine, loans, MESSAGES, prefix="kill", due_at=book.NOON)
        url = engine.url.render_as_string(hide_password=False)
        log = tmp_path / "accept.log"
        faults = Faults(
            throttle=0.02,
            server_error=0.01,
            lost_ack=0.01,
            hang=0.005,
            hang_seconds=3,
            throttle_retry_after=1,
            seed=7,
        )
        standin = StandIn(
            StandInConfig(log_path=log, access_key_secret=book.SMS_SECRET, faults=faults)
        ).start()
        endpoint = standin.url + "/"
        epoch, skew = time.time(), 0.0
        left_sending: list[int] = []
        try:
            for kill in range(KILLS):
                before = standin.stats().get("requests", 0)
                send_batch = SEND_BATCH if kill % 2 else 1
                worker = subprocess.Popen(
                    book.worker_command(
                        url,
                        tmp_path / "data",
                        endpoint,
                        worker_id=f"kill-{kill}",
                        epoch=epoch,
                        skew=skew,
                        once=False,
                        timeout=1.0,
                        lease_seconds=LEASE,
                        base_delay=0.5,
                        batch=BATCH,
                        send_batch=send_batch,
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                # Kill while it sends, at a random point of its progress: once the
                # provider has heard from it, after up to a batch of further requests,
                # and then up to JITTER seconds, so that kills land while it sends, while
                # it stores the answers and while it claims and prepares the next batch.
                try:
                    first = wait_for_requests(standin, before + 1, worker)
                    further = rng.randint(0, BATCH // send_batch)  # up to a claim's requests
                    wait_for_requests(standin, first + further, worker)
                    time.sleep(rng.uniform(0.0, JITTER))
                finally:
                    worker.kill()
                    _, err = worker.communicate()
                assert worker.returncode == -9, err.decode()[-2000:]
                left_sending.append(statuses(engine).get("sending", 0))
                skew += LEASE + 1  # the next worker's clock is past the killed one's leases
            # Then workers that run to the end, until nothing is waiting.
            for last in range(40):
                now = statuses(engine)
                if set(now) <= TERMINAL:
                    break
                skew += LEASE + 1
                finisher = subprocess.run(
                    book.worker_command(
                        url,
                        tmp_path / "data",
                        endpoint,
                        worker_id=f"finish-{last}",
                        epoch=epoch,
                        skew=skew,
                        once=True,
                        timeout=1.0,
                        lease_seconds=LEASE,
                        base_delay=0.5,
                        send_batch=SEND_BATCH if last % 2 else 1,
                    ),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert finisher.returncode == 0, finisher.stderr[-3000:]
        finally:
            stats = standin.stats()
            standin.stop()
        final = statuses(engine)
        agreement = book.agreement(engine, log, "kill")
        after = sms_attempts(engine)
        attempts = {k: after.get(k, 0) - attempts_before.get(k, 0) for k in after}
    summary = f"{final}, {agreement}, provider {stats}, sending after each kill {left_sending}"
    print(summary)
    assert set(final) <= TERMINAL, summary  # nothing left queued or sending
    assert final.get("sent", 0) + final.get("delivered", 0) == MESSAGES, summary  # none lost
    assert agreement.queued == MESSAGES
    assert agreement.log_lines == agreement.log_keys == MESSAGES, summary  # once per key
    assert agreement.exact, summary  # the database's sent messages are the provider's log
    # One contact attempt per message sent, none doubled by a restart; a try that failed
    # transiently was its own attempt (the retry asks the gate again) and says "failed".
    summary += f", attempts {attempts}"
    assert attempts.get(None, 0) == MESSAGES, summary
    assert set(attempts) <= {None, "failed"}, summary
    transient = sum(stats.get(k, 0) for k in ("throttle", "server_error", "hang", "lost_ack"))
    assert attempts.get("failed", 0) <= transient, summary
    assert stats.get("conflicts", 0) == 0, summary  # a repeat carried the same content
    assert stats.get("duplicates", 0) > 0, summary  # resends under the same key happened
    assert sum(left_sending) > 0, summary  # kills landed with messages in flight
    assert stats.get("batch_requests", 0) > 0, summary  # batches were sent and killed too
