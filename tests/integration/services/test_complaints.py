"""Complaints, satisfaction surveys and the case library through the service, on SQLite
and PostgreSQL: filed with their hold and audit event, or refused with the reason and
nothing stored; the lifecycle against the SLA clock (CN.COMPLAINT.SLA); one survey answer
per subject; rates per 10,000 contacts; the searchable case library.

The book: L0001 and L0002 belong to C0001, L0003 to C0002 (imported as a lender's file).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, func, insert, select

from factories import import_three_loans
from forbear.domain.compliance.config import default_rules
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.services import complaints as svc
from forbear.services import contacts, promises
from forbear.store.audit import AuditEvent
from forbear.store.complaints import CaseEntry, Complaint, ComplaintContact, SatisfactionResponse
from forbear.store.contacts import Hold
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan
from forbear.store.runs import Decision, Run

SHANGHAI = ZoneInfo("Asia/Shanghai")
AGENT = "agent:7"
OFFICER = "web:compliance"
VAULT = PiiVault(bytes(range(32)))  # the conftest's test key


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    ids = import_three_loans(connection, vault, tmp_path)
    for ref, loan in list(ids.items()):
        ids["B" + ref] = connection.execute(
            select(Loan.borrower_id).where(Loan.id == loan)
        ).scalar_one()
    return ids


def call(conn: Connection, loan: int, at: str) -> int:
    decision = contacts.request_contact(
        conn, loan_id=loan, channel="call", at=local(at), actor=AGENT, rules=default_rules()
    )
    assert decision.attempt_id is not None
    return decision.attempt_id


def file(conn: Connection, book: dict[str, int], **overrides: object) -> int:
    fields: dict[str, object] = {
        "borrower_id": book["BL0001"],
        "loan_id": book["L0001"],
        "source": "agent",
        "category": "harassment",
        "description": "借款人称催收员多次在晚间来电 / repeated evening calls",
        "actor": AGENT,
        "now": local("2026-04-01 10:00"),
    }
    fields.update(overrides)
    return svc.file_complaint(conn, VAULT, **fields)  # type: ignore[arg-type]


def counts(conn: Connection) -> tuple[int, ...]:
    return tuple(
        conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (Complaint, ComplaintContact, Hold, SatisfactionResponse, CaseEntry, AuditEvent)
    )


def events(conn: Connection, action: str) -> list[dict[str, object]]:
    return [
        json.loads(p) if isinstance(p, str) else p
        for p in conn.execute(
            select(AuditEvent.payload).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).scalars()
    ]


def test_a_complaint_is_filed_with_its_clock_links_hold_and_audit_event(
    connection: Connection, book: dict[str, int]
) -> None:
    first = call(connection, book["L0001"], "2026-03-30 10:00")
    complaint_id = file(connection, book, contact_attempt_ids=[first, first])
    view = svc.get_complaint(connection, VAULT, complaint_id, as_of=date(2026, 4, 1))
    assert (view.status, view.received_on, view.due_on) == (
        "open",
        date(2026, 4, 1),
        date(2026, 4, 16),
    )
    assert (view.clock.days_left, view.clock.urgency.value) == (15, "on_track")
    assert [c.attempt_id for c in view.contacts] == [first]
    hold = connection.execute(select(Hold).where(Hold.id == view.hold_id)).one()
    assert (hold.kind, hold.loan_id, hold.until) == ("complaint", book["L0001"], None)
    (payload,) = events(connection, "complaint.file")
    assert payload["category"] == "harassment" and payload["contact_attempt_ids"] == [first]
    assert "description" not in payload and "晚间" not in json.dumps(payload, ensure_ascii=False)


def test_the_complaint_hold_blocks_the_next_call_and_resolution_lifts_it(
    connection: Connection, book: dict[str, int]
) -> None:
    complaint_id = file(connection, book)
    blocked = contacts.request_contact(
        connection,
        loan_id=book["L0001"],
        channel="call",
        at=local("2026-04-02 10:00"),
        actor=AGENT,
        rules=default_rules(),
    )
    assert not blocked.allowed and any("HOLD" in rule for rule in blocked.blocked_by)
    svc.resolve(
        connection,
        VAULT,
        complaint_id,
        resolution="已致歉并调整联系频率",
        root_cause="contact_rules",
        actor=OFFICER,
        now=local("2026-04-05 10:00"),
    )
    allowed = contacts.request_contact(
        connection,
        loan_id=book["L0001"],
        channel="call",
        at=local("2026-04-06 10:00"),
        actor=AGENT,
        rules=default_rules(),
    )
    assert allowed.allowed


def test_a_complaint_without_a_loan_holds_every_loan_of_the_borrower(
    connection: Connection, book: dict[str, int]
) -> None:
    complaint_id = file(connection, book, loan_id=None, source="regulator", category="privacy")
    view = svc.get_complaint(connection, VAULT, complaint_id, as_of=date(2026, 4, 1))
    hold = connection.execute(select(Hold).where(Hold.id == view.hold_id)).one()
    assert (hold.loan_id, hold.borrower_id) == (None, book["BL0001"])


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"source": "email"}, ValidationError, "source"),
        ({"category": "rude"}, ValidationError, "category"),
        ({"description": "   "}, ValidationError, "description"),
        ({"description": "x" * 4001}, ValidationError, "description"),
        ({"actor": " "}, ValidationError, "actor"),
        ({"now": datetime(2026, 4, 1, 10)}, ValidationError, "now"),
        ({"borrower_id": 999_999}, NotFound, None),
        ({"loan_id": 999_999}, NotFound, None),
        ({"loan_id": "L0003"}, ValidationError, "loan_id"),  # another borrower's loan
        ({"contact_attempt_ids": [999_999]}, NotFound, None),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    connection: Connection,
    book: dict[str, int],
    overrides: dict[str, object],
    error: type[Exception],
    field: str | None,
) -> None:
    if overrides.get("loan_id") == "L0003":
        overrides = {"loan_id": book["L0003"]}
    before = counts(connection)
    with pytest.raises(error) as caught:
        file(connection, book, **overrides)
    if field is not None:
        assert isinstance(caught.value, ValidationError) and caught.value.field == field
    assert counts(connection) == before
    assert "晚间" not in str(caught.value)


def test_contacts_of_another_borrower_cannot_be_linked(
    connection: Connection, book: dict[str, int]
) -> None:
    other = call(connection, book["L0003"], "2026-03-30 10:00")
    before = counts(connection)
    with pytest.raises(ValidationError, match="contact_attempt_ids"):
        file(connection, book, contact_attempt_ids=[other])
    assert counts(connection) == before


def test_the_lifecycle_extends_to_30_then_60_days_with_approval_by_another_person(
    connection: Connection, book: dict[str, int]
) -> None:
    complaint_id = file(connection, book)
    at = local("2026-04-10 10:00")
    svc.start_work(connection, complaint_id, actor=OFFICER, now=at)
    assert svc.extend(
        connection, VAULT, complaint_id, reason="需调取录音", actor=OFFICER, now=at
    ) == date(2026, 5, 1)
    with pytest.raises(Conflict):
        svc.extend(connection, VAULT, complaint_id, reason="again", actor=OFFICER, now=at)
    with pytest.raises(Conflict, match="someone other"):
        svc.approve_extension(connection, complaint_id, actor=OFFICER, now=at)
    due = svc.approve_extension(connection, complaint_id, actor="web:supervisor", now=at)
    assert due == date(2026, 5, 31)
    view = svc.get_complaint(connection, VAULT, complaint_id, as_of=date(2026, 5, 29))
    assert (view.status, view.approved_by, view.clock.urgency.value) == (
        "extended_approved",
        "web:supervisor",
        "due_soon",
    )
    svc.resolve(
        connection,
        VAULT,
        complaint_id,
        resolution="核实后撤销违规外呼员的权限",
        root_cause="agent_conduct",
        actor=OFFICER,
        now=local("2026-05-20 10:00"),
    )
    svc.close(connection, complaint_id, actor=OFFICER, now=local("2026-05-21 10:00"))
    view = svc.get_complaint(connection, VAULT, complaint_id, as_of=date(2026, 6, 30))
    assert (view.status, view.resolved_on, view.closed_on) == (
        "closed",
        date(2026, 5, 20),
        date(2026, 5, 21),
    )
    assert view.clock.urgency.value == "answered" and view.clock.days_left == 11
    actions = [
        a
        for a in connection.execute(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == "complaint")
            .order_by(AuditEvent.seq)
        ).scalars()
    ]
    assert actions == [
        "complaint.file",
        "complaint.start",
        "complaint.extend",
        "complaint.approve",
        "complaint.resolve",
        "complaint.close",
    ]
    with pytest.raises(Conflict):
        svc.resolve(
            connection,
            VAULT,
            complaint_id,
            resolution="x",
            root_cause="other",
            actor=OFFICER,
            now=local("2026-05-22 10:00"),
        )


def test_resolution_needs_a_known_root_cause_and_changes_nothing_otherwise(
    connection: Connection, book: dict[str, int]
) -> None:
    complaint_id = file(connection, book)
    before = counts(connection)
    with pytest.raises(ValidationError, match="root_cause"):
        svc.resolve(
            connection,
            VAULT,
            complaint_id,
            resolution="ok",
            root_cause="bad_luck",
            actor=OFFICER,
            now=local("2026-04-03 10:00"),
        )
    with pytest.raises(NotFound):
        svc.extend(
            connection, VAULT, 999_999, reason="x", actor=OFFICER, now=local("2026-04-03 10:00")
        )
    assert counts(connection) == before


def test_the_queue_puts_overdue_first_then_due_soon(
    connection: Connection, book: dict[str, int]
) -> None:
    old = file(connection, book, now=local("2026-03-01 10:00"))
    soon = file(connection, book, loan_id=book["L0002"], now=local("2026-03-20 10:00"))
    fresh = file(
        connection,
        book,
        borrower_id=book["BL0003"],
        loan_id=book["L0003"],
        now=local("2026-04-01 10:00"),
    )
    queue = svc.list_complaints(connection, as_of=date(2026, 4, 2))
    assert queue["complaint_id"].to_list() == [old, soon, fresh]
    assert queue["urgency"].to_list() == ["overdue", "due_soon", "on_track"]
    assert queue["escalate"].to_list() == [True, True, False]
    mine = svc.list_complaints(connection, as_of=date(2026, 4, 2), borrower_id=book["BL0003"])
    assert mine["complaint_id"].to_list() == [fresh]


def test_one_survey_answer_per_subject_and_a_summary_by_subject(
    connection: Connection, book: dict[str, int]
) -> None:
    complaint_id = file(connection, book)
    with pytest.raises(Conflict, match="not resolved"):
        svc.record_satisfaction(
            connection,
            borrower_id=book["BL0001"],
            subject_type="complaint",
            subject_id=complaint_id,
            score=4,
            actor="portal:1",
            now=local("2026-04-02 10:00"),
        )
    svc.resolve(
        connection,
        VAULT,
        complaint_id,
        resolution="ok",
        root_cause="no_fault",
        actor=OFFICER,
        now=local("2026-04-02 10:00"),
    )
    promise_id = promises.add_promise(
        connection,
        loan_id=book["L0001"],
        amount=100_000,
        promised_on=date(2026, 4, 5),
        source="agent",
        actor=AGENT,
        as_of=date(2026, 4, 2),
        taken_at=local("2026-04-02 10:00"),
    )
    at = local("2026-04-03 10:00")
    svc.record_satisfaction(
        connection,
        borrower_id=book["BL0001"],
        subject_type="complaint",
        subject_id=complaint_id,
        score=5,
        actor="portal:1",
        now=at,
    )
    svc.record_satisfaction(
        connection,
        borrower_id=book["BL0001"],
        subject_type="promise",
        subject_id=promise_id,
        score=2,
        actor=AGENT,
        now=at,
        loan_id=book["L0001"],
    )
    before = counts(connection)
    for bad, error in [
        ({"score": 6}, ValidationError),
        ({"score": 0}, ValidationError),
        ({"score": True}, ValidationError),
        ({"subject_type": "loan"}, ValidationError),
        ({"subject_id": 999_999}, NotFound),
        ({"borrower_id": book["BL0003"]}, ValidationError),  # not the borrower's promise
        ({"loan_id": book["L0002"]}, ValidationError),  # the promise is on another loan
        ({}, Conflict),  # answered already
    ]:
        fields: dict[str, object] = {
            "borrower_id": book["BL0001"],
            "subject_type": "promise",
            "subject_id": promise_id,
            "score": 4,
            "actor": AGENT,
            "now": at,
        }
        fields.update(bad)
        with pytest.raises(error):
            svc.record_satisfaction(connection, **fields)  # type: ignore[arg-type]
    assert counts(connection) == before
    summary = svc.satisfaction_summary(connection, date(2026, 4, 1), date(2026, 4, 30))
    rows = {r["subject_type"]: r for r in summary.iter_rows(named=True)}
    assert rows["complaint"]["responses"] == 1 and rows["complaint"]["share_4_5"] == 1.0
    assert rows["promise"]["mean_score"] == 2.0 and rows["promise"]["share_4_5"] == 0.0
    assert rows["plan"]["responses"] == 0 and rows["plan"]["mean_score"] is None
    assert rows["all"]["responses"] == 2 and rows["all"]["mean_score"] == 3.5
    assert svc.satisfaction_summary(connection, date(2026, 5, 1), date(2026, 5, 2))[
        "responses"
    ].to_list() == [0, 0, 0, 0]
    with pytest.raises(ValidationError):
        svc.satisfaction_summary(connection, date(2026, 5, 2), date(2026, 5, 1))


def test_complaint_rates_per_10k_contacts_overall_by_arm_and_team(
    connection: Connection, book: dict[str, int]
) -> None:
    run_id = connection.execute(
        insert(Run)
        .values(
            as_of=date(2026, 3, 30),
            engine="polars",
            status="completed",
            started_at=local("2026-03-30 06:00"),
        )
        .returning(Run.id)
    ).scalar_one()
    for loan, arm, team in [(book["L0001"], "champion", "T1"), (book["L0003"], "challenger", "T2")]:
        connection.execute(
            insert(Decision).values(
                as_of=date(2026, 3, 30),
                loan_id=loan,
                action_index=0,
                run_id=run_id,
                borrower_id=1,
                arm=arm,
                team_id=team,
                reason_codes="[]",
                blocked_by="[]",
                scheduled=True,
                carried=False,
            )
        )
    call(connection, book["L0001"], "2026-03-31 10:00")
    call(connection, book["L0001"], "2026-04-01 09:00")
    call(connection, book["L0003"], "2026-03-31 11:00")
    call(connection, book["L0002"], "2026-03-31 12:00")
    call(connection, book["L0002"], "2026-05-31 12:00")  # outside the window
    file(connection, book)
    file(connection, book, loan_id=None, category="other")
    rates = svc.complaint_rates(connection, date(2026, 3, 31), date(2026, 4, 30))
    got = {
        (r["level"], r["key"]): (r["contacts"], r["complaints"], r["per_10k"])
        for r in rates.iter_rows(named=True)
    }
    assert got[("overall", "all")] == (4, 2, 5000.0)
    assert got[("arm", "champion")] == (2, 1, 5000.0)
    assert got[("arm", "challenger")] == (1, 0, 0.0)
    assert got[("arm", "(none)")] == (1, 0, 0.0)
    assert got[("team", "T1")] == (2, 1, 5000.0)
    empty = svc.complaint_rates(connection, date(2025, 1, 1), date(2025, 1, 31))
    assert empty.row(0, named=True) == {
        "level": "overall",
        "key": "all",
        "contacts": 0,
        "complaints": 0,
        "per_10k": None,
    }


def test_the_case_library_is_written_once_per_loan_and_searchable(
    connection: Connection, book: dict[str, int]
) -> None:
    at = local("2026-06-01 10:00")
    svc.add_case(
        connection,
        VAULT,
        loan_id=book["L0001"],
        outcome="success",
        category="plan",
        lesson="Early hardship plan after job loss; kept every instalment",
        actor="web:supervisor",
        now=at,
    )
    svc.add_case(
        connection,
        VAULT,
        loan_id=book["L0003"],
        outcome="failure",
        category="legal",
        lesson="Too many evening calls led to a complaint; the plan came too late",
        actor=OFFICER,
        now=at,
    )
    before = counts(connection)
    with pytest.raises(Conflict):
        svc.add_case(
            connection,
            VAULT,
            loan_id=book["L0001"],
            outcome="failure",
            category="x",
            lesson="x",
            actor=OFFICER,
            now=at,
        )
    with pytest.raises(ValidationError, match="outcome"):
        svc.add_case(
            connection,
            VAULT,
            loan_id=book["L0002"],
            outcome="meh",
            category="x",
            lesson="x",
            actor=OFFICER,
            now=at,
        )
    assert counts(connection) == before
    assert svc.search_cases(connection, VAULT, text="PLAN")["loan_id"].to_list() == [
        book["L0003"],
        book["L0001"],
    ]
    assert svc.search_cases(connection, VAULT, text="evening complaint")["loan_id"].to_list() == [
        book["L0003"]
    ]
    assert svc.search_cases(connection, VAULT, outcome="success")["loan_id"].to_list() == [
        book["L0001"]
    ]
    assert svc.search_cases(connection, VAULT, category="Legal")["loan_id"].to_list() == [
        book["L0003"]
    ]
    assert svc.search_cases(connection, VAULT, text="100%_")["loan_id"].to_list() == []
