"""The account, contact, queue and run use cases called directly with an :class:`Actor`,
as any front end calls them: the permission and the scope checks hold without the web
app's route guards (issue 12, item 1)."""

from __future__ import annotations

from datetime import datetime

import pytest

from forbear.domain.access import Actor, Role
from forbear.domain.errors import NotFound, PermissionDenied
from forbear.services import contacts, queue, runs
from forbear.services.accounts import history, views
from forbear.services.contacts import CollectorOutcome
from forbear.services.days import book_date
from web.conftest import AS_OF, MORNING

AGENT = Actor("test:agent", Role.AGENT)
AGENCY_7 = Actor("test:agency", Role.AGENCY_AGENT, agency_id=7)
ADMIN = Actor("test:admin", Role.ADMIN)  # runs the system: no account.view, no contact.make
COMPLIANCE = Actor("test:compliance", Role.COMPLIANCE_OFFICER)  # views, does not contact


def _rules(db):  # type: ignore[no-untyped-def]
    return contacts.lender_rules(db.settings.data_dir, db.conn)


def test_account_reads_need_account_view_and_keep_to_the_scope(db, book) -> None:  # type: ignore[no-untyped-def]
    as_of = book_date(db.conn, AS_OF)
    with pytest.raises(PermissionDenied):
        views.account_detail(db.conn, db.vault, ADMIN, book.queue_loan, at=MORNING, as_of=as_of)
    with pytest.raises(PermissionDenied):
        views.list_accounts(db.conn, db.vault, ADMIN, at=MORNING, as_of=as_of)
    with pytest.raises(PermissionDenied):
        history.timeline(
            db.conn, ADMIN, book.queue_loan, at=MORNING, today=AS_OF, zone=db.settings.zone
        )
    # an agency agent sees its placed loan, and nothing else (as if it did not exist)
    placed = views.account_detail(
        db.conn, db.vault, AGENCY_7, book.placed_loan, at=MORNING, as_of=as_of
    )
    assert placed.loan_id == book.placed_loan and placed.state is not None
    for read in (
        lambda: views.account_detail(
            db.conn, db.vault, AGENCY_7, book.other_loan, at=MORNING, as_of=as_of
        ),
        lambda: history.timeline(
            db.conn, AGENCY_7, book.other_loan, at=MORNING, today=AS_OF, zone=db.settings.zone
        ),
        lambda: history.repayment_curve(
            db.conn, AGENCY_7, book.other_loan, at=MORNING, today=AS_OF
        ),
        lambda: history.decisions_for(
            db.conn, AGENCY_7, book.other_loan, AS_OF, at=MORNING, today=AS_OF
        ),
    ):
        with pytest.raises(NotFound):
            read()
    listed = views.list_accounts(db.conn, db.vault, AGENCY_7, at=MORNING, as_of=as_of)
    assert [r.loan_id for r in listed.rows] == [book.placed_loan]


def test_contacting_needs_contact_make_and_the_loan_in_scope(db, book) -> None:  # type: ignore[no-untyped-def]
    rules = _rules(db)
    for actor in (ADMIN, COMPLIANCE):
        with pytest.raises(PermissionDenied):
            contacts.contact(
                db.conn,
                rules,
                actor,
                loan_id=book.queue_loan,
                channel="call",
                now=MORNING,
                today=AS_OF,
                lang="en",
            )
    with pytest.raises(NotFound):
        contacts.contact(
            db.conn,
            rules,
            AGENCY_7,
            loan_id=book.other_loan,
            channel="call",
            now=MORNING,
            today=AS_OF,
            lang="en",
        )
    done = contacts.contact(
        db.conn,
        rules,
        AGENCY_7,
        loan_id=book.placed_loan,
        channel="call",
        now=MORNING,
        today=AS_OF,
        lang="en",
    )
    assert done.decision.attempt_id is not None and done.decision.loan_id == book.placed_loan


