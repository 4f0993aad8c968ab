"""Plans beyond an agent's authority, on SQLite and PostgreSQL: submitted with a reason,
approved, adjusted or refused by a supervisor, superseded by a newer offer; refusals
write nothing. (Two supervisors deciding at once over HTTP:
tests/web/test_plan_approvals_races.py.)

The book of tests/integration/services/test_plans.py: L0001 and L0002 are 40 days past
due on 27 Mar 2026; an agent may waive at most 50% of the penalty, a supervisor 100%.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from forbear.domain.access import Actor, Role
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.plans import PlanRequest, PlanStatus, PlanType
from forbear.domain.plans.policy import BeyondAuthority
from forbear.services import contacts
from forbear.services import plans as svc
from forbear.services.plans import approvals
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.plans import Plan, PlanApproval

from .test_plans import ids as ids

BASE = date(2026, 3, 27)
NOW = datetime(2026, 3, 27, 2, 0, tzinfo=UTC)
AGENT = Actor("web:agent1", role=Role.AGENT, user_id=11)
SUPER = Actor("web:super1", role=Role.SUPERVISOR, user_id=21)
SUPER2 = Actor("web:super2", role=Role.SUPERVISOR, user_id=22)
BEYOND = PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=100)
WITHIN = PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=50)


def count(conn: Connection, table: type) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def actions(conn: Connection) -> list[str]:
    return list(conn.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def submit(conn: Connection, vault: PiiVault, loan: int, request: PlanRequest = BEYOND, **kw):  # type: ignore[no-untyped-def]
    values = {"reason": "失业三个月，新工作下月开始", "vault": vault, "now": NOW, "today": BASE}
    values.update(kw)
    return approvals.submit(conn, AGENT, loan, request, **values)  # type: ignore[arg-type]


def decide(conn: Connection, vault: PiiVault, approval_id: int, decision: str, **kw):  # type: ignore[no-untyped-def]
    actor = kw.pop("actor", SUPER)
    return approvals.decide(
        conn, actor, approval_id, decision, vault=vault, now=NOW, today=BASE, **kw
    )


def test_submit_then_approve_offers_the_plan_under_the_supervisors_authority(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    with pytest.raises(BeyondAuthority):  # the agent may not offer it ...
        svc.offer_plan(
            connection, loan_id=ids["L0001"], request=BEYOND, role="agent", as_of=BASE, actor="a"
        )
    sent = submit(connection, vault, ids["L0001"])  # ... but may submit it
    assert (sent.status, sent.plan_type, sent.terms) == (
        "pending",
        PlanType.RESTRUCTURE,
        {"instalments": 3, "waive_penalty_pct": 100},
    )
    assert sent.reason == "失业三个月，新工作下月开始"
    stored = connection.execute(select(PlanApproval.reason_enc)).scalar_one()
    assert "失业".encode() not in stored  # encrypted at rest
    [waiting] = approvals.queue(connection, SUPER, vault=vault, now=NOW, today=BASE)
    assert waiting.id == sent.id and waiting.loan_ref == "L0001"

    decided = decide(connection, vault, sent.id, "approve")
    assert decided.status == "approved" and decided.decided_by == "web:super1"
    plan = svc.get_plan(connection, decided.plan_id or 0)
    assert (plan.status, plan.role, plan.terms["waive_penalty_pct"]) == (
        PlanStatus.OFFERED,
        "supervisor",
        100,
    )
    assert approvals.queue(connection, SUPER, vault=vault, now=NOW, today=BASE) == []
    assert actions(connection)[-3:] == [
        "plan_approval.submitted",
        "plan.offer",
        "plan_approval.approved",
    ]
    event = connection.execute(
        select(AuditEvent.payload).where(AuditEvent.action == "plan_approval.submitted")
    ).scalar_one()
    assert "失业" not in str(event)  # the typed reason never reaches the audit trail


def test_adjust_offers_other_terms_within_the_supervisors_limits(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    sent = submit(connection, vault, ids["L0001"])
    too_far = PlanRequest(PlanType.RESTRUCTURE, instalments=24)
    before = count(connection, AuditEvent)
    with pytest.raises(BeyondAuthority):
        decide(connection, vault, sent.id, "adjust", adjusted=too_far)
    assert count(connection, AuditEvent) == before  # nothing written (rolled back by caller)
    adjusted = PlanRequest(PlanType.RESTRUCTURE, instalments=6, waive_penalty_pct=80)
    decided = decide(connection, vault, sent.id, "adjust", adjusted=adjusted, reason="改为6期")
    assert decided.status == "adjusted" and decided.decision_reason == "改为6期"
    plan = svc.get_plan(connection, decided.plan_id or 0)
    assert (plan.terms["instalments"], plan.terms["waive_penalty_pct"]) == (6, 80)


def test_refuse_needs_a_reason_and_offers_nothing(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    sent = submit(connection, vault, ids["L0001"])
    with pytest.raises(ValidationError, match="reason"):
        decide(connection, vault, sent.id, "refuse", reason="  ")
    decided = decide(connection, vault, sent.id, "refuse", reason="收入证明不足")
    assert (decided.status, decided.plan_id, decided.decision_reason) == (
        "refused",
        None,
        "收入证明不足",
    )
    assert count(connection, Plan) == 0


def test_the_second_decision_on_a_submission_is_a_conflict_naming_the_first(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    sent = submit(connection, vault, ids["L0001"])
    decide(connection, vault, sent.id, "approve")
    with pytest.raises(Conflict, match=r"already approved \(by web:super1 on 2026-03-27\)"):
        decide(connection, vault, sent.id, "refuse", reason="no", actor=SUPER2)
    assert count(connection, Plan) == 1


def test_only_supervisors_decide_and_agents_submit_only_beyond_their_authority(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    with pytest.raises(ValidationError, match="within your own authority"):
        submit(connection, vault, ids["L0001"], WITHIN)
    with pytest.raises(ValidationError, match="reason"):
        submit(connection, vault, ids["L0001"], reason="")
    with pytest.raises(BeyondAuthority):  # beyond the supervisor too: nobody could approve
        submit(connection, vault, ids["L0001"], PlanRequest(PlanType.RESTRUCTURE, instalments=40))
    sent = submit(connection, vault, ids["L0001"])
    with pytest.raises(PermissionDenied):
        decide(connection, vault, sent.id, "approve", actor=AGENT)
    with pytest.raises(PermissionDenied):
        approvals.queue(connection, AGENT, vault=vault, now=NOW, today=BASE)
    with pytest.raises(NotFound):
        decide(connection, vault, 999_999, "approve")
    with pytest.raises(PermissionDenied):
        approvals.submit(
            connection,
            Actor("web:legal1", role=Role.LEGAL),
            ids["L0001"],
            BEYOND,
            reason="x",
            vault=vault,
            now=NOW,
            today=BASE,
        )
    assert count(connection, PlanApproval) == 1


def test_no_submission_for_a_loan_that_could_not_get_the_plan(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    contacts.add_hold(
        connection,
        loan_id=ids["L0002"],
        kind="dispute",
        actor="agent:7",
        since=datetime(2026, 3, 1, tzinfo=UTC),
    )
    with pytest.raises(Conflict, match="dispute hold"):
        submit(connection, vault, ids["L0002"])
    hardship = PlanRequest(PlanType.HARDSHIP, months=5, payment_share_pct=40)
    with pytest.raises(ValidationError, match="income"):
        submit(connection, vault, ids["L0001"], hardship)
    assert count(connection, PlanApproval) == 0
    sent = submit(connection, vault, ids["L0001"], hardship, income=9_000_00, expenses=4_000_00)
    assert sent.terms["income"] == 9_000_00
    decided = decide(connection, vault, sent.id, "approve")
    assert svc.get_plan(connection, decided.plan_id or 0).terms["income"] == 9_000_00


def test_a_newer_offer_supersedes_a_pending_offer_and_a_pending_submission(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    loan = ids["L0001"]
    agents = svc.offer_plan(
        connection, loan_id=loan, request=WITHIN, role="agent", as_of=BASE, actor="web:agent1"
    )
    # the same offer again (a second click) is refused, not saved twice
    with pytest.raises(Conflict, match="same terms"):
        svc.offer_plan(
            connection, loan_id=loan, request=WITHIN, role="agent", as_of=BASE, actor="web:agent1"
        )
    # the agent's pending offer does not block the supervisor's own
    own = svc.offer_plan(
        connection, loan_id=loan, request=BEYOND, role="supervisor", as_of=BASE, actor="web:super1"
    )
    assert svc.get_plan(connection, agents.plan_id or 0).status is PlanStatus.CANCELLED
    assert svc.get_plan(connection, own.plan_id or 0).status is PlanStatus.OFFERED
    # a submission; then a second one of other terms supersedes it; the same one is refused
    ninety = PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=90)
    with pytest.raises(Conflict, match="same terms"):  # the supervisor offers that already
        submit(connection, vault, loan)
    first = submit(connection, vault, loan, ninety)
    with pytest.raises(Conflict, match="same terms"):
        submit(connection, vault, loan, ninety)
    second = submit(connection, vault, loan, PlanRequest(PlanType.DEFERRAL, months=3))
    states = dict(connection.execute(select(PlanApproval.id, PlanApproval.status)).all())
    assert states == {first.id: "superseded", second.id: "pending"}
    # the agent's newer offer supersedes the pending submission and the supervisor's offer
    newest = svc.offer_plan(
        connection,
        loan_id=loan,
        request=PlanRequest(PlanType.SETTLEMENT, discount_pct=5),
        role="agent",
        as_of=BASE,
        actor="web:agent1",
    )
    assert (
        connection.execute(
            select(PlanApproval.status).where(PlanApproval.id == second.id)
        ).scalar_one()
        == "superseded"
    )
    assert svc.get_plan(connection, own.plan_id or 0).status is PlanStatus.CANCELLED
    with pytest.raises(Conflict, match="already superseded"):
        decide(connection, vault, second.id, "approve")
    # an accepted plan still blocks every new offer and submission
    svc.accept_plan(connection, newest.plan_id or 0, as_of=BASE, actor="web:agent1")
    with pytest.raises(Conflict, match="one open plan per loan"):
        submit(connection, vault, loan)
    assert "plan_approval.superseded" in actions(connection)


def test_a_scoped_supervisor_sees_and_decides_only_loans_in_scope(
    connection: Connection, ids: dict[str, int], vault: PiiVault
) -> None:
    sent = submit(connection, vault, ids["L0001"])
    narrow = Actor("web:super3", role=Role.SUPERVISOR, user_id=23, scope_buckets=("M9",))
    assert approvals.queue(connection, narrow, vault=vault, now=NOW, today=BASE) == []
    with pytest.raises(NotFound, match="plan approval"):
        decide(connection, vault, sent.id, "approve", actor=narrow)


def test_the_borrower_side_reads_no_staff_reasons(
    connection: Connection, ids: dict[str, int], vault: PiiVault, tmp_path: Path
) -> None:
    submit(connection, vault, ids["L0001"])
    [seen] = approvals.of_loans(connection, [ids["L0001"]])
    assert seen.status == "pending" and seen.reason is None
