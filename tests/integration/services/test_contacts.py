"""Contacts online: the gate is asked at the moment of contact, and the attempt, its
decision and its audit event are stored together; on SQLite and PostgreSQL.

The book is built with the import services, as a lender's file would arrive: L0001 and
L0002 belong to C0001 (a debtor mobile and an emergency contact), L0003 to C0002.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Connection, func, select

from factories import import_three_loans
from forbear.domain.compliance import schema as contracts
from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.domain.compliance.gate import gate
from forbear.domain.errors import NotFound, ValidationError
from forbear.services import contacts as svc
from forbear.store import contacts as store
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.models import ContactPoint

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTOR = "agent:7"


def local(text: str) -> datetime:
    """A debtor-local wall-clock time (Shanghai) as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def rules() -> CompiledRules:
    return default_rules()  # CN with the default lender configuration: 08:00-21:00


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    ids = import_three_loans(connection, vault, tmp_path)
    points = connection.execute(
        select(ContactPoint.id, ContactPoint.owner_type, ContactPoint.borrower_id)
    ).all()
    borrower_1 = connection.execute(
        select(func.min(ContactPoint.borrower_id))
    ).scalar_one()  # C0001 was imported first
    for point in points:
        if point.owner_type == "emergency_contact":
            ids["emergency"] = point.id
        elif point.borrower_id == borrower_1:
            ids["debtor_mobile"] = point.id
        else:
            ids["other_debtor_mobile"] = point.id
    return ids


def attempts(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(store.ContactAttempt)).scalar_one()