def test_recording_an_outcome_checks_permission_and_scope_and_puts_the_hold(db, book) -> None:  # type: ignore[no-untyped-def]
    done = contacts.contact(
        db.conn,
        _rules(db),
        AGENT,
        loan_id=book.queue_loan,
        channel="call",
        now=MORNING,
        today=AS_OF,
        lang="en",
    )
    attempt = done.decision.attempt_id
    assert attempt is not None
    if not done.decision.allowed:
        pytest.skip(f"the gate blocked the call: {done.decision.blocked_by}")
    with pytest.raises(PermissionDenied):
        contacts.record_collector_outcome(
            db.conn, COMPLIANCE, attempt_id=attempt, outcome="dispute", now=MORNING, today=AS_OF
        )
    with pytest.raises(NotFound):  # the attempt's loan is outside the agency's placement
        contacts.record_collector_outcome(
            db.conn, AGENCY_7, attempt_id=attempt, outcome="dispute", now=MORNING, today=AS_OF
        )
    with pytest.raises(NotFound):  # an attempt of another loan
        contacts.record_collector_outcome(
            db.conn,
            AGENT,
            attempt_id=attempt,
            outcome="dispute",
            now=MORNING,
            today=AS_OF,
            loan_id=book.other_loan,
        )
    recorded = contacts.record_collector_outcome(
        db.conn,
        AGENT,
        attempt_id=attempt,
        outcome=CollectorOutcome.HARDSHIP,
        now=MORNING,
        today=AS_OF,
    )
    assert recorded.hold_id is not None and recorded.stored.value == "connected"
    again = contacts.record_collector_outcome(
        db.conn, AGENT, attempt_id=attempt, outcome="hardship", now=MORNING, today=AS_OF
    )
    assert again.hold_id is None  # a repeat puts no second hold
    holds = views.account_detail(
        db.conn,
        db.vault,
        AGENT,
        book.queue_loan,
        at=MORNING,
        as_of=book_date(db.conn, AS_OF),
    ).open_holds
    assert [h["kind"] for h in holds if h["id"] == recorded.hold_id] == ["hardship"]


def test_the_queue_and_the_runs_need_their_permissions(db, book) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        queue.work_queue(db.conn, db.vault, ADMIN, at=MORNING, today=AS_OF)
    with pytest.raises(PermissionDenied):
        runs.list_runs(db.conn, AGENT, limit=5, offset=0)
    total, rows = runs.list_runs(db.conn, COMPLIANCE, limit=5, offset=0)
    assert total >= 1 and rows
    assert runs.get_run(db.conn, ADMIN, int(rows[0].id)).id == rows[0].id
    with pytest.raises(NotFound):
        runs.get_run(db.conn, ADMIN, 2**31 - 1)
    # an agent without an agent id works nothing; with one, its own items
    assert queue.work_queue(db.conn, db.vault, AGENT, at=MORNING, today=AS_OF).items == []
    mine = queue.work_queue(db.conn, db.vault, AGENT, at=MORNING, today=AS_OF, agent_ref="zh-001")
    assert mine.as_of is not None and book.queue_loan in {i.loan_id for i in mine.items}
    assert {i.agent_id for i in mine.items} == {"zh-001"}
    # an agency agent sees only queue items of loans placed with its agency
    placed = queue.work_queue(db.conn, db.vault, AGENCY_7, at=MORNING, today=AS_OF)
    assert {i.loan_id for i in placed.items + placed.settled} <= {book.placed_loan}


def test_a_moment_without_a_zone_is_refused(db, book) -> None:  # type: ignore[no-untyped-def]
    from forbear.domain.errors import ValidationError

    with pytest.raises(ValidationError):
        contacts.add_hold(
            db.conn,
            loan_id=book.queue_loan,
            kind="dispute",
            actor="test",
            since=MORNING,
            now=datetime(2026, 11, 20, 2, 0),
        )
