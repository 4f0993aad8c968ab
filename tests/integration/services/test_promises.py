"""Promises to pay through the service, on SQLite and PostgreSQL: taken with their audit
event or refused with the reason and nothing stored; decided every day from the payments
table, idempotently; the flags the strategy reads; the demo's promises.

The book is imported as a lender's file would arrive: L0001 and L0002 belong to C0001,
L0003 to C0002; each lends ¥12,000 (¥3,000 for L0002) from 2026-01-15, monthly from
2026-02-15, and nothing has been paid, so by 2026-04-20 every loan is overdue.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from clocks import SETUP_AT, SETUP_DAY
from factories import import_three_loans
from forbear.domain.compliance.config import default_rules
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import contacts
from forbear.services import promises as svc
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.history import seed_promises
from forbear.sim.products import load_products
from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import Loan, Payment
from forbear.store.promises import Promise

TODAY = date(2026, 4, 20)
ACTOR = "agent:7"
SHANGHAI = ZoneInfo("Asia/Shanghai")
_refs = itertools.count(1)


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    return import_three_loans(connection, vault, tmp_path)


def pay(conn: Connection, loan_id: int, day: date, amount: int, hour: int = 12) -> None:
    conn.execute(
        insert(Payment).values(
            external_ref=f"TP{next(_refs)}",
            loan_id=loan_id,
            paid_on=day,
            paid_at=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
            amount=amount,
            channel="app",
        )
    )


def add(conn: Connection, loan: int, **overrides: object) -> int:
    fields: dict[str, object] = {
        "loan_id": loan,
        "amount": 100_000,
        "promised_on": TODAY + timedelta(days=2),
        "source": "agent",
        "actor": ACTOR,
        "as_of": TODAY,
        "taken_at": datetime(2026, 4, 20, 2, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return svc.add_promise(conn, **fields)  # type: ignore[arg-type]


def promise(conn: Connection, promise_id: int) -> Promise:
    return conn.execute(select(Promise).where(Promise.id == promise_id)).one()


def audit_rows(conn: Connection) -> list[tuple[str, str, str]]:
    return [
        (row.action, row.subject_id, row.payload)
        for row in conn.execute(
            select(AuditEvent.action, AuditEvent.subject_id, AuditEvent.payload).order_by(
                AuditEvent.seq
            )
        )
    ]


def counts(conn: Connection) -> tuple[int, int]:
    promises = conn.execute(select(func.count()).select_from(Promise)).scalar_one()
    events = conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    return promises, events


# --- taking a promise --------------------------------------------------------------------


def test_a_promise_is_stored_open_with_its_audit_event_and_no_personal_data(
    connection: Connection, book: dict[str, int]
) -> None:
    promise_id = add(connection, book["L0001"], amount=123_456)
    stored = promise(connection, promise_id)
    assert (stored.status, stored.amount, stored.amount_paid, stored.source) == (
        "open",
        123_456,
        0,
        "agent",
    )
    assert (stored.taken_on, stored.taken_by, stored.resolved_on) == (TODAY, ACTOR, None)
    action, subject, payload = audit_rows(connection)[-1]
    assert (action, subject) == ("promise.add", str(promise_id))
    assert '"amount":123456' in payload and "13812345678" not in payload and "张伟" not in payload


@pytest.mark.parametrize(
    ("overrides", "error", "fragment"),
    [
        ({"promised_on": TODAY - timedelta(days=1)}, ValidationError, "in the past"),
        ({"promised_on": TODAY + timedelta(days=31)}, ValidationError, "more than 30 days"),
        ({"amount": 0}, ValidationError, "more than zero"),
        ({"amount": 2_000_000}, ValidationError, "more than the loan can owe"),
        ({"source": "telepathy"}, ValidationError, "unknown value"),
        ({"actor": " "}, ValidationError, "actor"),
        ({"loan_id": 999_999}, NotFound, "loan not found"),
        ({"as_of": date(2026, 1, 1), "promised_on": date(2026, 1, 5)}, ValidationError, "started"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(
    connection: Connection,
    book: dict[str, int],
    overrides: dict[str, object],
    error: type[Exception],
    fragment: str,
) -> None:
    before = counts(connection)
    with pytest.raises(error, match=fragment):
        add(connection, book["L0001"], **overrides)
    assert counts(connection) == before


def test_the_amount_may_reach_what_is_owed_by_the_promised_date_with_penalty(
    connection: Connection, book: dict[str, int]
) -> None:
    # ¥12,000 outstanding plus arrears: a payoff promise of ¥12,500 is accepted, not ¥20,000
    add(connection, book["L0001"], amount=1_250_000)
    with pytest.raises(ValidationError, match="more than the loan can owe"):
        add(connection, book["L0002"], amount=1_250_000)


def test_a_paid_off_or_written_off_loan_takes_no_promise(
    connection: Connection, book: dict[str, int]
) -> None:
    pay(connection, book["L0001"], date(2026, 4, 1), 2_000_000)
    with pytest.raises(Conflict, match="paid off"):
        add(connection, book["L0001"])
    connection.execute(
        update(Loan).where(Loan.id == book["L0002"]).values(written_off_on=date(2026, 4, 1))
    )
    with pytest.raises(Conflict, match="written off"):
        add(connection, book["L0002"])
    assert counts(connection)[0] == 0


def test_one_open_promise_per_loan_a_second_is_refused_or_replaces_it_explicitly(
    connection: Connection, book: dict[str, int]
) -> None:
    first = add(connection, book["L0001"])
    with pytest.raises(Conflict, match=f"open promise {first}"):
        add(connection, book["L0001"], amount=50_000)
    second = add(connection, book["L0001"], amount=50_000, replace=True)
    old, new = promise(connection, first), promise(connection, second)
    assert (old.status, old.cancel_reason, old.resolved_on) == ("cancelled", "superseded", TODAY)
    assert (new.status, new.replaces_id) == ("open", first)
    assert [a for a, _, _ in audit_rows(connection)[-3:]] == [
        "promise.add",
        "promise.cancel",
        "promise.add",
    ]
    # another loan of the same borrower is another promise
    add(connection, book["L0002"], amount=10_000)


def test_the_database_refuses_a_second_open_promise_whoever_writes_it(
    connection: Connection, book: dict[str, int]
) -> None:
    first = promise(connection, add(connection, book["L0001"]))
    savepoint = connection.begin_nested()
    with pytest.raises(IntegrityError):
        connection.execute(
            insert(Promise).values(
                loan_id=first.loan_id,
                borrower_id=first.borrower_id,
                amount=1,
                promised_on=TODAY,
                source="import",
                status="open",
                taken_by="x",
                taken_at=first.taken_at,
                taken_on=TODAY,
            )
        )
    savepoint.rollback()


def test_an_open_promise_already_kept_by_todays_payments_does_not_block_a_new_one(
    connection: Connection, book: dict[str, int]
) -> None:
    first = add(connection, book["L0001"], amount=100_000)
    pay(connection, book["L0001"], TODAY, 100_000, hour=5)  # after it was taken (02:00)
    second = add(connection, book["L0001"], amount=50_000, promised_on=TODAY + timedelta(days=9))
    kept = promise(connection, first)
    assert (kept.status, kept.amount_paid, kept.resolved_on) == ("kept", 100_000, TODAY)
    assert promise(connection, second).replaces_id is None
    assert ("promise.resolve", str(first)) in [(a, s) for a, s, _ in audit_rows(connection)]


def test_holds_that_stop_collection_refuse_an_agents_promise_not_the_borrowers_own(
    connection: Connection, book: dict[str, int]
) -> None:
    since = datetime(2026, 4, 1, tzinfo=UTC)
    contacts.add_hold(connection, loan_id=book["L0001"], kind="dispute", actor=ACTOR, since=since)
    with pytest.raises(Conflict, match="dispute hold"):
        add(connection, book["L0001"])
    add(connection, book["L0001"], source="portal")
    contacts.add_hold(connection, loan_id=book["L0003"], kind="deceased", actor=ACTOR, since=since)
    with pytest.raises(Conflict, match="deceased hold"):
        add(connection, book["L0003"], source="portal")


def test_a_linked_contact_attempt_must_be_a_conversation_with_the_debtor_on_this_loan(
    connection: Connection, book: dict[str, int]
) -> None:
    rules_ = default_rules()
    shanghai = datetime(2026, 4, 20, 10, 0, tzinfo=SHANGHAI)

    def call(loan: str, hour: int = 10) -> int:
        decision = contacts.request_contact(
            connection,
            loan_id=book[loan],
            channel="call",
            at=shanghai.replace(hour=hour),
            actor=ACTOR,
            rules=rules_,
        )
        assert decision.attempt_id is not None
        return decision.attempt_id

    good = call("L0001")
    other_loan = call("L0003")
    night = call("L0002", hour=23)  # blocked by quiet hours: never a contact
    unanswered = call("L0002", hour=11)
    contacts.record_outcome(connection, unanswered, "no_answer", ACTOR)
    third_party = connection.execute(
        insert(ContactAttempt)
        .values(
            loan_id=book["L0002"],
            borrower_id=promise_borrower(connection, book["L0002"]),
            channel="call",
            party="emergency_contact",
            actor=ACTOR,
            at=shanghai.astimezone(UTC),
            allowed=True,
            outcome="connected",
        )
        .returning(ContactAttempt.id)
    ).scalar_one()
    before = counts(connection)
    for attempt, loan, fragment in (
        (other_loan, "L0001", "not a contact attempt on this loan"),
        (night, "L0002", "blocked"),
        (unanswered, "L0002", "no_answer"),
        (third_party, "L0002", "CN.3P.NO_UNRELATED"),
    ):
        with pytest.raises(ValidationError, match=fragment):
            add(connection, book[loan], contact_attempt_id=attempt)
    with pytest.raises(ValidationError, match="portal comes from no contact attempt"):
        add(connection, book["L0001"], contact_attempt_id=good, source="portal")
    with pytest.raises(NotFound, match="contact attempt"):
        add(connection, book["L0001"], contact_attempt_id=987_654)
    assert counts(connection) == before
    linked = add(connection, book["L0001"], contact_attempt_id=good)
    assert promise(connection, linked).contact_attempt_id == good


def promise_borrower(conn: Connection, loan_id: int) -> int:
    return conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one()


def test_cancel_withdraws_an_open_promise_once(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    promise_id = add(connection, book["L0001"])
    svc.cancel_promise(
        connection, promise_id, actor=ACTOR, as_of=TODAY, reason="taken in error", vault=vault
    )
    stored = promise(connection, promise_id)
    assert (stored.status, stored.cancel_reason, stored.resolved_by) == (
        "cancelled",
        "cancelled",  # the code; what the agent typed is encrypted
        ACTOR,
    )
    typed = vault.decrypt(stored.cancel_reason_enc, context=Contexts.PROMISE_CANCEL_REASON)
    assert typed == "taken in error"
    action, _, payload = audit_rows(connection)[-1]
    assert action == "promise.cancel" and "taken in error" not in payload
    with pytest.raises(Conflict, match="is cancelled"):
        svc.cancel_promise(connection, promise_id, actor=ACTOR, as_of=TODAY)
    with pytest.raises(NotFound):
        svc.cancel_promise(connection, 424_242, actor=ACTOR, as_of=TODAY)
    add(connection, book["L0001"])  # the loan is free for a new promise


# --- the daily decision --------------------------------------------------------------------


def test_the_daily_update_keeps_breaks_and_revises_idempotently_with_one_audit_event(
    connection: Connection, book: dict[str, int]
) -> None:
    kept = add(connection, book["L0001"], amount=100_000)
    partly = add(connection, book["L0002"], amount=200_000)
    broken = add(connection, book["L0003"], amount=80_000, promised_on=TODAY + timedelta(days=5))
    pay(connection, book["L0001"], TODAY + timedelta(days=1), 100_000)
    pay(connection, book["L0002"], TODAY + timedelta(days=2), 50_000)

    first = svc.daily_update(connection, TODAY + timedelta(days=1))
    assert first == {
        "checked": 3,
        "kept": 1,
        "partly_kept": 0,
        "broken": 0,
        "progressed": 0,
        "revised": 0,
        "open": 2,
    }
    assert promise(connection, kept).resolved_on == TODAY + timedelta(days=1)

    day = TODAY + timedelta(days=10)
    events = len(audit_rows(connection))
    second = svc.daily_update(connection, day)
    assert (second["partly_kept"], second["broken"], second["open"]) == (1, 1, 0)
    assert len(audit_rows(connection)) == events + 1
    action, subject, payload = audit_rows(connection)[-1]
    assert (action, subject) == ("promise.daily_update", day.isoformat())
    assert '"broken":1' in payload
    stored = {p: promise(connection, p) for p in (kept, partly, broken)}
    assert (stored[partly].status, stored[partly].amount_paid) == ("partly_kept", 50_000)
    assert (stored[broken].status, stored[broken].resolved_on) == (
        "broken",
        TODAY + timedelta(days=8),
    )
    assert stored[broken].resolved_by == "system:daily-run"

    # a rerun, and a run for an earlier date, change nothing and record nothing
    for again in (day, TODAY + timedelta(days=3)):
        result = svc.daily_update(connection, again)
        assert result["kept"] + result["broken"] + result["partly_kept"] == 0
        assert result["revised"] + result["progressed"] == 0
    assert len(audit_rows(connection)) == events + 1
    assert [promise(connection, p).status for p in (kept, partly, broken)] == [
        "kept",
        "partly_kept",
        "broken",
    ]

    # a payment inside the broken promise's grace period is posted late: revised to kept
    pay(connection, book["L0003"], TODAY + timedelta(days=7), 80_000)
    third = svc.daily_update(connection, day + timedelta(days=1))
    assert third["revised"] == 1
    revised = promise(connection, broken)
    assert (revised.status, revised.amount_paid, revised.resolved_on) == (
        "kept",
        80_000,
        TODAY + timedelta(days=7),
    )


def test_an_open_promise_shows_what_was_paid_towards_it_so_far(
    connection: Connection, book: dict[str, int]
) -> None:
    promise_id = add(connection, book["L0001"], promised_on=TODAY + timedelta(days=9))
    pay(connection, book["L0001"], TODAY + timedelta(days=1), 30_000)
    result = svc.daily_update(connection, TODAY + timedelta(days=2))
    assert result["progressed"] == 1
    stored = promise(connection, promise_id)
    assert (stored.status, stored.amount_paid) == ("open", 30_000)


def test_flags_and_kept_rate_read_the_stored_decisions(
    connection: Connection, book: dict[str, int]
) -> None:
    add(connection, book["L0001"], amount=100_000)
    add(connection, book["L0003"], amount=80_000, source="portal")
    pay(connection, book["L0001"], TODAY + timedelta(days=1), 100_000)
    later = TODAY + timedelta(days=10)
    svc.daily_update(connection, later)
    add(
        connection,
        book["L0003"],
        amount=50_000,
        as_of=later,
        promised_on=later + timedelta(days=3),
        taken_at=datetime(2026, 4, 30, 2, tzinfo=UTC),
    )
    flags = svc.promise_flags(connection, later)
    assert flags.schema == pl.Schema(
        {"loan_id": pl.Int64, "active_promise": pl.Boolean, "broken_promises_90d": pl.Int32}
    )
    assert flags.rows() == [(book["L0001"], False, 0), (book["L0003"], True, 1)]
    # 90 days after the broken promise's date it no longer counts
    old = svc.promise_flags(connection, TODAY + timedelta(days=2 + 90))
    assert old.filter(pl.col("broken_promises_90d") > 0).is_empty()
    rates = {r["source"]: r for r in svc.kept_rate(connection, TODAY, later).iter_rows(named=True)}
    assert (rates["agent"]["kept"], rates["portal"]["broken"], rates["all"]["kept_rate"]) == (
        1,
        1,
        0.5,
    )


def test_listing_names_loans_by_reference_and_filters(
    connection: Connection, book: dict[str, int]
) -> None:
    add(connection, book["L0001"])
    cancelled = add(connection, book["L0003"])
    svc.cancel_promise(connection, cancelled, actor=ACTOR, as_of=TODAY)
    listed = svc.list_promises(connection)
    assert listed["loan_ref"].to_list() == ["L0003", "L0001"]
    assert svc.list_promises(connection, status="cancelled")["promise_id"].to_list() == [cancelled]
    assert svc.list_promises(connection, loan_id=book["L0001"]).height == 1
    assert svc.list_promises(connection, as_of=TODAY - timedelta(days=1)).is_empty()
    with pytest.raises(ValidationError, match="status"):
        svc.list_promises(connection, status="maybe")


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_book_gets_kept_broken_and_open_promises_from_its_real_payments(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    as_of = date(2026, 11, 29)
    products = load_products()
    demo = generate_book(400, as_of, 7, products)
    loans_file, payments_file = write_files(demo, tmp_path)
    import_products(connection, products, "demo", effective_from=SETUP_DAY)
    import_loans(connection, vault, loans_file, now=SETUP_AT)
    import_payments(connection, payments_file, zone="Asia/Shanghai", now=SETUP_AT)

    # the same seed and book give the same promises
    savepoint = connection.begin_nested()
    seed_promises(connection, as_of, seed=3)
    first = svc.list_promises(connection, limit=10_000).drop("promise_id").sort(pl.all())
    savepoint.rollback()
    added = seed_promises(connection, as_of, seed=3)
    stored = svc.list_promises(connection, limit=10_000)
    assert stored.drop("promise_id").sort(pl.all()).equals(first)
    hours = {
        moment.astimezone(SHANGHAI).hour
        for moment in connection.execute(select(Promise.taken_at)).scalars()
    }
    assert hours <= set(range(9, 20))  # taken in office hours, lender's time
    assert stored.height == added > 20
    by_status = dict(stored.group_by("status").len().iter_rows())
    assert by_status.get("kept", 0) > 0
    assert by_status.get("broken", 0) > 0
    assert by_status.get("open", 0) > 0
    assert stored["taken_by"].str.starts_with("demo:").all()
    assert (stored["promised_on"] >= stored["taken_on"]).all()
    # kept ones were kept by real payments; the flags the strategy reads show broken ones
    kept = stored.filter(pl.col("status") == "kept")
    assert (kept["amount_paid"] >= kept["amount"] - kept["amount"] // 10).all()
    flags = svc.promise_flags(connection, as_of)
    assert flags["broken_promises_90d"].max() >= 1
    assert flags["active_promise"].any()
    assert "promise.seed_demo" in [a for a, _, _ in audit_rows(connection)]
    # a rerun adds none, and the decisions are already up to date
    assert seed_promises(connection, as_of, seed=3) == 0
    again = svc.daily_update(connection, as_of)
    assert again["kept"] + again["broken"] + again["partly_kept"] + again["revised"] == 0
