"""Repayment plans on SQLite and PostgreSQL: offer, accept, the daily update, the ledger's
days past due and bucket for governed loans, refusals that leave nothing behind.

The book is imported as a lender's files arrive: product CASH (18%, penalty 27%, 3 grace
days), loans of 12,000 yuan over 12 months from 15 Jan 2026 (due on the 15th). L0001 and
L0002 pay nothing: on 27 Mar 2026 they are 40 days past due (two instalments).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, func, select, update

from clocks import SETUP_AT, SETUP_DAY
from factories import VALID_IDS, csv_text, make_loan_row, make_payment_row, make_product
from forbear.domain.access import Actor, Role
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.plans import LineKind, PlanRequest, PlanStatus, PlanType
from forbear.domain.plans.policy import BeyondAuthority
from forbear.services import book, contacts
from forbear.services import plans as svc
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.store.audit import AuditEvent
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan
from forbear.store.plans import Plan

BASE = date(2026, 3, 27)
ACTOR = "agent:7"
SUPERVISOR = Actor("web:super1", role=Role.SUPERVISOR)


@pytest.fixture
def ids(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    import_products(connection, [make_product()], "products", effective_from=date(2026, 1, 1))
    rows = [
        make_loan_row(),
        make_loan_row(loan_ref="L0002"),
        make_loan_row(
            loan_ref="L0003", customer_ref="C0002", national_id=VALID_IDS[2], mobile="13900000001"
        ),
    ]
    path = tmp_path / "loans.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    import_loans(connection, vault, path, now=SETUP_AT)
    return {str(r[0]): int(r[1]) for r in connection.execute(select(Loan.external_ref, Loan.id))}


def pay(conn: Connection, tmp_path: Path, *rows: tuple[str, date, int]) -> None:
    """Payments as the lender's file brings them: (loan_ref, day, fen)."""
    lines = [
        make_payment_row(
            txn_ref=f"T{len(list(tmp_path.iterdir()))}-{k}",
            loan_ref=ref,
            paid_at=f"{day.isoformat()} 10:00:00",
            amount=f"{amount // 100}.{amount % 100:02d}",
        )
        for k, (ref, day, amount) in enumerate(rows)
    ]
    path = tmp_path / f"payments-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(csv_text(lines), encoding="utf-8")
    import_payments(conn, path, zone="Asia/Shanghai", now=SETUP_AT)


def offer(conn: Connection, loan_id: int, request: PlanRequest, **kw: object) -> svc.OfferResult:
    values: dict[str, object] = {"role": "agent", "as_of": BASE, "actor": ACTOR}
    values.update(kw)
    return svc.offer_plan(conn, loan_id=loan_id, request=request, **values)  # type: ignore[arg-type]


def count(conn: Connection, table: type) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def state_of(conn: Connection, loan_id: int, day: date) -> dict[str, object]:
    states = book.compute_states(conn, day).states
    return states.filter(states["loan_id"] == loan_id).row(0, named=True)


RESTRUCTURE = PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=50)


def test_a_preview_stores_nothing_and_a_saved_offer_stores_plan_lines_and_audit(
    connection: Connection, ids: dict[str, int]
) -> None:
    before = count(connection, AuditEvent)
    preview = offer(connection, ids["L0001"], RESTRUCTURE, save=False)
    assert preview.plan_id is None
    assert (count(connection, Plan), count(connection, AuditEvent)) == (0, before)
    assert preview.position.dpd == 40

    saved = offer(connection, ids["L0001"], RESTRUCTURE)
    assert saved.plan_id is not None
    plan = svc.get_plan(connection, saved.plan_id)
    assert (plan.status, plan.plan_type, plan.loan_ref) == (
        PlanStatus.OFFERED,
        PlanType.RESTRUCTURE,
        "L0001",
    )
    assert plan.expires_on == BASE + timedelta(days=7)
    lines = svc.plan_lines(connection, saved.plan_id)
    assert lines == list(saved.offer.lines)
    assert sum(ln.total for ln in lines) == plan.scheduled
    assert len([ln for ln in lines if ln.kind is LineKind.PLAN]) == 3
    event = connection.execute(select(AuditEvent).where(AuditEvent.action == "plan.offer")).one()
    assert (event.actor, event.subject_id) == (ACTOR, str(saved.plan_id))
    # CASH's 27% penalty carried into the plan is flagged for legal review, not refused
    assert [f["code"] for f in plan.findings] == ["PENALTY_RATE_ABOVE_24"]


