"""``forbear plan`` as an operator meets it: offers shown Chinese first with English,
refusals as one clear line that change nothing, the life cycle from the command line.

The book is the documented example files (docs/import.md); the loan used is the one that
is past due on 30 Nov 2026.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clirun import assert_one_clear_line, forbear

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = "2026-11-30"


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("plans")
    for kind, name in (
        ("products", "products.yaml"),
        ("loans", "loans.csv"),
        ("payments", "payments.csv"),
    ):
        result = forbear(data_dir, "import", kind, str(EXAMPLES / name))
        assert result.returncode == 0, result.stderr
    state = forbear(data_dir, "book", "state", "--as-of", AS_OF)
    assert state.returncode == 0, state.stderr
    return data_dir


def query(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "forbear.db") as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def late_ref(book_dir: Path) -> str:
    rows = query(
        book_dir,
        "SELECT l.external_ref FROM account_states s JOIN loans l ON l.id = s.loan_id "
        f"WHERE s.as_of = '{AS_OF}' AND s.dpd > 30 ORDER BY l.external_ref",
    )
    assert rows, "the example book has a loan past due"
    return str(rows[0][0])


def plans_count(data_dir: Path) -> int:
    return int(query(data_dir, "SELECT count(*) FROM plans")[0][0])


def test_a_preview_shows_the_schedule_and_stores_nothing(book_dir: Path, late_ref: str) -> None:
    result = forbear(
        book_dir,
        "plan",
        "offer",
        late_ref,
        "--type",
        "restructure",
        "--instalments",
        "4",
        "--waive-penalty",
        "50",
        "--role",
        "agent",
        "--as-of",
        AS_OF,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "分期重组 instalment restructuring" in out and late_ref in out
    assert "到期日 Due" in out and "本金 Principal" in out and "合计 Total" in out
    assert "计划合计 Scheduled" in out and "preview" in out
    assert plans_count(book_dir) == 0


def test_refusals_are_one_clear_line_and_change_nothing(book_dir: Path, late_ref: str) -> None:
    beyond = forbear(
        book_dir,
        "plan",
        "offer",
        late_ref,
        "--type",
        "deferral",
        "--months",
        "3",
        "--role",
        "agent",
        "--as-of",
        AS_OF,
        "--save",
    )
    assert_one_clear_line(beyond, "may not offer a deferral of 3 months", "limit is 2 months")
    no_role = forbear(
        book_dir, "plan", "offer", late_ref, "--type", "settlement", "--role", "legal", "--save"
    )
    assert_one_clear_line(no_role, "'legal' may not plan.offer")
    bad_type = forbear(book_dir, "plan", "offer", late_ref, "--type", "holiday", "--role", "agent")
    assert_one_clear_line(bad_type, "--type", "deferral, restructure, settlement, hardship")
    half = forbear(
        book_dir,
        "plan",
        "offer",
        late_ref,
        "--type",
        "hardship",
        "--months",
        "2",
        "--payment-share",
        "50",
        "--income",
        "8000",
        "--role",
        "agent",
    )
    assert_one_clear_line(half, "--income and --expenses together")
    assert plans_count(book_dir) == 0


def test_the_life_cycle_from_the_command_line(book_dir: Path, late_ref: str) -> None:
    saved = forbear(
        book_dir,
        "plan",
        "offer",
        late_ref,
        "--type",
        "hardship",
        "--months",
        "3",
        "--payment-share",
        "50",
        "--income",
        "8000",
        "--expenses",
        "3000",
        "--role",
        "agent",
        "--as-of",
        AS_OF,
        "--save",
    )
    assert saved.returncode == 0, saved.stderr
    assert "可负担" in saved.stdout and "affordable" in saved.stdout
    plan_id = int(query(book_dir, "SELECT max(id) FROM plans")[0][0])
    assert f"plan {plan_id} saved as offered" in saved.stdout

    second = forbear(  # the same offer again: refused (a newer one of other terms supersedes)
        book_dir,
        "plan",
        "offer",
        late_ref,
        "--type",
        "hardship",
        "--months",
        "3",
        "--payment-share",
        "50",
        "--income",
        "8000",
        "--expenses",
        "3000",
        "--role",
        "agent",
        "--as-of",
        AS_OF,
        "--save",
    )
    assert_one_clear_line(second, f"already has plan {plan_id} (offered) with the same terms")

    listed = forbear(book_dir, "plan", "list", "--loan", late_ref)
    assert listed.returncode == 0 and "已提供 offered" in listed.stdout

    accepted = forbear(book_dir, "plan", "accept", str(plan_id), "--as-of", "2026-12-01")
    assert accepted.returncode == 0, accepted.stderr

    update = forbear(book_dir, "plan", "update", "--as-of", "2026-12-01")
    assert update.returncode == 0 and "activated 1" in update.stdout
    dpd = query(
        book_dir,
        "SELECT s.dpd FROM account_states s JOIN loans l ON l.id = s.loan_id "
        f"WHERE l.external_ref = '{late_ref}' AND s.as_of = '2026-12-02'",
    )
    state = forbear(book_dir, "book", "state", "--as-of", "2026-12-02")
    assert state.returncode == 0 and not dpd
    dpd = query(
        book_dir,
        "SELECT s.dpd, s.bucket FROM account_states s JOIN loans l ON l.id = s.loan_id "
        f"WHERE l.external_ref = '{late_ref}' AND s.as_of = '2026-12-02'",
    )
    assert dpd == [(0, "C")]

    shown = forbear(book_dir, "plan", "show", str(plan_id))
    assert (
        shown.returncode == 0
        and "执行中 active" in shown.stdout
        and "payment_share_pct 50" in shown.stdout
    )
    survival = forbear(book_dir, "plan", "survival", "--as-of", "2026-12-02")
    assert survival.returncode == 0 and "困难期减额还款 hardship" in survival.stdout

    # cancelling an active plan needs a named approver whose role holds plan.approve
    refused = forbear(book_dir, "plan", "cancel", str(plan_id), "--as-of", "2026-12-03")
    assert refused.returncode != 0 and "--approved-by" in refused.stderr
    assert_one_clear_line(refused)
    for user, role in (("agent9", "agent"), ("super9", "supervisor")):
        added = forbear(book_dir, "staff", "add", user, "--role", role, "--no-password")
        assert added.returncode == 0, added.stderr
    not_approver = forbear(
        book_dir, "plan", "cancel", str(plan_id), "--as-of", "2026-12-03", "--approved-by", "agent9"
    )
    assert not_approver.returncode != 0 and "plan.approve" in not_approver.stderr
    unknown = forbear(
        book_dir, "plan", "cancel", str(plan_id), "--as-of", "2026-12-03", "--approved-by", "nobody"
    )
    assert unknown.returncode != 0 and "staff user" in unknown.stderr
    shown = forbear(book_dir, "plan", "show", str(plan_id))
    assert "执行中 active" in shown.stdout  # nothing changed
    cancelled = forbear(
        book_dir, "plan", "cancel", str(plan_id), "--as-of", "2026-12-03", "--approved-by", "super9"
    )
    assert cancelled.returncode == 0 and "已取消 cancelled" in cancelled.stdout
