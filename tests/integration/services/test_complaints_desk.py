"""Complaints and the portal's complaint as use cases: the permission and scope checks live
in the use case (:mod:`forbear.services.complaints.desk`, :mod:`forbear.services.portal`),
so they hold whatever front end calls them, and a refusal writes nothing.

The book: L0001 and L0002 belong to C0001, L0003 to C0002 (imported as a lender's file).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from factories import import_three_loans
from forbear.domain.access import Actor, Role
from forbear.domain.errors import NotFound, PermissionDenied, ValidationError
from forbear.services import portal
from forbear.services.complaints import ComplaintView, desk
from forbear.store.complaints import Complaint, SatisfactionResponse
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan

NOW = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TODAY = NOW.date()
OFFICER = Actor(name="web:wang.fang", role=Role.COMPLIANCE_OFFICER, user_id=1)
SUPERVISOR = Actor(name="web:li.qiang", role=Role.SUPERVISOR, user_id=2)
AGENT = Actor(name="web:zhang.min", role=Role.AGENT, user_id=3)
AGENCY = Actor(name="api:chen.jing", role=Role.AGENCY_AGENT, user_id=4, agency_id=1)


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    ids = import_three_loans(connection, vault, tmp_path)
    for ref, loan in list(ids.items()):
        ids["B" + ref] = connection.execute(
            select(Loan.borrower_id).where(Loan.id == loan)
        ).scalar_one()
    return ids


def _file(
    conn: Connection, vault: PiiVault, actor: Actor, loan: int, source: str = "agent"
) -> ComplaintView:
    return desk.file(
        conn,
        vault,
        actor,
        loan_id=loan,
        source=source,
        category="harassment",
        description="借款人称晚间多次来电 / repeated evening calls",
        contact_attempt_ids=[],
        now=NOW,
        today=TODAY,
    )


def _complaints(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(Complaint)).scalar_one())


def test_an_officer_files_and_works_a_complaint_and_the_queue_shows_it(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    view = _file(connection, vault, OFFICER, book["L0001"])
    assert view.borrower_id == book["BL0001"] and view.filed_by == OFFICER.name
    moved = desk.act(connection, vault, OFFICER, view.id, "start", now=NOW, today=TODAY)
    assert moved.status == "in_progress"
    day, rows = desk.queue(
        connection, SUPERVISOR, now=NOW, today=TODAY, status=None, open_only=True
    )
    assert day == TODAY and [r["complaint_id"] for r in rows] == [view.id]
    detail = desk.detail(connection, vault, SUPERVISOR, view.id, now=NOW, today=TODAY)
    assert detail.loan_ref == "L0001" and detail.survey_score is None


def test_the_permission_checks_hold_whatever_the_caller(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    view = _file(connection, vault, AGENT, book["L0001"])  # an agent files what a borrower said
    with pytest.raises(PermissionDenied):
        desk.queue(connection, AGENT, now=NOW, today=TODAY, status=None, open_only=False)
    with pytest.raises(PermissionDenied):
        desk.require_complaint(connection, vault, AGENT, view.id, now=NOW, today=TODAY)
    # a supervisor reads and may approve an extension, but does not work the complaint
    with pytest.raises(PermissionDenied):
        desk.act(connection, vault, SUPERVISOR, view.id, "start", now=NOW, today=TODAY)
    with pytest.raises(ValidationError, match="regulator"):
        _file(connection, vault, AGENT, book["L0001"], source="regulator")
    with pytest.raises(ValidationError):
        desk.act(connection, vault, OFFICER, view.id, "reopen", now=NOW, today=TODAY)
    assert _complaints(connection) == 1
    assert desk.may_read_description(OFFICER) and not desk.may_read_description(SUPERVISOR)


def test_a_loan_outside_the_scope_answers_like_no_loan_and_nothing_is_written(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    view = _file(connection, vault, OFFICER, book["L0001"])
    agency_filer = Actor(
        name="api:chen.jing", role=Role.AGENCY_AGENT, user_id=4, agency_id=1
    )  # placed with nothing: sees no loan
    with pytest.raises(NotFound):
        _file(connection, vault, agency_filer, book["L0003"])
    assert _complaints(connection) == 1
    # a supervisor scoped to a bucket no loan is in (no states stored) sees no complaint
    scoped = Actor(name="web:sun.li", role=Role.SUPERVISOR, user_id=5, scope_buckets=("M3",))
    with pytest.raises(NotFound, match="complaint"):
        desk.detail(connection, vault, scoped, view.id, now=NOW, today=TODAY)
    _, rows = desk.queue(connection, scoped, now=NOW, today=TODAY, status=None, open_only=False)
    assert rows == []
    with pytest.raises(NotFound):
        desk.record_survey(
            connection,
            AGENCY,
            loan_id=book["L0001"],
            subject_type="complaint",
            subject_id=view.id,
            score=5,
            now=NOW,
            today=TODAY,
        )


def test_a_borrower_complains_about_their_own_loan_only(
    connection: Connection, vault: PiiVault, book: dict[str, int]
) -> None:
    with pytest.raises(NotFound):
        portal.complain(
            connection,
            vault,
            borrower_id=book["BL0001"],
            loan_id=book["L0003"],  # another borrower's
            category="attitude",
            description="态度不好",
            now=NOW,
        )
    assert _complaints(connection) == 0
    complaint_id = portal.complain(
        connection,
        vault,
        borrower_id=book["BL0001"],
        loan_id=None,
        category="attitude",
        description="态度不好",
        now=NOW,
    )
    row = connection.execute(select(Complaint).where(Complaint.id == complaint_id)).one()
    assert (row.source, row.filed_by) == ("portal", portal.actor_of(book["BL0001"]))
    with pytest.raises(NotFound):
        portal.answer_survey(
            connection,
            borrower_id=book["BL0001"],
            loan_id=book["L0003"],
            subject_type="plan",
            subject_id=1,
            score=4,
            now=NOW,
        )
    assert connection.execute(select(func.count()).select_from(SatisfactionResponse)).scalar() == 0