def test_waiving_the_whole_penalty_needs_a_supervisor_and_clears_the_legal_flag(
    connection: Connection, ids: dict[str, int]
) -> None:
    request = PlanRequest(PlanType.RESTRUCTURE, instalments=3, waive_penalty_pct=100)
    with pytest.raises(BeyondAuthority, match="limit is 50%; a supervisor may approve up to 100%"):
        offer(connection, ids["L0001"], request)
    assert count(connection, Plan) == 0
    result = offer(connection, ids["L0001"], request, role="supervisor")
    assert result.findings == []
    assert result.offer.waived.penalty == result.position.overdue_amounts.penalty


def test_an_offer_beyond_every_roles_authority_is_refused_with_the_limits(
    connection: Connection, ids: dict[str, int]
) -> None:
    with pytest.raises(BeyondAuthority, match="beyond a supervisor's limit too"):
        offer(connection, ids["L0001"], PlanRequest(PlanType.RESTRUCTURE, instalments=24))
    assert count(connection, Plan) == 0


def test_roles_without_plan_authority_and_unknown_roles_are_refused(
    connection: Connection, ids: dict[str, int]
) -> None:
    with pytest.raises(PermissionDenied, match=r"'legal' may not plan\.offer"):
        offer(connection, ids["L0001"], RESTRUCTURE, role="legal")
    with pytest.raises(ValidationError, match="role"):
        offer(connection, ids["L0001"], RESTRUCTURE, role="boss")
    with pytest.raises(NotFound):
        offer(connection, 999_999, RESTRUCTURE)


def test_a_newer_offer_supersedes_a_waiting_one_but_an_accepted_plan_blocks(
    connection: Connection, ids: dict[str, int]
) -> None:
    first = offer(connection, ids["L0001"], RESTRUCTURE)
    audit_before = count(connection, AuditEvent)
    with pytest.raises(
        Conflict, match=f"already has plan {first.plan_id} \\(offered\\) with the same"
    ):
        offer(connection, ids["L0001"], RESTRUCTURE)  # the same offer twice: a second click
    assert (count(connection, Plan), count(connection, AuditEvent)) == (1, audit_before)
    second = offer(connection, ids["L0001"], PlanRequest(PlanType.SETTLEMENT, discount_pct=5))
    assert svc.get_plan(connection, first.plan_id or 0).status is PlanStatus.CANCELLED
    svc.accept_plan(connection, second.plan_id or 0, as_of=BASE, actor=ACTOR)
    with pytest.raises(Conflict, match=f"already has plan {second.plan_id} \\(accepted\\)"):
        offer(connection, ids["L0001"], RESTRUCTURE)
    # a cancelled plan frees the loan for a new one
    svc.cancel_plan(connection, second.plan_id or 0, as_of=BASE, actor=SUPERVISOR)
    assert offer(connection, ids["L0001"], PlanRequest(PlanType.SETTLEMENT)).plan_id


def test_no_plan_on_a_paid_off_or_written_off_loan(
    connection: Connection, ids: dict[str, int], tmp_path: Path
) -> None:
    pay(connection, tmp_path, ("L0003", date(2026, 2, 1), 13_000_00))
    with pytest.raises(Conflict, match="L0003 is paid off"):
        offer(connection, ids["L0003"], PlanRequest(PlanType.SETTLEMENT))
    connection.execute(
        update(Loan).where(Loan.id == ids["L0002"]).values(written_off_on=date(2026, 3, 20))
    )
    with pytest.raises(Conflict, match="L0002 is written off"):
        offer(connection, ids["L0002"], RESTRUCTURE)
    assert count(connection, Plan) == 0


def test_no_plan_under_a_dispute_hold(connection: Connection, ids: dict[str, int]) -> None:
    contacts.add_hold(
        connection,
        loan_id=ids["L0001"],
        kind="dispute",
        actor=ACTOR,
        since=datetime(2026, 3, 1, tzinfo=UTC),
    )
    with pytest.raises(Conflict, match="dispute hold"):
        offer(connection, ids["L0001"], RESTRUCTURE)
    assert count(connection, Plan) == 0
    # a legally closed loan: tests/integration/services/test_legal.py (a settled case)


