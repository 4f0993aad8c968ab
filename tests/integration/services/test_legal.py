"""Legal escalation on a generated book, on SQLite and PostgreSQL: the queue lists only
eligible accounts (checked against facts read independently), cases move forward only,
demands restart the limitation period, documents are made for the legal role only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import Connection, Engine, func, select, update

from clocks import SETUP_AT, SETUP_DAY
from factories import VALID_IDS, csv_text, make_loan_row
from forbear.domain.access import Role
from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import (
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from forbear.domain.legal.costs import CostRefused, parse_cost
from forbear.domain.legal.proof import ProofRefused, delivery_proof
from forbear.domain.legal.refusals import LegalRefused
from forbear.services import contacts, legal
from forbear.services.documents.cache import RENDERED
from forbear.services.documents.gather import ClaimRefused, case_documents
from forbear.services.documents.names import chinese_name
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.services.legal.detail import case_detail
from forbear.services.legal.review import QueueFilter, queue_page
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store import bulk
from forbear.store.audit import AuditEvent
from forbear.store.contacts import Demand, Hold
from forbear.store.crypto import PiiVault
from forbear.store.legal import LegalCase, LegalDocument, LegalQueueEntry
from forbear.store.models import Instalment, Loan
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_legal")

AS_OF = date(2026, 11, 27)
ACTOR = "cli:lawyer"
NOW = datetime(2026, 11, 27, 3, tzinfo=UTC)  # a fixed clock
NOON = datetime.combine(AS_OF, time(4), UTC)
TRACKING = "EA123456785CN"  # a UPU S10 item number with its check digit


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("legal-book")
    loans, payments = write_files(generate_book(400, AS_OF, 6, load_products()), folder, "parquet")
    # Two loans of our own, never paid: one past its limitation period (last instalment
    # due 2022-01-15, so it ran out on 2025-01-15), one matured in 2025 (limitation 2028).
    extra = folder / "extra.csv"
    extra.write_text(
        csv_text(
            [
                make_loan_row(
                    loan_ref="OLD-EXPIRED",
                    customer_ref="X0001",
                    start_date="2020-12-15",
                    principal="20000.00",
                    national_id=VALID_IDS[0],
                    mobile="13700000001",
                    emergency_name="",
                    emergency_relation="",
                    emergency_mobile="",
                ),
                make_loan_row(
                    loan_ref="MATURED",
                    customer_ref="X0002",
                    start_date="2024-01-15",
                    principal="24000.00",
                    national_id=VALID_IDS[2],
                    mobile="13700000002",
                    emergency_name="",
                    emergency_relation="",
                    emergency_mobile="",
                ),
            ]
        ),
        encoding="utf-8",
    )
    return loans, payments, extra


@pytest.fixture(scope="module", params=BACKENDS)
def book_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path, Path],
) -> Iterator[Engine]:
    """The book imported once per backend (each test rolls its changes back)."""
    with book_database(request.param, tmp_path_factory, "legal") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_loans(conn, PiiVault(TEST_KEY), book_files[2], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
        yield engine


@pytest.fixture
def book(book_engine: Engine) -> Iterator[Connection]:
    with rolled_back(book_engine) as conn:
        yield conn


def loan_id(conn: Connection, ref: str) -> int:
    return contacts.loan_id_for_ref(conn, ref)


def independent_facts(conn: Connection) -> dict[int, dict[str, object]]:
    """Per loan, the criteria computed from the stored facts without the legal pipeline:
    the ledger state, open holds read from the table, the limitation date from the last
    instalment and the last demand."""
    states = bulk.read_states(conn, AS_OF)
    at = datetime.combine(AS_OF, time(23, 59, 59), UTC)
    held_loans: set[int] = set()
    held_borrowers: set[int] = set()
    for hold in conn.execute(select(Hold)).all():
        if (
            hold.since <= at
            and (hold.until is None or hold.until > at)
            and (hold.contact_point_id is None)
        ):
            if hold.kind == HoldKind.OPT_OUT.value and hold.channel is not None:
                continue
            (held_loans.add(hold.loan_id) if hold.loan_id else held_borrowers.add(hold.borrower_id))
    last_due = dict(
        conn.execute(
            select(Instalment.loan_id, func.max(Instalment.due_date)).group_by(Instalment.loan_id)
        ).all()
    )
    last_demand = {
        k: v.date()
        for k, v in conn.execute(
            select(Demand.loan_id, func.max(Demand.at)).group_by(Demand.loan_id)
        ).all()
    }
    borrower = dict(conn.execute(select(Loan.id, Loan.borrower_id)).all())
    facts: dict[int, dict[str, object]] = {}
    for s in states.iter_rows(named=True):
        start = max(d for d in (last_due.get(s["loan_id"]), last_demand.get(s["loan_id"])) if d)
        limit = start.replace(year=start.year + 3)
        claimable = (
            s["outstanding_principal"]
            + s["overdue_interest"]
            + s["overdue_penalty"]
            + s["overdue_fee"]
        )
        facts[s["loan_id"]] = {
            "dpd": s["dpd"] >= 90,
            "balance": claimable >= 300_000,
            "status": s["status"] != "paid_off",
            "no_hold": s["loan_id"] not in held_loans
            and borrower[s["loan_id"]] not in held_borrowers,
            "limitation": limit >= AS_OF,
        }
    return facts


def test_the_queue_lists_only_eligible_accounts(book: Connection) -> None:
    conn = book
    # An account that would be eligible, but disputed: it must stay out.
    first = legal.assess(conn, AS_OF).filter("eligible")
    assert first.height >= 3
    disputed = int(first["loan_id"][0])
    contacts.add_hold(
        conn, loan_id=disputed, kind="dispute", actor=ACTOR, since=NOON, reason="test"
    )

    counts = legal.refresh_queue(conn, AS_OF, ACTOR)
    listed = {item.loan_id for item in legal.queue(conn, AS_OF)}
    assert counts["added"] == counts["eligible"] == len(listed) > 0

    facts = independent_facts(conn)
    for loan, fact in facts.items():
        # no conversations and no promises in this book: engagement always holds
        eligible = all(fact.values())
        assert (loan in listed) == eligible, (loan, fact)
    # the ineligible kinds are there, and absent from the queue
    assert disputed not in listed and not facts[disputed]["no_hold"]
    expired = loan_id(conn, "OLD-EXPIRED")
    assert not facts[expired]["limitation"] and facts[expired]["dpd"] and expired not in listed
    small = [k for k, f in facts.items() if f["dpd"] and f["status"] and not f["balance"]]
    assert small and not set(small) & listed
    assert loan_id(conn, "MATURED") in listed
    # every entry stores the criteria with their values
    item = next(i for i in legal.queue(conn, AS_OF) if i.loan_id == loan_id(conn, "MATURED"))
    assert [r["criterion"] for r in item.reasons][:3] == ["dpd", "engagement", "balance"]
    assert all(r["held"] for r in item.reasons) and item.reasons[0]["value"] >= 90


def test_refresh_is_idempotent_and_drops_entries_that_stop_being_eligible(book: Connection) -> None:
    conn = book
    first = legal.refresh_queue(conn, AS_OF, ACTOR)
    again = legal.refresh_queue(conn, AS_OF, ACTOR)
    assert again == {
        "eligible": first["eligible"],
        "added": 0,
        "removed": 0,
        "queued": first["queued"],
    }
    matured = loan_id(conn, "MATURED")
    contacts.add_hold(conn, loan_id=matured, kind="cease", actor=ACTOR, since=NOON)
    later = legal.refresh_queue(conn, AS_OF, ACTOR)
    assert later["removed"] == 1 and later["queued"] == first["queued"] - 1
    entry = conn.execute(select(LegalQueueEntry).where(LegalQueueEntry.loan_id == matured)).one()
    assert entry.status == "removed" and json.loads(entry.removed_because or "[]") == ["no_hold"]
    actions = list(conn.execute(select(AuditEvent.action)).scalars())
    assert actions.count("legal.queue.add") == first["added"]
    assert actions.count("legal.queue.remove") == 1


def test_a_lender_configuration_tightens_the_queue_and_cannot_loosen_it(book: Connection) -> None:
    conn = book
    loose = legal.refresh_queue(conn, AS_OF, ACTOR)["eligible"]
    text = legal.config_in_force(conn).model_dump()
    text["eligibility"]["min_balance"] = 2_000_000
    import yaml

    legal.set_config(
        conn, yaml.safe_dump(text, allow_unicode=True), source="t.yaml", actor=ACTOR, now=NOW
    )
    tight = legal.refresh_queue(conn, AS_OF, ACTOR)
    assert tight["eligible"] < loose and tight["removed"] == loose - tight["eligible"]
    text["eligibility"]["min_dpd"] = 30
    with pytest.raises(ConfigurationError, match=r"eligibility\.min_dpd"):
        legal.set_config(conn, yaml.safe_dump(text), source="t.yaml", actor=ACTOR, now=NOW)


def test_a_case_is_opened_only_by_legal_for_a_queued_undisputed_account(book: Connection) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    matured = loan_id(conn, "MATURED")
    with pytest.raises(PermissionDenied, match=r"'agent' may not legal\.manage"):
        legal.open_case(conn, matured, role="agent", actor=ACTOR, on=AS_OF)
    with pytest.raises(Conflict, match="not in the legal review queue"):
        legal.open_case(conn, loan_id(conn, "OLD-EXPIRED"), role="legal", actor=ACTOR, on=AS_OF)
    # disputed after it was queued: refused with the reason, nothing opened
    hold = contacts.add_hold(conn, loan_id=matured, kind="dispute", actor=ACTOR, since=NOON)
    with pytest.raises(Conflict, match="open dispute hold"):
        legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    assert conn.execute(select(func.count()).select_from(LegalCase)).scalar_one() == 0
    contacts.release_hold(conn, hold, actor=ACTOR, at=NOON.replace(hour=5))
    case = legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    assert case.stage.value == "review" and case.loan_ref == "MATURED"
    with pytest.raises(Conflict, match=f"already has legal case {case.id}"):
        legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    assert legal.queue(conn, AS_OF)[0].status in ("queued", "case_opened")


def test_a_case_moves_forward_only_and_a_refused_move_changes_nothing(book: Connection) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    case = legal.open_case(conn, loan_id(conn, "MATURED"), role="legal", actor=ACTOR, on=AS_OF)
    legal.advance(
        conn,
        case.id,
        "demand_letter",
        role="legal",
        actor=ACTOR,
        on=AS_OF,
        evidence_ref="EA123456785CN",
    )
    filed = legal.advance(
        conn,
        case.id,
        "filed",
        role="legal",
        actor=ACTOR,
        on=date(2026, 12, 10),
        court="上海市浦东新区人民法院",
        case_number="(2026)沪0115民初123号",
        costs=legal.parse_costs(["court_fee=250", "lawyer_fee=3000.50"]),
    )
    assert (filed.stage.value, filed.costs) == ("filed", 325_050)
    events_before = conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    with pytest.raises(Conflict, match="it cannot move back to 'demand_letter'"):
        legal.advance(
            conn, case.id, "demand_letter", role="legal", actor=ACTOR, on=date(2026, 12, 11)
        )
    with pytest.raises(ValidationError, match="before the current stage's date"):
        legal.advance(conn, case.id, "judgment", role="legal", actor=ACTOR, on=date(2026, 12, 1))
    with pytest.raises(ValidationError, match="cost"):
        legal.parse_costs(["court_fee=-5"])
    assert legal.get_case(conn, case.id) == filed
    assert conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events_before
    legal.advance(conn, case.id, "judgment", role="legal", actor=ACTOR, on=date(2027, 3, 1))
    done = legal.advance(conn, case.id, "settled", role="legal", actor=ACTOR, on=date(2027, 4, 1))
    assert done.stage.is_final
    with pytest.raises(Conflict, match="the case has ended"):
        legal.advance(conn, case.id, "enforcement", role="legal", actor=ACTOR, on=date(2027, 5, 1))
    actions = [
        a
        for a in conn.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars()
        if a.startswith("legal.case")
    ]
    assert actions == ["legal.case.open"] + ["legal.case.advance"] * 4


def test_a_demand_letter_is_evidence_and_moves_the_limitation_date(book: Connection) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    matured = loan_id(conn, "MATURED")

    def limitation() -> date:
        rows = legal.limitation_watch(conn, AS_OF, 5000).filter(loan_id=matured)
        return rows["limitation_date"][0]

    assert limitation() == date(2028, 1, 15)  # the last instalment, 2025-01-15, + 3 years
    case = legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    legal.advance(
        conn,
        case.id,
        "demand_letter",
        role="legal",
        actor=ACTOR,
        on=AS_OF,
        evidence_ref="sf 1234-5678-9012 3",
    )
    demand = conn.execute(select(Demand).where(Demand.loan_id == matured)).one()
    assert (demand.channel, demand.evidence_ref) == ("letter", "tracking:SF1234567890123")
    assert limitation() == date(2029, 11, 27)
    watch = legal.limitation_watch(conn, date(2029, 10, 1), 90).filter(loan_id=matured)
    assert watch["days_left"].to_list() == [57] and watch["case_id"].to_list() == [case.id]


def test_documents_for_the_legal_role_unmask_with_an_audit_and_record_hashes(
    book: Connection, vault: PiiVault
) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    case = legal.open_case(conn, loan_id(conn, "MATURED"), role="legal", actor=ACTOR, on=AS_OF)
    with pytest.raises(PermissionDenied):
        case_documents(conn, vault, case.id, role="supervisor", actor=ACTOR, as_of=AS_OF)
    docs = case_documents(conn, vault, case.id, role="legal", actor=ACTOR, as_of=AS_OF)
    letter = docs.files[f"case-{case.id}-demand-letter.pdf"]
    text = pdfium.PdfDocument(letter)[0].get_textpage().get_text_range()
    assert "催告函" in text and "张伟" in text and "12378" in text
    assert docs.amounts.total > 0 and docs.limitation_date == date(2028, 1, 15)
    package = docs.files[f"case-{case.id}-litigation-package.pdf"]
    assert VALID_IDS[2] in pdfium.PdfDocument(package)[0].get_textpage().get_text_range()
    parties = docs.files[f"case-{case.id}-parties.csv"].decode("utf-8-sig")
    assert VALID_IDS[2] in parties and "137****0002" in parties and "13700000002" not in parties
    amounts = docs.files[f"case-{case.id}-amounts.csv"].decode("utf-8-sig")
    assert f"total,合计,{docs.amounts.total}," in amounts
    unmasked = (
        conn.execute(select(AuditEvent.payload).where(AuditEvent.action == "pii.unmask"))
        .scalars()
        .all()
    )
    assert sorted(json.loads(p)["field"] for p in unmasked) == ["address", "name", "national_id"]
    assert all(json.loads(p)["purpose"] == "litigation" for p in unmasked)
    recorded = conn.execute(select(LegalDocument.kind, LegalDocument.files)).all()
    assert sorted(kind for kind, _ in recorded) == ["demand_letter", "litigation_package"]
    trail = " ".join(conn.execute(select(AuditEvent.payload)).scalars())
    assert "张伟" not in trail and VALID_IDS[2] not in trail  # no personal data in the trail


def test_a_claim_above_the_contract_gets_no_documents(book: Connection, vault: PiiVault) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    matured = loan_id(conn, "MATURED")
    case = legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    conn.execute(update(Loan).where(Loan.id == matured).values(annual_rate_bp=4000))
    with pytest.raises(ClaimRefused, match="INTEREST_ABOVE_CONTRACT"):
        case_documents(conn, vault, case.id, role="legal", actor=ACTOR, as_of=AS_OF)
    assert conn.execute(select(func.count()).select_from(LegalDocument)).scalar_one() == 0


def test_the_demo_opens_cases_at_several_stages(book: Connection) -> None:
    from forbear.sim.history import seed_legal_cases

    conn = book
    assert seed_legal_cases(conn, AS_OF) == 3
    stages = sorted(c.stage.value for c in legal.list_cases(conn))
    assert stages == ["demand_letter", "filed", "review"]
    assert seed_legal_cases(conn, AS_OF) == 3  # three more queued accounts, never the same
    assert len({c.loan_id for c in legal.list_cases(conn)}) == 6


def test_engagement_a_recent_conversation_keeps_an_account_out_until_promises_break(
    book: Connection,
) -> None:
    from datetime import timedelta

    from forbear.domain.compliance.config import default_rules
    from forbear.services import promises

    conn = book
    matured = loan_id(conn, "MATURED")

    def eligible() -> bool:
        row = legal.assess(conn, AS_OF, loan_id=matured).row(0, named=True)
        return bool(row["eligible"])

    assert eligible()  # never contacted counts as no contact
    talk = datetime.combine(AS_OF - timedelta(days=5), time(3), UTC)  # 11:00 in Shanghai
    attempt = contacts.request_contact(
        conn, loan_id=matured, channel="call", at=talk, actor=ACTOR, rules=default_rules()
    )
    contacts.record_outcome(conn, int(attempt.attempt_id or 0), "connected", ACTOR)
    assert not eligible()  # talked to 5 days ago, no broken promise
    for weeks in (8, 4):
        taken = AS_OF - timedelta(weeks=weeks)
        promises.add_promise(
            conn,
            loan_id=matured,
            amount=100_000,
            promised_on=taken + timedelta(days=3),
            source="agent",
            actor=ACTOR,
            as_of=taken,
            taken_at=datetime.combine(taken, time(3), UTC),
        )
        promises.daily_update(conn, taken + timedelta(days=20), ACTOR)
    row = legal.assess(conn, AS_OF, loan_id=matured).row(0, named=True)
    assert row["broken_promises_90d"] == 2 and row["days_since_last_contact"] == 5
    assert row["eligible"]


def test_an_active_plan_keeps_an_account_out_and_a_settled_case_blocks_new_plans(
    book: Connection,
) -> None:
    from forbear.domain.plans import PlanRequest, PlanType
    from forbear.services import plans

    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    ids = [item.loan_id for item in legal.queue(conn, AS_OF)]
    matured = loan_id(conn, "MATURED")
    other = next(i for i in ids if i != matured)
    request = PlanRequest(PlanType.RESTRUCTURE, instalments=6)
    offered = plans.offer_plan(
        conn, loan_id=matured, request=request, role="supervisor", as_of=AS_OF, actor=ACTOR
    )
    assert offered.plan_id is not None
    plans.accept_plan(conn, offered.plan_id, as_of=AS_OF, actor=ACTOR)
    row = legal.assess(conn, AS_OF, loan_id=matured).row(0, named=True)
    # the assessment reads the borrower situation: the plan governs at once, so the loan
    # is current on the plan's schedule (dpd 0) as well as under an active plan
    assert row["active_plan"] and row["failed"] == ["dpd", "no_plan"] and row["dpd"] == 0
    counts = legal.refresh_queue(conn, AS_OF, ACTOR)
    assert counts["removed"] == 1 and matured not in {i.loan_id for i in legal.queue(conn, AS_OF)}

    # a case settled through legal: collections may not offer a plan of their own
    case = legal.open_case(conn, other, role="legal", actor=ACTOR, on=AS_OF)
    legal.advance(
        conn, case.id, "demand_letter", role="legal", actor=ACTOR, on=AS_OF, evidence_ref=TRACKING
    )
    legal.advance(conn, case.id, "settled", role="legal", actor=ACTOR, on=AS_OF)
    with pytest.raises(Conflict, match=f"settled through legal case {case.id}"):
        plans.offer_plan(
            conn, loan_id=other, request=request, role="supervisor", as_of=AS_OF, actor=ACTOR
        )


# ----------------------------------------------------------------------- issue 15, item 7


def _audit_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def test_a_demand_letter_without_proof_of_delivery_is_refused_and_changes_nothing(
    book: Connection,
) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    matured = loan_id(conn, "MATURED")
    case = legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    before = _audit_count(conn)
    refusals = {
        None: ("proof_kind", "legal.proof.missing"),
        "": ("proof_kind", "legal.proof.missing"),
        "EA123456784CN": ("tracking_number", "legal.proof.tracking_check"),
        "EMS1234": ("tracking_number", "legal.proof.tracking_format"),
        "legal-case:1:demand-letter": ("tracking_number", "legal.proof.tracking_format"),
        "receipt:R1;signed=2026-11-27": ("receipt_ref", "legal.proof.receipt_format"),
        "receipt:SR-2026-0042": ("signed_on", "legal.proof.signed_missing"),
        "receipt:SR-2026-0042;signed=2026-11-28": ("signed_on", "legal.proof.signed_future"),
    }
    for evidence, (field, key) in refusals.items():
        with pytest.raises(ProofRefused) as refused:
            legal.advance(
                conn,
                case.id,
                "demand_letter",
                role="legal",
                actor=ACTOR,
                on=AS_OF,
                evidence_ref=evidence,
            )
        assert (refused.value.field, refused.value.key) == (field, key), evidence
    assert legal.get_case(conn, case.id).stage.value == "review"
    assert conn.execute(select(func.count()).select_from(Demand)).scalar_one() == 0
    assert _audit_count(conn) == before
    watch = legal.limitation_watch(conn, AS_OF, 5000).filter(loan_id=matured)
    assert watch["limitation_date"].to_list() == [date(2028, 1, 15)]  # not restarted

    receipt = delivery_proof(
        "receipt", "ＳＲ-2026-0042", signed_on=AS_OF, sent_on=AS_OF, today=AS_OF
    )
    legal.advance(
        conn, case.id, "demand_letter", role="legal", actor=ACTOR, on=AS_OF, proof=receipt
    )
    demand = conn.execute(select(Demand.evidence_ref)).scalar_one()
    assert demand == "receipt:SR-2026-0042;signed=2026-11-27"
    assert legal.limitation_watch(conn, AS_OF, 5000).filter(loan_id=matured)[
        "limitation_date"
    ].to_list() == [date(2029, 11, 27)]
    # a further demand needs its proof too
    with pytest.raises(ProofRefused, match="not a tracking number"):
        legal.record_demand(
            conn, case.id, role="legal", actor=ACTOR, at=NOON, evidence_ref="lawyer letter"
        )
    legal.record_demand(conn, case.id, role="legal", actor=ACTOR, at=NOON, evidence_ref=TRACKING)
    refs = conn.execute(select(Demand.evidence_ref).order_by(Demand.id)).scalars().all()
    assert refs[-1] == f"tracking:{TRACKING}"


def test_a_cost_typed_in_yuan_is_checked_recorded_and_audited(book: Connection) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    case = legal.open_case(conn, loan_id(conn, "MATURED"), role="legal", actor=ACTOR, on=AS_OF)
    refused = {
        ("court_fee", "", None): ("amount", "legal.cost.amount_missing"),
        ("court_fee", "lots", None): ("amount", "legal.cost.amount_format"),
        ("court_fee", "12.345", None): ("amount", "legal.cost.amount_format"),
        ("court_fee", "0", None): ("amount", "legal.cost.amount_positive"),
        ("court_fee", "2000000", None): ("amount", "legal.cost.amount_max"),
        ("bribe", "100", None): ("kind", "legal.cost.kind"),
        ("court_fee", "100", date(2026, 11, 28)): ("incurred_on", "legal.cost.future"),
        ("court_fee", "100", date(2026, 11, 1)): ("incurred_on", "legal.cost.before_open"),
    }
    for (kind, amount, day), (field, key) in refused.items():
        with pytest.raises(CostRefused) as why:
            parse_cost(kind, amount, day, opened_on=AS_OF, today=AS_OF)
        assert (why.value.field, why.value.key) == (field, key), (kind, amount, day)
    typed = parse_cost("lawyer_fee", "¥３,000.50", None, opened_on=AS_OF, today=AS_OF)
    assert (typed.amount, typed.incurred_on) == (300_050, AS_OF)
    before = _audit_count(conn)
    after = legal.add_costs(conn, case.id, [typed], role="legal", actor=ACTOR, on=AS_OF)
    assert after.costs == 300_050 and _audit_count(conn) == before + 1
    payload = conn.execute(
        select(AuditEvent.payload).where(AuditEvent.action == "legal.case.cost")
    ).scalar_one()
    assert json.loads(payload)["costs"] == [["lawyer_fee", 300_050, "2026-11-27"]]
    with pytest.raises(PermissionDenied):
        legal.add_costs(conn, case.id, [typed], role="agent", actor=ACTOR, on=AS_OF)
    assert legal.get_case(conn, case.id).costs == 300_050


def test_the_review_queue_pages_sorts_by_claim_and_limitation_and_filters(
    book: Connection,
) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    everyone = legal.queue(conn, AS_OF)
    assert len(everyone) > 6
    states = {r["loan_id"]: r for r in bulk.read_states(conn, AS_OF).iter_rows(named=True)}

    def claim(loan: int) -> int:
        s = states[loan]
        return int(
            s["outstanding_principal"]
            + s["overdue_interest"]
            + s["overdue_penalty"]
            + s["overdue_fee"]
        )

    first = queue_page(conn, AS_OF, QueueFilter(sort="-amount", per_page=3), seen=None)
    assert first.total == len(everyone) and first.pages == -(-len(everyone) // 3)
    pages = [first] + [
        queue_page(conn, AS_OF, QueueFilter(sort="-amount", per_page=3, page=n), seen=None)
        for n in range(2, first.pages + 1)
    ]
    rows = [r for p in pages for r in p.rows]
    assert [r.loan_id for r in rows] != [] and len({r.loan_id for r in rows}) == len(everyone)
    assert all(r.claim == claim(r.loan_id) for r in rows)
    claims = [r.claim for r in rows]
    assert claims == sorted(claims, reverse=True)

    soonest = queue_page(conn, AS_OF, QueueFilter(sort="limitation", per_page=200), seen=None)
    days = [r.days_left for r in soonest.rows if r.days_left is not None]
    assert days == sorted(days)
    matured = loan_id(conn, "MATURED")
    row = next(r for r in soonest.rows if r.loan_id == matured)
    assert (row.limitation_date, row.days_left) == (date(2028, 1, 15), 414)

    low = sorted(claims)[len(claims) // 2]
    rich = queue_page(conn, AS_OF, QueueFilter(min_amount=low, per_page=200), seen=None)
    assert rich.total == sum(1 for c in claims if c >= low)
    near = queue_page(conn, AS_OF, QueueFilter(within=414, per_page=200), seen=None)
    assert matured in {r.loan_id for r in near.rows}
    assert all(r.days_left is not None and r.days_left <= 414 for r in near.rows)
    mine = queue_page(conn, AS_OF, QueueFilter(per_page=200), seen={matured})
    assert [r.loan_id for r in mine.rows] == [matured]
    legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    waiting = queue_page(conn, AS_OF, QueueFilter(stage="waiting", per_page=200), seen=None)
    reviewing = queue_page(conn, AS_OF, QueueFilter(stage="review", per_page=200), seen=None)
    assert matured not in {r.loan_id for r in waiting.rows}
    assert [r.loan_id for r in reviewing.rows] == [matured]
    beyond = queue_page(conn, AS_OF, QueueFilter(per_page=3, page=10_000), seen=None)
    assert beyond.page == beyond.pages  # past the end: the last page
    for bad in (
        QueueFilter(sort="name"),
        QueueFilter(per_page=0),
        QueueFilter(min_amount=500, max_amount=100),
        QueueFilter(within=-1),
    ):
        with pytest.raises(LegalRefused):
            queue_page(conn, AS_OF, bad, seen=None)


def test_a_download_makes_only_its_file_and_a_letter_is_served_again_unchanged(
    book: Connection, vault: PiiVault
) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    case = legal.open_case(conn, loan_id(conn, "MATURED"), role="legal", actor=ACTOR, on=AS_OF)
    amounts = case_documents(
        conn, vault, case.id, role="legal", actor=ACTOR, as_of=AS_OF, only="amounts.csv"
    )
    assert list(amounts.files) == [f"case-{case.id}-amounts.csv"]
    unmasked = select(func.count()).where(AuditEvent.action == "pii.unmask")
    assert conn.execute(unmasked).scalar_one() == 0  # no personal data in that file
    with pytest.raises(NotFound):
        case_documents(conn, vault, case.id, role="legal", actor=ACTOR, as_of=AS_OF, only="x.pdf")
    RENDERED.clear()
    first = case_documents(
        conn, vault, case.id, role="legal", actor=ACTOR, as_of=AS_OF, only="demand-letter.pdf"
    )
    again = case_documents(
        conn, vault, case.id, role="legal", actor=ACTOR, as_of=AS_OF, only="demand-letter.pdf"
    )
    name = f"case-{case.id}-demand-letter.pdf"
    assert list(first.files) == [name] and first.files[name] == again.files[name]
    assert first.letter_no == again.letter_no == f"LC-2026-{case.id:06d}-1"
    assert conn.execute(unmasked).scalar_one() == 4  # name and address, each download
    recorded = conn.execute(
        select(LegalDocument.kind).where(LegalDocument.case_id == case.id)
    ).scalars()
    assert sorted(recorded) == ["demand_letter", "demand_letter", "litigation_package"]
    reused = conn.execute(
        select(AuditEvent.payload)
        .where(AuditEvent.action == "legal.documents")
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).scalar_one()
    assert json.loads(reused)["reused"] == [name]
    # a new fact (a cost) makes a new package; the letter does not print costs
    legal.add_costs(conn, case.id, [("court_fee", 25_000)], role="legal", actor=ACTOR, on=AS_OF)
    third = case_documents(
        conn, vault, case.id, role="legal", actor=ACTOR, as_of=AS_OF, only="demand-letter.pdf"
    )
    assert third.files[name] == first.files[name]
    assert chinese_name(case.id, "MATURED", "demand-letter.pdf") == (
        f"案件{case.id}-催告函-MATURED.pdf"
    )


def test_the_case_page_shows_claim_masked_debtor_limitation_demands_and_costs(
    book: Connection, vault: PiiVault
) -> None:
    conn = book
    legal.refresh_queue(conn, AS_OF, ACTOR)
    matured = loan_id(conn, "MATURED")
    case = legal.open_case(conn, matured, role="legal", actor=ACTOR, on=AS_OF)
    legal.advance(
        conn, case.id, "demand_letter", role="legal", actor=ACTOR, on=AS_OF, evidence_ref=TRACKING
    )
    legal.add_costs(conn, case.id, [("court_fee", 25_000)], role="legal", actor=ACTOR, on=AS_OF)
    before = _audit_count(conn)
    shown = case_detail(
        conn, legal.get_case(conn, case.id), role=Role.LEGAL, as_of=AS_OF, vault=vault
    )
    state = bulk.read_states(conn, AS_OF).filter(loan_id=matured).row(0, named=True)
    assert shown.claim is not None and shown.claim.total == (
        state["outstanding_principal"]
        + state["overdue_interest"]
        + state["overdue_penalty"]
        + state["overdue_fee"]
    )
    assert shown.debtor == "张*" and shown.borrower_ref == "X0002"
    assert (shown.limitation_date, shown.time_barred) == (date(2029, 11, 27), False)
    assert [(d.proof_kind, d.reference) for d in shown.demands] == [("tracking", TRACKING)]
    assert [(c.kind.value, c.amount) for c in shown.costs] == [("court_fee", 25_000)]
    assert _audit_count(conn) == before  # a masked name is not an unmasking
