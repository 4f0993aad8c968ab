"""Experiment readout and promotion on a small demo book, SQLite and PostgreSQL.

Daily runs of the shipped strategy (its m1 experiment: champion, challenger, control)
over a few days put accounts in arms; the test then adds payments, complaints and
opt-outs to the challenger's accounts after they entered, so the arms have different
outcomes. The service's set-wise outcomes are compared with the same figures computed
account by account here, the readout with them, and promotion is checked for its audit,
its reason rule and its refusals (nothing stored on refusal).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from clocks import SETUP_AT, SETUP_DAY
from forbear.batch.daily import run_day
from forbear.domain.access import Actor, Role
from forbear.domain.errors import NotFound, PermissionDenied, ValidationError
from forbear.domain.experiments import Policy
from forbear.services import experiments as svc
from forbear.services.book import states_for
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store import audit
from forbear.store.complaints import Complaint
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import PiiVault
from forbear.store.models import Payment
from forbear.store.strategies import StrategyVersion
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

pytestmark = pytest.mark.xdist_group("test_experiments")

AS_OF = date(2026, 11, 29)
RUN_DAYS = [AS_OF - timedelta(days=k) for k in range(12, 9, -1)]  # three run days
END = AS_OF
EXTRA = 50_000  # fen each challenger account pays on top, after entry
SUPERVISOR = Actor("web:sup", Role.SUPERVISOR)


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    demo = generate_book(900, AS_OF, 20261207, load_products())
    return write_files(demo, tmp_path_factory.mktemp("book"), fmt="parquet")


def _outcomes_added(conn: Connection, who: pl.DataFrame) -> None:
    """Challenger accounts pay EXTRA the day after entry; every third complains and
    opts out; every account gets one allowed contact on its entry day."""
    at = lambda d: datetime(d.year, d.month, d.day, 4, 0, tzinfo=UTC)  # noqa: E731
    for i, r in enumerate(who.iter_rows(named=True)):
        day = r["entered"]
        conn.execute(insert(ContactAttempt).values(
            loan_id=r["loan_id"], borrower_id=r["borrower_id"], channel="sms", party="debtor",
            actor="test", at=at(day), allowed=True, blocked_by="[]", is_demand=True,
            discloses_debt=True, created_at=SETUP_AT))  # fmt: skip
        if r["arm"] != "challenger":
            continue
        conn.execute(insert(Payment).values(
            external_ref=f"x-{r['loan_id']}", loan_id=r["loan_id"], paid_on=day + timedelta(1),
            amount=EXTRA, channel="test", created_at=SETUP_AT))  # fmt: skip
        if i % 3 == 0:
            conn.execute(insert(Complaint).values(
                borrower_id=r["borrower_id"], loan_id=r["loan_id"], source="agent",
                category="attitude", status="open", description_enc=b"x",
                received_at=at(day + timedelta(2)), received_on=day + timedelta(2),
                due_on=day + timedelta(17), filed_by="test"))  # fmt: skip
            conn.execute(insert(Hold).values(
                borrower_id=r["borrower_id"], loan_id=None, kind="opt_out", channel="sms",
                since=at(day + timedelta(3)), reason="test", created_by="test",
                created_at=SETUP_AT))  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
def book_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path],
) -> Iterator[Engine]:
    data_dir = tmp_path_factory.mktemp("data")
    with book_database(request.param, tmp_path_factory, "experiments") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
        for day in RUN_DAYS:
            with engine.begin() as conn:
                run_day(conn, day, data_dir=data_dir, now=SETUP_AT)
        with engine.begin() as conn:
            who, _ = svc.members(conn, "m1_callback_timing", None, None)
            _outcomes_added(conn, who)
            states_for(conn, END)
        yield engine


@pytest.fixture
def book(book_engine: Engine) -> Iterator[Connection]:
    with rolled_back(book_engine) as conn:
        yield conn


def test_members_are_replayed_for_every_arm_including_the_hold_out(book: Connection) -> None:
    who, days = svc.members(book, "m1_callback_timing", None, None)
    assert days == RUN_DAYS
    arms = who.group_by("arm").len()
    print(arms)
    assert set(arms["arm"]) == {"champion", "challenger", "control"}
    assert who["loan_id"].is_unique().all()
    # the treated arms agree with what the runs recorded
    r = svc.report(book, "m1_callback_timing", "cli:test", start=RUN_DAYS[0], end=END)
    assert not any("another arm" in n for n in r.notes)


def _slow_outcomes(conn: Connection, who: pl.DataFrame) -> dict[int, tuple[int, int, int, bool]]:
    """Recovered, contacts, complaints and opted out, account by account (the reference)."""
    out = {}
    for r in who.iter_rows(named=True):
        loan, entered = r["loan_id"], r["entered"]
        paid = conn.execute(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.loan_id == loan, Payment.paid_on >= entered, Payment.paid_on <= END
            )
        ).scalar()
        contacts = conn.execute(
            select(func.count())
            .select_from(ContactAttempt)
            .where(ContactAttempt.loan_id == loan, ContactAttempt.allowed.is_(True))
        ).scalar()
        complaints = conn.execute(
            select(func.count())
            .select_from(Complaint)
            .where(Complaint.loan_id == loan, Complaint.received_on >= entered)
        ).scalar()
        opted = conn.execute(
            select(func.count())
            .select_from(Hold)
            .where(Hold.borrower_id == r["borrower_id"], Hold.kind == "opt_out")
        ).scalar()
        out[loan] = (int(paid or 0), int(contacts or 0), int(complaints or 0), bool(opted))
    return out  # fmt: skip


def test_outcomes_set_wise_equal_account_by_account(book: Connection) -> None:
    who, _ = svc.members(book, "m1_callback_timing", None, None)
    frame = svc.outcomes(book, who, RUN_DAYS[0], END)
    slow = _slow_outcomes(book, who)
    assert frame.height == who.height
    for row in frame.iter_rows(named=True):
        expected = slow[row["loan_id"]]
        got = (row["recovered"], row["contacts"], row["complaints"], row["opted_out"])
        assert got == expected, row["loan_id"]
    challenger = frame.filter(pl.col("arm") == "challenger")
    assert (challenger["recovered"] >= EXTRA).all()


def test_report_shows_the_challenger_recovering_more_and_complaining_more(
    book: Connection,
) -> None:
    r = svc.report(book, "m1_callback_timing", SUPERVISOR, start=RUN_DAYS[0], end=END,
                   policy=Policy(min_accounts=10))  # fmt: skip
    assert (r.start, r.end, r.days) == (RUN_DAYS[0], END, len(RUN_DAYS))
    ch, champ = r.readout.arm("challenger"), r.readout.arm("champion")
    who, _ = svc.members(book, "m1_callback_timing", None, None)
    slow = _slow_outcomes(book, who)
    for arm in r.readout.arms:
        loans = who.filter(pl.col("arm") == arm.arm)["loan_id"].to_list()
        assert arm.accounts == len(loans)
        assert arm.recovered_total == sum(slow[x][0] for x in loans)
        assert arm.complaints == sum(slow[x][2] for x in loans)
        assert arm.opted_out == sum(slow[x][3] for x in loans)
    assert ch.complaints > 0 and champ.complaints == 0 and ch.opted_out > 0
    c = r.readout.comparison("challenger", "champion")
    assert c is not None
    rec = c.difference("recovered")
    assert rec.low <= rec.estimate <= rec.high
    print(c.verdict.en, [(d.metric, round(d.low, 2), round(d.high, 2)) for d in c.differences])
    assert c.verdict.kind in ("better", "mixed", "insufficient")
    data = r.to_dict()
    assert data["experiment"] == "m1_callback_timing" and data["run_days"] == len(RUN_DAYS)
    # a window before any run: nothing read, said so
    early = svc.report(book, "m1_callback_timing", SUPERVISOR, start=date(2026, 1, 1),
                       end=date(2026, 1, 31))  # fmt: skip
    assert early.days == 0 and early.notes
    assert all(a.accounts == 0 for a in early.readout.arms)


def test_bad_input_is_refused_clearly(book: Connection) -> None:
    with pytest.raises(NotFound, match="experiment not found: nope"):
        svc.report(book, "nope", "cli:test")
    with pytest.raises(ValidationError, match="from: 2026-11-29 is after --to 2026-11-01"):
        svc.report(book, "m1_callback_timing", "cli:test", start=AS_OF, end=date(2026, 11, 1))
    with pytest.raises(PermissionDenied):
        svc.report(book, "m1_callback_timing", Actor("web:a", Role.AGENT))


def _versions(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(StrategyVersion)).scalar() or 0)


def test_promote_refusals_change_nothing(book: Connection) -> None:
    before = _versions(book)
    cases = [
        ("nope", "challenger", NotFound, "experiment not found"),
        ("m1_callback_timing", "ghost", ValidationError, "no arm 'ghost'"),
        ("m1_callback_timing", "control", ValidationError, "hold-out"),
        ("m1_callback_timing", "champion", ValidationError, "already has the segment's"),
    ]
    for x, arm, exc, text in cases:
        with pytest.raises(exc, match=text):
            svc.promote(book, x, arm, "cli:test", now=SETUP_AT, reason="because")
    with pytest.raises(PermissionDenied):
        svc.promote(book, "m1_callback_timing", "challenger", Actor("x", Role.COMPLIANCE_OFFICER),
                    now=SETUP_AT, reason="because")  # fmt: skip
    # weak evidence (the default policy: too few accounts for a verdict) needs a reason
    with pytest.raises(svc.ReasonRequired, match="reason: the readout does not show"):
        svc.promote(book, "m1_callback_timing", "challenger", SUPERVISOR, now=SETUP_AT)
    with pytest.raises(ValidationError, match="reason: at most 500"):
        svc.promote(book, "m1_callback_timing", "challenger", SUPERVISOR, now=SETUP_AT,
                    reason="x" * 501)  # fmt: skip
    assert _versions(book) == before


def test_promote_makes_an_audited_candidate_version(book: Connection) -> None:
    p = svc.promote(book, "m1_callback_timing", "challenger", SUPERVISOR, now=SETUP_AT,
                    reason="earlier call is kinder on the phone team", end=END)  # fmt: skip
    assert p.weak and p.treatment == "m1_early_call" and p.strategy.status == "candidate"
    from forbear.services import strategies

    _, s = strategies.version(book, p.strategy.id, SUPERVISOR)
    m1 = next(x for x in s.spec.segments if x.id == "m1")
    assert m1.treatment == "m1_early_call"
    assert not any(x.id == "m1_callback_timing" for x in s.spec.experiments)
    events = audit.events(book, action="experiment.promote")
    assert len(events) == 1
    payload = events[0].payload
    assert payload["arm"] == "challenger" and payload["weak"] is True
    assert payload["reason"].startswith("earlier call") and payload["differences"]
    # the new version is not in force: the experiment is still the active strategy's
    assert svc.experiment(book, "m1_callback_timing", SUPERVISOR).active