def test_a_hardship_plan_needs_stated_means_and_must_be_affordable(
    connection: Connection, ids: dict[str, int]
) -> None:
    request = PlanRequest(PlanType.HARDSHIP, months=3, payment_share_pct=50)
    with pytest.raises(ValidationError, match="income"):
        offer(connection, ids["L0001"], request)
    with pytest.raises(Conflict, match="unaffordable"):
        offer(connection, ids["L0001"], request, income=3_000_00, expenses=2_900_00)
    assert count(connection, Plan) == 0
    ok = offer(connection, ids["L0001"], request, income=9_000_00, expenses=4_000_00)
    assert ok.affordability.affordable and ok.plan_id


def test_accepting_makes_the_plan_govern_the_loan_from_that_day(
    connection: Connection, ids: dict[str, int]
) -> None:
    loan = ids["L0001"]
    result = offer(connection, loan, RESTRUCTURE)
    plan_id = result.plan_id or 0
    accepted = svc.accept_plan(connection, plan_id, as_of=BASE + timedelta(days=1), actor=ACTOR)
    assert (accepted.status, accepted.start_date) == (PlanStatus.ACCEPTED, BASE + timedelta(days=1))
    assert state_of(connection, loan, BASE)["dpd"] == 40
    counts = svc.daily_update(connection, BASE + timedelta(days=1))
    assert counts["activated"] == 1 and counts["active"] == 1
    st = state_of(connection, loan, BASE + timedelta(days=2))
    assert (st["dpd"], st["bucket"], st["overdue_total"]) == (0, "C", 0)
    # the other loan, without a plan, is still late
    assert state_of(connection, ids["L0002"], BASE + timedelta(days=2))["bucket"] == "M2"
    actions = (
        connection.execute(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == "plan")
            .order_by(AuditEvent.seq)
        )
        .scalars()
        .all()
    )
    assert actions == ["plan.offer", "plan.accepted", "plan.active"]


def test_an_offer_expires_and_cannot_be_accepted_after(
    connection: Connection, ids: dict[str, int]
) -> None:
    plan_id = offer(connection, ids["L0001"], RESTRUCTURE).plan_id or 0
    with pytest.raises(Conflict, match="expired on 2026-04-03"):
        svc.accept_plan(connection, plan_id, as_of=date(2026, 4, 4), actor=ACTOR)
    assert svc.daily_update(connection, date(2026, 4, 4))["expired"] == 1
    assert svc.get_plan(connection, plan_id).status is PlanStatus.EXPIRED
    with pytest.raises(Conflict, match="cannot become accepted"):
        svc.accept_plan(connection, plan_id, as_of=date(2026, 4, 2), actor=ACTOR)


def test_a_kept_plan_completes_and_keeps_the_loan_current(
    connection: Connection, ids: dict[str, int], tmp_path: Path
) -> None:
    loan = ids["L0001"]
    result = offer(connection, loan, PlanRequest(PlanType.SETTLEMENT, discount_pct=10))
    plan_id = result.plan_id or 0
    svc.accept_plan(connection, plan_id, as_of=BASE, actor=ACTOR)
    svc.daily_update(connection, BASE)
    (line,) = result.offer.lines
    pay(connection, tmp_path, ("L0001", date(2026, 4, 2), line.total))
    counts = svc.daily_update(connection, date(2026, 4, 3))
    assert counts["completed"] == 1
    assert svc.get_plan(connection, plan_id).status is PlanStatus.COMPLETED
    st = state_of(connection, loan, date(2026, 6, 1))
    assert (st["status"], st["dpd"], st["outstanding_principal"]) == ("paid_off", 0, 0)
    assert st["paid_total"] == line.total
    # idempotent: nothing more to do for the date
    again = svc.daily_update(connection, date(2026, 4, 3))
    assert {k: v for k, v in again.items() if k != "active"} == dict.fromkeys(
        ("expired", "activated", "completed", "broken", "cancelled"), 0
    )


