"""The dispatcher's use cases on SQLite and PostgreSQL: claim under a lease, the gate and
the live situation asked again at the moment of sending, rendering, and the outcomes.

The book is the three-loan import (``factories.import_three_loans``): L0001 and L0002 of
C0001 (张伟, a debtor mobile and an emergency contact), L0003 of C0002. Every loan has
been unpaid since its first due date, so on the test day (2026-12-07) money is overdue.
Messages are queued the way the daily run queues them (rows of ``outbox``).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, func, insert, select

from clocks import SETUP_AT
from factories import import_three_loans
from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.services import situation
from forbear.services.contacts import add_hold
from forbear.services.outreach import claims, dispatch
from forbear.services.outreach.dispatch import Ready, RetryPolicy, SendResult
from forbear.services.templates import approve_template, install_library, save_template
from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import PiiVault
from forbear.store.models import ContactPoint, Payment
from forbear.store.runs import OutboxMessage, OutboxStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 7)
URL = "https://lender.example"
WORKER = "w1"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


NOON = local("2026-12-07 12:00")


@pytest.fixture
def rules() -> CompiledRules:
    return default_rules()


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    ids = import_three_loans(connection, vault, tmp_path)
    install_library(connection, now=SETUP_AT)
    return ids


_seq = iter(range(1, 1_000_000))


def queue(
    conn: Connection,
    loan_id: int,
    *,
    template: str | None = "CN.M1.REMIND.SMS",
    channel: str = "sms",
    due: datetime = NOON,
    origin: str = "run",
    article: str | None = None,
    as_of: date = DAY,
    actor: str | None = None,
) -> int:
    """One queued message, as the daily run (or an agent) queues it."""
    borrower = conn.execute(
        select(func.min(ContactPoint.borrower_id)).where(ContactPoint.borrower_id.isnot(None))
    ).scalar_one()
    from forbear.store.models import Loan

    borrower = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one()
    n = next(_seq)
    return int(
        conn.execute(
            insert(OutboxMessage)
            .values(
                as_of=as_of,
                loan_id=loan_id,
                borrower_id=borrower,
                action_index=n,
                channel=channel,
                template=template,
                article=article,
                contact_point_id=None,
                dedupe_key=f"test-{n:08d}",
                status=OutboxStatus.QUEUED.value,
                created_at=due - timedelta(hours=4),
                origin=origin,
                actor=actor,
                due_at=due,
                next_attempt_at=due,
                tries=0,
                reason_rules="[]",
            )
            .returning(OutboxMessage.id)
        ).scalar_one()
    )


def row(conn: Connection, outbox_id: int) -> Any:
    return conn.execute(select(OutboxMessage).where(OutboxMessage.id == outbox_id)).one()


def prepare(
    conn: Connection, vault: PiiVault, rules: CompiledRules, at: datetime, *, limit: int = 100
) -> dispatch.Prepared:
    batch = claims.claim(conn, WORKER, at, limit)
    return dispatch.prepare(
        conn, vault, rules, batch, worker_id=WORKER, now=at, today=DAY, public_url=URL
    )


def accept_all(conn: Connection, ready: list[Ready], at: datetime) -> dispatch.Finished:
    return dispatch.finish(
        conn,
        [(r, SendResult("accepted", "test", f"ref-{r.outbox_id}")) for r in ready],
        worker_id=WORKER,
        now=at,
    )


def attempts(conn: Connection, loan_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(ContactAttempt)
            .where(ContactAttempt.loan_id == loan_id)
            .order_by(ContactAttempt.id)
        )
    )


# ------------------------------------------------------------------------------ claims


def test_claim_takes_due_rows_under_a_lease_and_reclaims_an_expired_one(
    connection: Connection, book: dict[str, int]
) -> None:
    due = queue(connection, book["L0001"])
    later = queue(connection, book["L0003"], due=NOON + timedelta(hours=2))
    first = claims.claim(connection, "a", NOON, 10, timedelta(minutes=5))
    assert [c.id for c in first] == [due]
    assert row(connection, due).status == "sending"
    assert row(connection, due).claimed_by == "a"
    # not yet expired: nobody else gets it
    assert claims.claim(connection, "b", NOON + timedelta(minutes=4), 10) == []
    # the lease ran out (worker a was killed): b takes it over
    taken = claims.claim(connection, "b", NOON + timedelta(minutes=6), 10)
    assert [c.id for c in taken] == [due]
    assert row(connection, due).claimed_by == "b"
    assert row(connection, later).status == "queued"


def test_release_gives_unfinished_rows_back(connection: Connection, book: dict[str, int]) -> None:
    one = queue(connection, book["L0001"])
    claims.claim(connection, "a", NOON, 10)
    assert claims.release(connection, "b", [one], NOON) == 0  # not b's
    assert claims.release(connection, "a", [one], NOON) == 1
    assert row(connection, one).status == "queued"
    assert row(connection, one).claimed_by is None


def test_claim_refuses_bad_arguments(connection: Connection) -> None:
    from forbear.domain.errors import ValidationError

    with pytest.raises(ValidationError):
        claims.claim(connection, "", NOON, 10)
    with pytest.raises(ValidationError):
        claims.claim(connection, "a", NOON, 0)


# -------------------------------------------------------------------- regate and render


def test_an_allowed_message_is_recorded_as_a_contact_rendered_and_sent(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    one = queue(connection, book["L0001"])
    prepared = prepare(connection, vault, rules, NOON)
    assert len(prepared.ready) == 1
    ready = prepared.ready[0]
    assert ready.to == "13812345678"
    assert ready.message_id == row(connection, one).dedupe_key
    body = ready.rendered.body
    assert "张*" in body and "张伟" not in body  # masked on SMS
    assert "{" not in body and "元" in body
    assert ready.rendered.params["hotline"]
    # recorded as a contact attempt, pending, with its audit event
    (attempt,) = attempts(connection, book["L0001"])
    assert attempt.allowed and attempt.outcome is None and attempt.channel == "sms"
    assert row(connection, one).contact_attempt_id == attempt.id
    # the text as it will be sent is stored encrypted
    stored = dispatch.unseal(vault, row(connection, one).body_enc)
    assert stored.body == body
    assert "13812345678" not in json.dumps(_audit_payloads(connection), ensure_ascii=False)
    done = accept_all(connection, prepared.ready, NOON)
    assert done.sent == 1
    sent = row(connection, one)
    assert (sent.status, sent.provider, sent.provider_ref, sent.tries) == (
        "sent",
        "test",
        f"ref-{one}",
        1,
    )
    assert sent.sent_at is not None and sent.lease_until is None


def _audit_payloads(conn: Connection) -> list[Any]:
    return list(conn.execute(select(AuditEvent.payload)).scalars())


def test_a_payment_posted_after_the_run_cancels_the_borrowers_queued_reminders(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    reminder = queue(connection, book["L0003"])
    push = queue(connection, book["L0003"], template="CN.M1.REMIND.PUSH", channel="app_push")
    other = queue(connection, book["L0001"])
    # the borrower of L0003 pays everything overdue this morning
    _found, loan = situation.of_loan(connection, book["L0003"], DAY, NOON)
    assert loan is not None and loan["overdue_total"] > 0
    connection.execute(
        insert(Payment).values(
            loan_id=book["L0003"],
            external_ref="T-CURE",
            paid_on=DAY,
            amount=int(loan["overdue_total"]),
            channel="transfer",
        )
    )
    prepared = prepare(connection, vault, rules, NOON)
    assert [r.outbox_id for r in prepared.ready] == [other]
    for cancelled in (reminder, push):
        got = row(connection, cancelled)
        assert got.status == "cancelled"
        assert json.loads(got.reason_rules) == ["OUTBOX.PAID"]
    assert attempts(connection, book["L0003"]) == []  # nothing counted


def test_quiet_hours_beginning_mid_batch_reschedule_to_eight_the_next_morning(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    evening = local("2026-12-07 20:59")
    early = queue(connection, book["L0001"], due=evening - timedelta(minutes=1))
    late = queue(connection, book["L0003"], due=evening)
    # the batch is claimed before 21:00 but reaches the gate after it
    batch = claims.claim(connection, WORKER, evening, 10)
    assert {c.id for c in batch} == {early, late}
    at = local("2026-12-07 21:00")
    prepared = dispatch.prepare(
        connection, vault, rules, batch, worker_id=WORKER, now=at, today=DAY, public_url=URL
    )
    assert prepared.ready == [] and prepared.rescheduled == 2
    for outbox_id in (early, late):
        got = row(connection, outbox_id)
        assert got.status == "queued"
        assert _utc(got.next_attempt_at) == local("2026-12-08 08:00")
        assert got.claimed_by is None
    assert attempts(connection, book["L0001"]) == []


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_an_opt_out_hold_stops_the_next_message(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    first = queue(connection, book["L0001"], due=NOON - timedelta(hours=1))
    prepared = prepare(connection, vault, rules, NOON - timedelta(hours=1))
    accept_all(connection, prepared.ready, NOON - timedelta(hours=1))
    assert row(connection, first).status == "sent"
    # the borrower replies 退订: an opt-out hold on SMS
    add_hold(
        connection,
        loan_id=book["L0001"],
        kind="opt_out",
        channel="sms",
        all_loans=True,
        actor="system:replies",
        since=NOON - timedelta(minutes=30),
    )
    second = queue(connection, book["L0001"])
    push = queue(connection, book["L0001"], template="CN.M1.REMIND.PUSH", channel="app_push")
    prepared = prepare(connection, vault, rules, NOON)
    assert [r.outbox_id for r in prepared.ready] == [push]  # the other medium still goes
    got = row(connection, second)
    assert got.status == "cancelled"
    assert "CN.HOLDS" in json.loads(got.reason_rules)


def test_a_missing_variable_cancels_the_message_with_the_reason(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    save_template(
        connection,
        "TEST.ODD",
        "sms",
        "debtor",
        "zh",
        "{name}您好，您的专属客户经理{manager}将与您联系。",
        now=SETUP_AT,
    )
    approve_template(connection, "TEST.ODD", now=SETUP_AT)
    odd = queue(connection, book["L0001"], template="TEST.ODD")
    prepared = prepare(connection, vault, rules, NOON)
    assert prepared.ready == []
    got = row(connection, odd)
    assert got.status == "cancelled"
    assert json.loads(got.reason_rules) == ["OUTBOX.MISSING_VARIABLE"]
    assert got.body_enc is None
    assert attempts(connection, book["L0001"]) == []


def test_a_template_without_an_approved_version_is_cancelled(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    lost = queue(connection, book["L0001"], template="NO.SUCH.TEMPLATE")
    prepare(connection, vault, rules, NOON)
    assert json.loads(row(connection, lost).reason_rules) == ["OUTBOX.MISSING_TEMPLATE"]


def test_an_article_goes_with_a_signed_portal_link(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    from forbear.services.portal import links

    one = queue(
        connection,
        book["L0001"],
        template=None,
        article="budgeting",
        origin="agent",
        actor="web:agent1",
    )
    prepared = prepare(connection, vault, rules, NOON)
    (ready,) = prepared.ready
    assert ready.outbox_id == one
    link = ready.rendered.params["link"]
    assert link.startswith(URL + "/portal/sign-in?t=")
    token = link.split("t=", 1)[1]
    borrower = row(connection, one).borrower_id
    assert links.verify(vault, token, now=NOON) == borrower
    # the agent's message is the agent's contact; education asks for no payment
    (attempt,) = attempts(connection, book["L0001"])
    assert (attempt.actor, attempt.is_demand) == ("web:agent1", False)


# --------------------------------------------------------------------------- outcomes


class Results:
    """What a provider answered, per try (a real sequence, not a mock)."""

    def __init__(self, *answers: SendResult) -> None:
        self.answers = list(answers)

    def next(self) -> SendResult:
        return self.answers.pop(0)


def test_a_transient_failure_is_retried_with_backoff_then_dead_after_the_last_try(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    one = queue(connection, book["L0001"])
    policy = RetryPolicy(max_tries=3, base_delay=timedelta(seconds=60))
    rng = random.Random(7)
    at = NOON
    waits = []
    for attempt in (1, 2, 3):
        prepared = prepare(connection, vault, rules, at)
        assert [r.outbox_id for r in prepared.ready] == [one], attempt
        throttled = SendResult("transient", "test", reason="throttled", code="429", retry_after=5)
        dispatch.finish(
            connection,
            [(prepared.ready[0], throttled)],
            worker_id=WORKER,
            now=at,
            policy=policy,
            rng=rng,
        )
        got = row(connection, one)
        assert got.tries == attempt
        if attempt < 3:
            assert got.status == "queued"
            wait = _utc(got.next_attempt_at) - at
            waits.append(wait)
            # exponential with jitter: between half and all of base * 2**(n-1)
            assert (
                timedelta(seconds=30 * 2 ** (attempt - 1))
                <= wait
                <= timedelta(seconds=60 * 2 ** (attempt - 1))
            )
            # not claimable before its time
            assert claims.claim(connection, WORKER, at + wait - timedelta(seconds=1), 10) == []
            at = at + wait
        else:
            assert got.status == "dead"
            assert got.last_error == "throttled (429)"
    # each failed try was a failed contact attempt: three attempts, all failed
    outcomes = [a.outcome for a in attempts(connection, book["L0001"])]
    assert outcomes == ["failed", "failed", "failed"]


def test_retry_after_from_the_provider_is_honoured(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    one = queue(connection, book["L0001"])
    prepared = prepare(connection, vault, rules, NOON)
    dispatch.finish(
        connection,
        [(prepared.ready[0], SendResult("transient", "test", reason="busy", retry_after=3600))],
        worker_id=WORKER,
        now=NOON,
        policy=RetryPolicy(base_delay=timedelta(seconds=1)),
    )
    assert _utc(row(connection, one).next_attempt_at) >= NOON + timedelta(hours=1)


def test_an_invalid_number_marks_the_contact_point_and_the_gate_then_blocks_it(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    one = queue(connection, book["L0003"])
    prepared = prepare(connection, vault, rules, NOON)
    (ready,) = prepared.ready
    dispatch.finish(
        connection,
        [(ready, SendResult("permanent", "test", reason="no such number", address_invalid=True))],
        worker_id=WORKER,
        now=NOON,
    )
    got = row(connection, one)
    assert got.status == "failed"
    (attempt,) = attempts(connection, book["L0003"])
    assert attempt.outcome == "invalid_number"
    hold = connection.execute(
        select(Hold).where(Hold.contact_point_id == ready.contact_point_id)
    ).one()
    assert (hold.kind, hold.reason) == ("do_not_contact", "OUTBOX.ADDRESS_INVALID")
    # the next message to that number is blocked by the gate
    again = queue(connection, book["L0003"], due=NOON + timedelta(hours=1))
    prepare(connection, vault, rules, NOON + timedelta(hours=1))
    blocked = row(connection, again)
    assert blocked.status == "cancelled"
    assert "CN.HOLDS" in json.loads(blocked.reason_rules)


def test_a_killed_worker_s_recorded_message_is_sent_again_with_the_same_key_and_text(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    one = queue(connection, book["L0001"])
    first = prepare(connection, vault, rules, NOON)  # gated, recorded; then the worker dies
    (ready,) = first.ready
    later = NOON + timedelta(minutes=10)
    batch = claims.claim(connection, "w2", later, 10)
    assert [c.id for c in batch] == [one] and batch[0].in_flight
    again = dispatch.prepare(
        connection, vault, rules, batch, worker_id="w2", now=later, today=DAY, public_url=URL
    )
    (resent,) = again.ready
    assert resent.message_id == ready.message_id
    assert resent.rendered.body == ready.rendered.body
    assert resent.contact_attempt_id == ready.contact_attempt_id
    assert len(attempts(connection, book["L0001"])) == 1  # the gate was not asked twice
    # the dead worker's late answer changes nothing: the row is no longer its own
    late = dispatch.finish(
        connection, [(ready, SendResult("accepted", "test", "x"))], worker_id=WORKER, now=later
    )
    assert late.sent == 0
    assert row(connection, one).status == "sending"


def test_a_system_message_is_filtered_but_not_gated_nor_counted(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    add_hold(
        connection,
        loan_id=book["L0001"],
        kind="opt_out",
        channel="sms",
        all_loans=True,
        actor="system:replies",
        since=NOON - timedelta(minutes=5),
    )
    confirm = queue(connection, book["L0001"], template="system.opt_out_confirm", origin="system")
    prepared = prepare(connection, vault, rules, NOON)
    (ready,) = prepared.ready
    assert ready.outbox_id == confirm and "退订" in ready.rendered.body
    assert ready.contact_attempt_id is None
    assert attempts(connection, book["L0001"]) == []
    accept_all(connection, prepared.ready, NOON)
    assert row(connection, confirm).status == "sent"


def test_a_borrower_with_several_messages_in_one_batch_meets_the_daily_cap_once(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    """The batch's messages of one debtor count against each other (one gate call): AI
    voice calls count like calls, at most 3 a day per debtor while their outcomes are
    pending (CN.FREQ: cap_connected_per_debtor_per_day); the rest wait for tomorrow."""
    ids = [
        queue(connection, book["L0001"], template="CN.M1.AI_VOICE", channel="ai_call")
        for _ in range(5)
    ]
    prepared = prepare(connection, vault, rules, NOON)
    sent = {r.outbox_id for r in prepared.ready}
    assert len(sent) == 3
    allowed = [a for a in attempts(connection, book["L0001"]) if a.allowed]
    assert len(allowed) == 3
    for i in ids:
        if i not in sent:
            got = row(connection, i)
            assert got.status == "queued"
            assert _utc(got.next_attempt_at) >= local("2026-12-08 00:00")


def test_a_run_message_stops_once_a_plan_or_promise_governs(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    from forbear.services.outreach.checks import PROMISE, situation_block

    loan = {"status": "active", "overdue_total": 100, "next_due_amount": 0, "active_promise": True}
    assert situation_block(origin="run", planned_on=DAY, loan=loan, purpose="remind") == PROMISE
    assert situation_block(origin="run", planned_on=DAY, loan=loan, purpose="educate") is None
    assert situation_block(origin="agent", planned_on=DAY, loan=loan) is None
    assert situation_block(origin="system", planned_on=DAY, loan=None) is None
