"""The synthetic demo book: determinism, the import contract, realistic people and arrears."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from forbear.domain.intake import LOAN_COLUMNS, PAYMENT_COLUMNS, validate_loans, validate_payments
from forbear.domain.ledger import account_states, products_frame, schedules
from forbear.sim.book import DemoBook, generate_book, write_files
from forbear.sim.people import MOBILE_PREFIXES, is_valid_national_id
from forbear.sim.products import load_products

AS_OF = date(2026, 11, 30)
PRODUCTS = load_products()
ZONES = frozenset({"Asia/Shanghai"})


@pytest.fixture(scope="module")
def book() -> DemoBook:
    return generate_book(2000, AS_OF, 7, PRODUCTS)


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    for fmt in ("csv", "parquet"):
        first = write_files(generate_book(300, AS_OF, 11, PRODUCTS), tmp_path / "a", fmt)
        second = write_files(generate_book(300, AS_OF, 11, PRODUCTS), tmp_path / "b", fmt)
        for one, two in zip(first, second, strict=True):
            assert one.read_bytes() == two.read_bytes()


def test_another_seed_gives_another_book() -> None:
    one = generate_book(100, AS_OF, 1, PRODUCTS)
    two = generate_book(100, AS_OF, 2, PRODUCTS)
    assert not one.loans.equals(two.loans)


def test_columns_are_exactly_the_import_contract(book: DemoBook) -> None:
    assert book.loans.columns == [c.name for c in LOAN_COLUMNS]
    assert book.payments.columns == [c.name for c in PAYMENT_COLUMNS]
    assert all(dtype == pl.String for dtype in book.loans.dtypes + book.payments.dtypes)


def test_the_importer_accepts_every_row(book: DemoBook) -> None:
    loans = validate_loans(book.loans.with_row_index("_line", offset=2), PRODUCTS, ZONES)
    payments = validate_payments(book.payments.with_row_index("_line", offset=2), "Asia/Shanghai")
    assert loans.errors == []
    assert payments.errors == []
    assert loans.valid.height == book.loans.height
    assert payments.valid.height == book.payments.height


def test_amounts_dates_and_refs_are_formatted_as_documented(book: DemoBook) -> None:
    assert book.loans["principal"].str.contains(r"^\d+\.\d\d$").all()
    assert book.payments["amount"].str.contains(r"^\d+\.\d\d$").all()
    assert book.loans["start_date"].str.contains(r"^\d{4}-\d\d-\d\d$").all()
    assert book.payments["paid_at"].str.contains(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$").all()
    assert book.loans["loan_ref"].is_unique().all()
    assert book.payments["txn_ref"].is_unique().all()
    assert book.payments["loan_ref"].is_in(book.loans["loan_ref"].implode()).all()
    assert (book.payments["paid_at"].str.slice(0, 10) <= AS_OF.isoformat()).all()


def test_loans_follow_their_products(book: DemoBook) -> None:
    terms = {p.code: p for p in PRODUCTS}
    for code, term, principal in book.loans.select(
        "product_code", "term_months", "principal"
    ).iter_rows():
        product = terms[code]
        fen = int(principal.replace(".", ""))
        assert int(term) in product.terms_months
        assert product.min_principal <= fen <= product.max_principal
        assert fen % 100_00 == 0
    mix = book.loans["product_code"].value_counts(normalize=True)
    share = dict(zip(mix["product_code"], mix["proportion"], strict=True))
    assert share["CASH"] == pytest.approx(0.50, abs=0.05)
    assert share["INST"] == pytest.approx(0.35, abs=0.05)
    assert share["SHORT"] == pytest.approx(0.15, abs=0.04)
    per_borrower = book.loans.height / book.loans["customer_ref"].n_unique()
    assert 1.0 <= per_borrower <= 1.3
    starts = book.loans["start_date"].str.to_date()
    assert starts.min() >= date(2024, 11, 30) and starts.max() < AS_OF  # type: ignore[operator]


def test_national_ids_pass_the_check_digit_and_agree_with_age(book: DemoBook) -> None:
    borrowers = book.loans.unique("customer_ref")
    assert all(is_valid_national_id(v) for v in borrowers["national_id"])
    assert borrowers["national_id"].is_unique().all()
    births = borrowers["national_id"].str.slice(6, 8).str.to_date("%Y%m%d")
    ages = [(AS_OF - b).days / 365.25 for b in births]
    assert min(ages) >= 20 and max(ages) < 61


def test_check_digit_rejects_a_changed_id() -> None:
    assert is_valid_national_id("11010519491231002X")
    assert not is_valid_national_id("110105194912310021")


def test_mobiles_are_valid_mainland_numbers(book: DemoBook) -> None:
    prefixes = {str(p) for p in MOBILE_PREFIXES}
    mobiles = pl.concat([book.loans["mobile"], book.loans["emergency_mobile"].drop_nulls()])
    assert mobiles.str.contains(r"^1[3589]\d{9}$").all()
    assert mobiles.str.slice(0, 3).is_in(list(prefixes)).all()


def test_a_borrower_on_several_loans_has_the_same_personal_data(book: DemoBook) -> None:
    personal = ["customer_ref", "name", "national_id", "mobile", "email", "address"]
    assert book.loans.select(personal).unique().height == book.loans["customer_ref"].n_unique()


def test_shares_of_henan_email_and_emergency_contacts(book: DemoBook) -> None:
    borrowers = book.loans.unique("customer_ref")
    n = borrowers.height
    assert 0.19 <= (borrowers["province"] == "河南省").sum() / n <= 0.26
    assert 0.25 <= borrowers["email"].is_not_null().sum() / n <= 0.35
    contact = borrowers.filter(pl.col("emergency_name").is_not_null())
    assert 0.65 <= contact.height / n <= 0.75
    assert contact["emergency_relation"].is_not_null().all()
    assert (contact["emergency_mobile"] != contact["mobile"]).all()


def test_payment_channels_are_mostly_withholding(book: DemoBook) -> None:
    shares = book.payments["channel"].value_counts(normalize=True)
    share = dict(zip(shares["channel"], shares["proportion"], strict=True))
    assert share["withhold"] > 0.6
    assert share["app"] > 0.1 and share["transfer"] > 0.03


def _ledger_states(book: DemoBook) -> pl.DataFrame:
    """Run the ledger on the book exactly as the importer would read it."""
    loans = validate_loans(book.loans.with_row_index("_line", offset=2), PRODUCTS, ZONES).valid
    loans = loans.with_row_index("loan_id").with_columns(pl.col("loan_id").cast(pl.Int64))
    payments = (
        validate_payments(book.payments.with_row_index("_line", offset=2), "Asia/Shanghai")
        .valid.join(loans.select("loan_id", "loan_ref"), on="loan_ref")
        .sort("paid_at", "txn_ref")
        .with_row_index("payment_id")
        .select(pl.col("payment_id").cast(pl.Int64), "loan_id", "paid_on", "amount")
    )
    frame = loans.select(
        "loan_id",
        "product_code",
        "principal",
        "term_months",
        "annual_rate_bp",
        "start_date",
        "first_due_date",
        "written_off_on",
    ).lazy()
    products = products_frame(PRODUCTS).lazy()
    instalments = schedules(frame, products)
    states = account_states(frame, products, instalments, payments.lazy(), book.as_of).states
    return states.collect().join(loans.select("loan_id", "loan_ref"), on="loan_id")


def test_bucket_shares_are_those_of_a_realistic_book(book: DemoBook) -> None:
    states = _ledger_states(book)
    assert states.height == book.loans.height
    status = states["status"].value_counts(normalize=True)
    status_share = dict(zip(status["status"], status["proportion"], strict=True))
    assert 0.2 < status_share["paid_off"] < 0.6  # loans of every age, some finished
    assert 0.002 < status_share["written_off"] < 0.04  # a very small share
    active = states.filter(pl.col("status") == "active")
    share = {
        b: active.filter(pl.col("bucket") == b).height / active.height
        for b in ("C", "M1", "M2", "M3")
    }
    later = active.filter(~pl.col("bucket").is_in(["C", "M1", "M2", "M3"])).height / active.height
    assert 0.86 <= share["C"] <= 0.94
    assert 0.025 <= share["M1"] <= 0.07
    assert share["M2"] < share["M1"]
    assert share["M3"] < share["M1"]
    assert 0.005 <= later <= 0.06


def test_borrowers_who_cure_are_current_with_no_leftover_arrears(book: DemoBook) -> None:
    states = _ledger_states(book).join(book.truth, on="loan_ref")
    good = states.filter((pl.col("risk") == "good") & (pl.col("behaviour") == "good"))
    current = good.filter(pl.col("status") == "active")["bucket"].eq("C").mean()
    assert current is not None and current > 0.95  # type: ignore[operator]
    # penalty estimates err high: nobody is left owing only a few yuan for months
    stuck = states.filter((pl.col("dpd") > 60) & (pl.col("overdue_total") < 20_00))
    assert stuck.height <= 0.002 * states.height