def test_a_payment_posted_in_real_time_completes_the_plan_at_once(
    connection: Connection, ids: dict[str, int]
) -> None:
    """The payment system's callback (issue 13) brings the loan's plan up to date in the
    same transaction: no wait for the next daily run."""
    from forbear.services.outreach import callbacks, payments

    loan = ids["L0001"]
    result = offer(connection, loan, PlanRequest(PlanType.SETTLEMENT, discount_pct=10))
    plan_id = result.plan_id or 0
    svc.accept_plan(connection, plan_id, as_of=BASE, actor=ACTOR)
    svc.daily_update(connection, BASE)
    (line,) = result.offer.lines
    now = datetime(2026, 4, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    signed = callbacks.SignedCallback(
        provider="pay", kind=callbacks.CallbackKind.PAYMENT, signature="ab" * 32, signed_at=now
    )
    posted = payments.post_payment(
        connection,
        callbacks.accept(connection, signed, "TXN-PLAN-1", now=now),
        payments.LivePayment(
            transaction_id="TXN-PLAN-1",
            amount=f"{line.total // 100}.{line.total % 100:02d}",
            paid_at="2026-04-02 10:30:00",
            loan_id=loan,
        ),
        provider="pay",
        zone="Asia/Shanghai",
        now=now,
        today=date(2026, 4, 2),
    )
    assert (posted.status, posted.plans_completed) == ("applied", 1)
    assert svc.get_plan(connection, plan_id).status is PlanStatus.COMPLETED
    # the daily run of the day finds nothing left to do for it
    assert svc.daily_update(connection, date(2026, 4, 2))["completed"] == 0


def test_a_missed_plan_instalment_breaks_the_plan_and_brings_the_original_debt_back(
    connection: Connection, ids: dict[str, int]
) -> None:
    loan = ids["L0001"]
    plan_id = offer(connection, loan, RESTRUCTURE).plan_id or 0
    svc.accept_plan(connection, plan_id, as_of=BASE, actor=ACTOR)
    svc.daily_update(connection, BASE)
    # first new instalment due 15 April; 10 days late is still within the rule
    assert svc.daily_update(connection, date(2026, 4, 25))["broken"] == 0
    assert (
        svc.plan_flags(connection, date(2026, 4, 25))
        .filter(pl.col("loan_id") == loan)["active_plan"]
        .item()
    )
    assert state_of(connection, loan, date(2026, 4, 25))["dpd"] == 10
    assert svc.daily_update(connection, date(2026, 4, 26))["broken"] == 1
    plan = svc.get_plan(connection, plan_id)
    assert (plan.status, plan.ended_on) == (PlanStatus.BROKEN, date(2026, 4, 26))
    # from the day it broke the contract schedule applies again: 70 days past due
    st = state_of(connection, loan, date(2026, 4, 26))
    assert (st["dpd"], st["bucket"]) == (70, "M3")
    flags = svc.plan_flags(connection, date(2026, 4, 26))
    assert flags.height == 3 and not flags["active_plan"].any()
    with pytest.raises(Conflict, match="cannot become cancelled"):
        svc.cancel_plan(connection, plan_id, as_of=date(2026, 4, 27), actor=SUPERVISOR)


def test_plan_flags_mark_loans_under_a_performing_plan(
    connection: Connection, ids: dict[str, int]
) -> None:
    plan_id = offer(connection, ids["L0002"], RESTRUCTURE).plan_id or 0
    assert not svc.plan_flags(connection, BASE)["active_plan"].any()
    svc.accept_plan(connection, plan_id, as_of=BASE, actor=ACTOR)
    flags = svc.plan_flags(connection, BASE)
    assert flags.columns == ["loan_id", "active_plan"]
    assert dict(zip(flags["loan_id"], flags["active_plan"], strict=True)) == {
        ids["L0001"]: False,
        ids["L0002"]: True,
        ids["L0003"]: False,
    }


def test_survival_counts_plans_old_enough_by_type(
    connection: Connection, ids: dict[str, int], tmp_path: Path
) -> None:
    kept = offer(connection, ids["L0001"], PlanRequest(PlanType.DEFERRAL, months=2))
    broken = offer(connection, ids["L0002"], PlanRequest(PlanType.DEFERRAL, months=2))
    for result in (kept, broken):
        svc.accept_plan(connection, result.plan_id or 0, as_of=BASE, actor=ACTOR)
    by_day: dict[date, int] = {}
    for line in kept.offer.lines:
        by_day[line.due_date] = by_day.get(line.due_date, 0) + line.total
    pay(
        connection,
        tmp_path,
        *[
            ("L0001", day, amount)
            for day, amount in sorted(by_day.items())
            if day <= date(2026, 10, 1)
        ],
    )
    day = BASE
    while day <= date(2026, 10, 1):
        svc.daily_update(connection, day)
        day += timedelta(days=7)
    figures = svc.survival(connection, date(2026, 10, 1))
    row = figures.filter(figures["plan_type"] == "deferral").row(0, named=True)
    assert (row["started"], row["eligible_3m"], row["eligible_6m"]) == (2, 2, 2)
    # the unpaid one broke in May (its first date was 15 April + the rule's 10 days)
    assert (row["performing_3m"], row["share_3m"]) == (1, 0.5)
    assert row["share_6m"] == 0.5
    settlement = figures.filter(figures["plan_type"] == "settlement").row(0, named=True)
    assert (settlement["started"], settlement["share_3m"]) == (0, None)
    young = svc.survival(connection, date(2026, 5, 1))
    assert young.filter(young["plan_type"] == "deferral")["eligible_3m"].item() == 0


def test_list_plans_by_loan_and_status(connection: Connection, ids: dict[str, int]) -> None:
    offer(connection, ids["L0001"], RESTRUCTURE)
    offer(connection, ids["L0002"], PlanRequest(PlanType.SETTLEMENT))
    assert [p.loan_ref for p in svc.list_plans(connection)] == ["L0001", "L0002"]
    assert [p.loan_ref for p in svc.list_plans(connection, loan_id=ids["L0002"])] == ["L0002"]
    assert svc.list_plans(connection, status="active") == []
    with pytest.raises(ValidationError, match="--status"):
        svc.list_plans(connection, status="happy")


def test_the_demo_makes_plans_on_overdue_demo_loans_within_the_agents_limits(
    connection: Connection, vault: PiiVault, tmp_path: Path
) -> None:
    from forbear.sim.book import generate_book, write_files
    from forbear.sim.history import seed_plans
    from forbear.sim.products import load_products

    as_of = date(2026, 11, 30)
    demo = generate_book(250, as_of, 11, load_products())
    loans_file, payments_file = write_files(demo, tmp_path, fmt="csv")
    import_products(connection, load_products(), "demo", effective_from=SETUP_DAY)
    import_loans(connection, vault, loans_file, now=SETUP_AT)
    import_payments(connection, payments_file, zone="Asia/Shanghai", now=SETUP_AT)

    made = seed_plans(connection, as_of, seed=5)
    plans = svc.list_plans(connection)
    assert made == len(plans) >= 3
    statuses = {p.status for p in plans}
    assert statuses <= {
        PlanStatus.ACTIVE,
        PlanStatus.COMPLETED,
        PlanStatus.BROKEN,
        PlanStatus.CANCELLED,
    }
    assert len(statuses & {PlanStatus.ACTIVE, PlanStatus.COMPLETED, PlanStatus.BROKEN}) >= 2
    agent = svc.load_policy().policy.limits_for("agent", "CASH", None)
    for plan in plans:
        assert plan.role == "agent"
        assert plan.terms.get("instalments", 0) <= agent.max_restructure_instalments
        assert plan.terms.get("waive_penalty_pct", 0) <= agent.max_penalty_waiver_pct
        assert plan.terms.get("discount_pct", 0) <= agent.max_settlement_discount_pct
    assert svc.survival(connection, as_of)["started"].sum() == made


def test_a_plan_keeps_the_missed_payment_rule_it_was_offered_under(
    connection: Connection, ids: dict[str, int]
) -> None:
    from forbear.domain.plans.policy import parse_policy

    text = svc.load_policy().source
    strict_text = (
        (Path(svc.__file__).parents[2] / "domain" / text)
        .read_text(encoding="utf-8")
        .replace("days_late: 10", "days_late: 2")
    )
    strict = parse_policy(strict_text, source="strict.yaml")
    plan_id = offer(connection, ids["L0001"], RESTRUCTURE, policy=strict).plan_id or 0
    assert svc.get_plan(connection, plan_id).terms["broken"] == {"days_late": 2, "tolerance": 1000}
    svc.accept_plan(connection, plan_id, as_of=BASE, actor=ACTOR)
    svc.daily_update(connection, BASE)
    # the default rule (10 days) would wait; this plan's own rule breaks it once the 15 April
    # instalment is past its 3 grace days (what is overdue counts only after grace)
    assert svc.daily_update(connection, date(2026, 4, 18))["broken"] == 0
    assert svc.daily_update(connection, date(2026, 4, 19))["broken"] == 1