def audit_actions(conn: Connection) -> list[str]:
    return list(conn.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def test_an_allowed_contact_is_stored_with_its_decision_and_audit_event_in_one_transaction(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    savepoint = connection.begin_nested()
    decision = svc.request_contact(
        connection,
        loan_id=book["L0001"],
        channel="call",
        at=local("2026-03-10 10:00"),
        actor=ACTOR,
        rules=rules,
    )
    assert decision.allowed and decision.blocked_by == ()
    assert decision.contact_point_id == book["debtor_mobile"]  # the debtor's primary phone
    assert decision.party == contracts.Party.DEBTOR
    stored = connection.execute(
        select(store.ContactAttempt).where(store.ContactAttempt.id == decision.attempt_id)
    ).one()
    assert (stored.allowed, stored.blocked_by, stored.outcome) == (True, "[]", None)
    event = connection.execute(
        select(AuditEvent.action, AuditEvent.subject_id, AuditEvent.payload).where(
            AuditEvent.subject_type == "contact_attempt"
        )
    ).one()
    assert (event.action, event.subject_id) == ("contact.attempt", str(decision.attempt_id))
    assert "13812345678" not in event.payload  # no personal data in the trail
    # The attempt and its audit event live and die with the caller's transaction.
    savepoint.rollback()
    assert attempts(connection) == 0
    assert "contact.attempt" not in audit_actions(connection)


def test_a_call_in_quiet_hours_is_stored_as_blocked_with_rule_and_earliest_time_not_counted(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    at = local("2026-03-10 22:30")
    decision = svc.request_contact(
        connection, loan_id=book["L0001"], channel="call", at=at, actor=ACTOR, rules=rules
    )
    assert not decision.allowed
    assert "CN.HOURS.QUIET" in decision.blocked_by
    assert decision.earliest_allowed_at == local("2026-03-11 08:00")
    stored = connection.execute(select(store.ContactAttempt)).one()
    assert (stored.allowed, stored.outcome) == (False, "blocked")
    assert "CN.HOURS.QUIET" in svc.blocked_by_of(stored.blocked_by)
    assert stored.earliest_allowed_at == local("2026-03-11 08:00")
    assert audit_actions(connection)[-1] == "contact.blocked"
    # A blocked request is a decision, never a contact: the history does not count it.
    assert store.read_history(connection, before=at + timedelta(hours=1)).height == 0
    with pytest.raises(svc.ContactBlocked) as caught:
        decision.raise_if_blocked()
    assert caught.value.rule_ids == decision.blocked_by
    assert "CN.HOURS.QUIET" in str(caught.value)


def test_the_fourth_connected_call_of_a_day_is_blocked(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    for hour in (9, 11, 13):
        made = svc.request_contact(
            connection,
            loan_id=book["L0001"],
            channel="call",
            at=local(f"2026-03-10 {hour:02}:00"),
            actor=ACTOR,
            rules=rules,
        )
        assert made.allowed and made.attempt_id is not None
        svc.record_outcome(connection, made.attempt_id, "connected", ACTOR)
    # Counted per debtor across loans (CN.FREQ.CROSSPARTY): L0002 is the same debtor's.
    fourth = svc.request_contact(
        connection,
        loan_id=book["L0002"],
        channel="ai_call",
        at=local("2026-03-10 15:00"),
        actor=ACTOR,
        rules=rules,
    )
    assert not fourth.allowed
    assert "CN.FREQ.CONNECTED" in fourth.blocked_by
    assert fourth.earliest_allowed_at is not None
    assert fourth.earliest_allowed_at >= local("2026-03-11 00:00")
    # Another debtor is untouched; a message to the same debtor is not a voice call.
    other = svc.request_contact(
        connection,
        loan_id=book["L0003"],
        channel="call",
        at=local("2026-03-10 15:00"),
        actor=ACTOR,
        rules=rules,
    )
    sms = svc.request_contact(
        connection,
        loan_id=book["L0001"],
        channel="sms",
        at=local("2026-03-10 15:05"),
        actor=ACTOR,
        rules=rules,
    )
    assert other.allowed and sms.allowed


def test_an_open_hold_blocks_and_a_released_one_does_not(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    hold_id = svc.add_hold(
        connection,
        loan_id=book["L0001"],
        kind="dispute",
        actor=ACTOR,
        since=local("2026-03-09 12:00"),
    )
    blocked = svc.request_contact(
        connection,
        loan_id=book["L0001"],
        channel="sms",
        at=local("2026-03-10 10:00"),
        actor=ACTOR,
        rules=rules,
    )
    assert not blocked.allowed and "CN.HOLDS" in blocked.blocked_by
    svc.release_hold(connection, hold_id, actor=ACTOR, at=local("2026-03-10 11:00"))
    after = svc.request_contact(
        connection,
        loan_id=book["L0001"],
        channel="sms",
        at=local("2026-03-10 12:00"),
        actor=ACTOR,
        rules=rules,
    )
    assert after.allowed
    assert audit_actions(connection).count("hold.add") == 1
    assert audit_actions(connection).count("hold.release") == 1


def test_an_opt_out_stops_its_medium_only(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    svc.add_hold(
        connection,
        loan_id=book["L0001"],
        kind="opt_out",
        channel="sms",
        actor=ACTOR,
        since=local("2026-03-09 12:00"),
    )
    at = local("2026-03-10 10:00")
    sms = svc.evaluate_contact(connection, loan_id=book["L0001"], channel="sms", at=at, rules=rules)
    call = svc.evaluate_contact(
        connection, loan_id=book["L0001"], channel="call", at=at, rules=rules
    )
    assert not sms.allowed and call.allowed
    assert attempts(connection) == 0  # evaluating records nothing


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"loan_id": 999_999}, NotFound, "loan not found: 999999"),
        ({"channel": "fax"}, ValidationError, "channel: unknown value 'fax'"),
        ({"contact_point_id": 999_999}, NotFound, "contact point not found: 999999"),
        ({"contact_point_id": "other_debtor_mobile"}, ValidationError, "not on this loan's file"),
        ({"channel": "email"}, ValidationError, "no email contact point"),
        ({"at": datetime(2026, 3, 10, 10)}, ValidationError, "at: a time without a zone"),
    ],
)
def test_a_bad_request_says_what_is_wrong_and_records_nothing(
    connection: Connection,
    book: dict[str, int],
    rules: CompiledRules,
    change: dict[str, object],
    error: type[Exception],
    text: str,
) -> None:
    request: dict[str, object] = {
        "loan_id": book["L0001"],
        "channel": "call",
        "at": local("2026-03-10 10:00"),
    }
    if change.get("contact_point_id") == "other_debtor_mobile":
        change = {"contact_point_id": book["other_debtor_mobile"]}
    request.update(change)
    events_before = len(audit_actions(connection))
    with pytest.raises(error) as caught:
        svc.request_contact(connection, actor=ACTOR, rules=rules, **request)  # type: ignore[arg-type]
    assert text in str(caught.value)
    assert "13812345678" not in str(caught.value)
    assert attempts(connection) == 0
    assert len(audit_actions(connection)) == events_before


def test_a_third_party_refusal_puts_that_contact_point_on_hold(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    svc.set_account_flags(
        connection,
        loan_id=book["L0001"],
        actor=ACTOR,
        at=local("2026-03-01 09:00"),
        debtor_unreachable_since=local("2026-03-01 09:00"),
    )
    first = svc.request_contact(
        connection,
        loan_id=book["L0001"],
        channel="call",
        contact_point_id=book["emergency"],
        at=local("2026-03-10 10:00"),
        actor=ACTOR,
        rules=rules,
        is_demand=False,
    )
    assert first.party == contracts.Party.EMERGENCY_CONTACT
    assert first.allowed, first.blocked_by
    assert first.attempt_id is not None
    svc.record_outcome(connection, first.attempt_id, "refused", ACTOR)
    again = svc.evaluate_contact(
        connection,
        loan_id=book["L0001"],
        channel="call",
        contact_point_id=book["emergency"],
        at=local("2026-03-12 10:00"),
        rules=rules,
        is_demand=False,
    )
    assert not again.allowed


def test_the_batch_gate_and_the_online_path_give_the_same_answer(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    # Some history, a hold and an agency placement, all through the services.
    for hour, outcome in ((9, "connected"), (10, "no_answer"), (11, "connected")):
        made = svc.request_contact(
            connection,
            loan_id=book["L0001"],
            channel="call",
            at=local(f"2026-03-10 {hour:02}:00"),
            actor=ACTOR,
            rules=rules,
        )
        assert made.attempt_id is not None
        svc.record_outcome(connection, made.attempt_id, outcome, ACTOR)
    svc.add_hold(
        connection,
        loan_id=book["L0003"],
        kind="opt_out",
        channel="sms",
        actor=ACTOR,
        since=local("2026-03-01 00:00"),
    )
    svc.assign_agency(
        connection, loan_id=book["L0002"], agency_id=5, at=local("2026-03-02 09:00"), actor=ACTOR
    )
    cases: list[dict[str, object]] = [
        {"loan_id": book["L0001"], "channel": "call", "at": "2026-03-10 12:00"},
        {"loan_id": book["L0001"], "channel": "call", "at": "2026-03-10 21:30"},
        {"loan_id": book["L0001"], "channel": "sms", "at": "2026-03-10 12:00"},
        {
            "loan_id": book["L0001"],
            "channel": "call",
            "at": "2026-03-10 12:00",
            "contact_point_id": book["emergency"],
        },
        {"loan_id": book["L0002"], "channel": "call", "at": "2026-03-10 14:00", "agency_id": 5},
        {"loan_id": book["L0003"], "channel": "sms", "at": "2026-03-10 14:00"},
        {"loan_id": book["L0003"], "channel": "call", "at": "2026-03-10 07:30"},
    ]
    answers = set()
    for case in cases:
        request = {**case, "at": local(str(case["at"]))}
        online = svc.evaluate_contact(connection, rules=rules, **request)  # type: ignore[arg-type]
        at = online.at
        # The batch: whole-book frames read from the same database, the plan built for it.
        planned = svc.plan_contact(connection, **request)  # type: ignore[arg-type]
        batch = (
            gate(
                planned.lazy(),
                store.read_history(connection, before=at).lazy(),
                store.read_flags(connection, at=at).lazy(),
                store.read_holds(connection).lazy(),
                rules,
            )
            .collect()
            .row(0, named=True)
        )
        assert (batch["allowed"], tuple(batch["blocked_by"]), batch["earliest_allowed_at"]) == (
            online.allowed,
            online.blocked_by,
            online.earliest_allowed_at,
        ), case
        answers.add(online.allowed)
    assert answers == {True, False}  # the cases exercise both answers


def test_the_flags_reader_sees_placements_notices_and_demands_as_of_a_moment(
    connection: Connection, book: dict[str, int]
) -> None:
    loan = book["L0002"]
    svc.assign_agency(
        connection, loan_id=loan, agency_id=5, at=local("2026-03-02 09:00"), actor=ACTOR
    )
    svc.notify_agency(
        connection, loan_id=loan, agency_id=5, at=local("2026-03-01 09:00"), actor=ACTOR
    )
    svc.log_demand(
        connection,
        loan_id=loan,
        at=local("2026-03-05 10:00"),
        channel="letter",
        evidence_ref="EMS-1234",
        actor=ACTOR,
    )
    before = store.read_flags(connection, at=local("2026-03-01 12:00")).filter(
        pl.col("loan_id") == loan
    )
    after = store.read_flags(connection, at=local("2026-03-06 12:00")).filter(
        pl.col("loan_id") == loan
    )
    assert before["agency_id"][0] is None and before["last_demand_at"][0] is None
    assert after["agency_id"][0] == 5
    assert after["agency_notified_at"][0] == local("2026-03-01 09:00")
    assert after["last_demand_at"][0] == local("2026-03-05 10:00")
    assert after["last_due_date"][0] is not None
    assert after.schema == pl.Schema(contracts.FLAGS)
    # A new placement ends the old one: never two agencies at once (CN.AGENCY.SCOPE).
    svc.assign_agency(
        connection, loan_id=loan, agency_id=6, at=local("2026-03-07 09:00"), actor=ACTOR
    )
    now = store.read_flags(connection, at=local("2026-03-08 12:00")).filter(
        pl.col("loan_id") == loan
    )
    assert now["agency_id"][0] == 6 and now["agency_notified_at"][0] is None


def test_the_recorded_moment_is_the_callers_not_the_clocks(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    """No clock in the contact use cases (issue 12, item 4): ``created_at`` is the ``now``
    the caller passes (a fixed moment here, far from the wall clock), else the event's."""
    at = local("2026-03-10 10:00")
    now = at + timedelta(minutes=3)
    decision = svc.request_contact(
        connection, loan_id=book["L0001"], channel="call", at=at, actor=ACTOR, rules=rules, now=now
    )
    attempt = connection.execute(
        select(store.ContactAttempt.created_at).where(
            store.ContactAttempt.id == decision.attempt_id
        )
    ).scalar_one()
    assert attempt.replace(tzinfo=UTC) == now
    hold_id = svc.add_hold(
        connection, loan_id=book["L0001"], kind="dispute", actor=ACTOR, since=at, now=now
    )
    placed = svc.assign_agency(
        connection, loan_id=book["L0002"], agency_id=3, at=at, actor=ACTOR
    )  # no now: the placement's own moment
    hold = connection.execute(
        select(store.Hold.created_at).where(store.Hold.id == hold_id)
    ).scalar_one()
    placement = connection.execute(
        select(store.AgencyAssignment.created_at).where(store.AgencyAssignment.id == placed)
    ).scalar_one()
    assert hold.replace(tzinfo=UTC) == now and placement.replace(tzinfo=UTC) == at
