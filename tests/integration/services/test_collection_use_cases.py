"""The collection use cases as every front end calls them (web pages, the API, the
command line, the coming assistant): with an Actor, the permission and the scope are
checked by the use case itself, so calling it directly is refused exactly as a web
request is (issue 12, item 1)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from clocks import SETUP_AT
from factories import VALID_IDS, csv_text, make_loan_row, make_product
from forbear.domain.access import Actor, Role
from forbear.domain.errors import NotFound, PermissionDenied
from forbear.domain.plans import PlanRequest, PlanStatus, PlanType
from forbear.services import plans, script_panel, staff
from forbear.services.imports import import_loans, import_products
from forbear.services.legal import desk as legal_desk
from forbear.services.plans import desk as plan_desk
from forbear.services.promises import desk as promise_desk
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan

TODAY = date(2026, 3, 27)
NOW = datetime(2026, 3, 27, 2, tzinfo=UTC)  # 10:00 in Shanghai: a fixed clock
AGENT = Actor("web:agent1", role=Role.AGENT, user_id=11)
SUPERVISOR = Actor("web:super1", role=Role.SUPERVISOR, user_id=12)
OFFICER = Actor("web:officer1", role=Role.COMPLIANCE_OFFICER, user_id=13)
OPERATOR = Actor("cli:root")  # role-free: the command line without a named approver
NARROW = Actor("web:super2", role=Role.SUPERVISOR, user_id=14, scope_buckets=("M6",))
RESTRUCTURE = PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=50)


@pytest.fixture
def ids(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    import_products(connection, [make_product()], "products", effective_from=date(2026, 1, 1))
    rows = [
        make_loan_row(),
        make_loan_row(
            loan_ref="L0003", customer_ref="C0002", national_id=VALID_IDS[2], mobile="13900000001"
        ),
    ]
    path = tmp_path / "loans.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    import_loans(connection, vault, path, now=SETUP_AT)
    return {str(r[0]): int(r[1]) for r in connection.execute(select(Loan.external_ref, Loan.id))}


def offered(conn: Connection, loan_id: int) -> int:
    result = plan_desk.offer(conn, AGENT, loan_id, RESTRUCTURE, now=NOW, today=TODAY, save=True)
    assert result.plan_id is not None
    return result.plan_id


def test_cancelling_an_accepted_plan_needs_plan_approve_whoever_calls(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    plan_id = offered(connection, ids["L0001"])
    plan_desk.accept(connection, AGENT, plan_id, now=NOW, today=TODAY)
    with pytest.raises(PermissionDenied, match=r"plan\.approve"):
        plan_desk.cancel(connection, AGENT, plan_id, now=NOW, today=TODAY)
    with pytest.raises(PermissionDenied, match=r"plan\.approve"):  # the CLI's operator alone
        plans.cancel_plan(connection, plan_id, as_of=TODAY, actor=OPERATOR)
    assert plans.get_plan(connection, plan_id).status is PlanStatus.ACCEPTED
    done = plan_desk.cancel(
        connection, SUPERVISOR, plan_id, now=NOW, today=TODAY, reason="借款人撤回", vault=vault
    )
    assert done.status is PlanStatus.CANCELLED
    event = connection.execute(
        select(AuditEvent).where(AuditEvent.action == "plan.cancelled")
    ).one()
    payload = json.loads(event.payload) if isinstance(event.payload, str) else event.payload
    assert event.actor == "web:super1" and payload["approved_by_user_id"] == 12
    assert "借款人" not in json.dumps(payload, ensure_ascii=False)


def test_an_offer_not_yet_accepted_is_withdrawn_with_plan_offer_alone(
    connection: Connection, ids: dict[str, int]
) -> None:
    plan_id = offered(connection, ids["L0001"])
    done = plan_desk.cancel(connection, AGENT, plan_id, now=NOW, today=TODAY)
    assert done.status is PlanStatus.CANCELLED


def test_the_cli_names_an_approver_whose_role_holds_plan_approve(
    connection: Connection, ids: dict[str, int]
) -> None:
    for username, role in (("agent9", "agent"), ("super9", "supervisor")):
        staff.add_staff(
            connection,
            username=username,
            display_name=username,
            role=role,
            actor="cli:root",
            now=NOW,
        )
    with pytest.raises(NotFound, match="staff user"):
        plan_desk.approver(connection, "nobody", acting="cli:root")
    with pytest.raises(PermissionDenied, match=r"plan\.approve"):
        plan_desk.approver(connection, "agent9", acting="cli:root")
    approver = plan_desk.approver(connection, "super9", acting="cli:root")
    assert (approver.name, approver.role) == ("cli:root", Role.SUPERVISOR)
    plan_id = offered(connection, ids["L0001"])
    plan_desk.accept(connection, AGENT, plan_id, now=NOW, today=TODAY)
    done = plans.cancel_plan(connection, plan_id, as_of=TODAY, actor=approver)
    assert done.status is PlanStatus.CANCELLED


def test_a_role_without_the_permission_is_refused_by_the_use_case(
    connection: Connection, ids: dict[str, int]
) -> None:
    loan = ids["L0001"]
    with pytest.raises(PermissionDenied, match=r"contact\.make"):
        promise_desk.take(
            connection,
            OFFICER,
            loan,
            amount=10_000,
            promised_on=TODAY + timedelta(days=2),
            now=NOW,
            today=TODAY,
        )
    with pytest.raises(PermissionDenied, match=r"plan\.offer"):
        plan_desk.offer(connection, OFFICER, loan, RESTRUCTURE, now=NOW, today=TODAY, save=True)
    with pytest.raises(PermissionDenied, match=r"legal\.manage"):
        legal_desk.review_queue(connection, AGENT, now=NOW, today=TODAY)
    with pytest.raises(PermissionDenied, match=r"legal\.manage"):
        legal_desk.open_case(connection, AGENT, loan, now=NOW, today=TODAY)
    assert plans.list_plans(connection, loan_id=loan) == []


def test_a_loan_out_of_scope_answers_like_an_unknown_one(
    connection: Connection, ids: dict[str, int]
) -> None:
    loan = ids["L0001"]
    plan_id = offered(connection, loan)
    promise_id = promise_desk.take(
        connection,
        AGENT,
        loan,
        amount=10_000,
        promised_on=TODAY + timedelta(days=2),
        now=NOW,
        today=TODAY,
    )
    # NARROW sees only bucket M6, and no states are stored: no loan is in its scope
    with pytest.raises(NotFound, match="loan"):
        promise_desk.take(
            connection,
            NARROW,
            loan,
            amount=10_000,
            promised_on=TODAY + timedelta(days=2),
            now=NOW,
            today=TODAY,
            replace=True,
        )
    with pytest.raises(NotFound, match="promise"):
        promise_desk.withdraw(connection, NARROW, promise_id, now=NOW, today=TODAY)
    with pytest.raises(NotFound, match="plan"):
        plan_desk.cancel(connection, NARROW, plan_id, now=NOW, today=TODAY)
    with pytest.raises(NotFound, match="plan"):
        plan_desk.detail(connection, NARROW, plan_id, now=NOW, today=TODAY)
    with pytest.raises(NotFound, match="loan"):
        script_panel.panel(connection, NARROW, loan, now=NOW, today=TODAY, lang="zh")
    assert plans.get_plan(connection, plan_id).status is PlanStatus.OFFERED
    # in scope, the same calls work
    assert promise_desk.of_loan(connection, AGENT, loan, now=NOW, today=TODAY).height == 1
    shown = script_panel.panel(connection, AGENT, loan, now=NOW, today=TODAY, lang="zh")
    assert shown.situation.open_promise and not shown.situation.open_plan  # offered, not active


def test_an_unknown_legal_case_and_one_out_of_scope_answer_alike(
    connection: Connection, ids: dict[str, int]
) -> None:
    legal = Actor("web:lawyer", role=Role.LEGAL, user_id=15, scope_buckets=("M6",))
    with pytest.raises(NotFound, match="legal case"):
        legal_desk.case_day(connection, legal, 424_242, now=NOW, today=TODAY)
    day, items = legal_desk.review_queue(connection, legal, now=NOW, today=TODAY)
    assert day == TODAY and items == []
