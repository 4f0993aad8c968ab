"""Validation of loans-file rows: every problem reported with its line, column and reason."""

from __future__ import annotations

import zoneinfo

import polars as pl
import pytest

from factories import VALID_IDS, make_loan_row, make_product
from forbear.domain.intake import LOAN_COLUMNS, normalise_headers, validate_loans

ZONES = frozenset(zoneinfo.available_timezones())
PRODUCTS = [make_product(), make_product(code="INST", method="equal_principal", terms_months=(6,))]


def frame(*rows: dict[str, str | None]) -> pl.DataFrame:
    return (
        pl.DataFrame(list(rows), schema={k: pl.String for k in rows[0]})
        .with_row_index("_line", offset=2)
        .with_columns(pl.col("_line").cast(pl.Int64))
    )


def problems(*rows: dict[str, str | None]) -> list[tuple[int, str, str]]:
    result = validate_loans(frame(*rows), PRODUCTS, ZONES)
    return [(e.line, e.column, e.reason) for e in result.errors]


def test_a_good_row_is_typed_in_fen_basis_points_and_dates() -> None:
    result = validate_loans(frame(make_loan_row(principal="1,234.5")), PRODUCTS, ZONES)
    assert result.errors == []
    row = result.valid.row(0, named=True)
    assert row["principal"] == 123450
    assert row["annual_rate_bp"] == 1800  # the product's rate when the file leaves it empty
    assert str(row["first_due_date"]) == "2026-02-15"  # one month after the start
    assert row["timezone"] == "Asia/Shanghai"
    assert row["mobile"] == "13812345678"


def test_first_due_date_defaults_to_month_end_when_the_start_is_the_31st() -> None:
    result = validate_loans(frame(make_loan_row(start_date="2026-01-31")), PRODUCTS, ZONES)
    assert str(result.valid["first_due_date"][0]) == "2026-02-28"


@pytest.mark.parametrize(
    ("overrides", "column", "reason"),
    [
        ({"principal": "-100"}, "principal", "amount must not be negative"),
        ({"principal": "12.345"}, "principal", "amount has more than 2 decimals"),
        ({"principal": "abc"}, "principal", "not an amount in yuan"),
        ({"principal": "50"}, "principal", "outside the product's principal limits"),
        ({"principal": ""}, "principal", "is required"),
        ({"start_date": "2026-13-01"}, "start_date", "not a date (use YYYY-MM-DD)"),
        ({"product_code": "NOPE"}, "product_code", "unknown product (import it first)"),
        ({"term_months": "18"}, "term_months", "not a term this product offers"),
        ({"term_months": "twelve"}, "term_months", "not a whole number"),
        ({"national_id": "410105199001011234"}, "national_id", "ID number check digit is wrong"),
        ({"national_id": "4101051990"}, "national_id", "not an 18-character resident ID number"),
        ({"mobile": "12345"}, "mobile", "not an 11-digit mainland mobile number"),
        ({"email": "not-an-address"}, "email", "not an e-mail address"),
        ({"timezone": "Mars/Olympus"}, "timezone", "not an IANA time zone"),
        ({"annual_rate": "18.005"}, "annual_rate", "not a rate in percent with at most 2 decimals"),
        (
            {"first_due_date": "2026-01-10"},
            "first_due_date",
            "first due date must be after the start date",
        ),
        (
            {"emergency_mobile": ""},
            "emergency_name",
            "an emergency contact needs a name, a relation and a mobile",
        ),
    ],
)
def test_each_bad_value_is_reported_with_its_column_and_reason(
    overrides: dict[str, str], column: str, reason: str
) -> None:
    assert (2, column, reason) in problems(make_loan_row(**overrides))


def test_every_problem_of_every_row_is_collected() -> None:
    found = problems(
        make_loan_row(),
        make_loan_row(loan_ref="L2", principal="x", start_date="yesterday"),
        make_loan_row(loan_ref="L3", customer_ref="C3", mobile="1"),
    )
    assert {(line, col) for line, col, _ in found} == {
        (3, "principal"),
        (3, "start_date"),
        (4, "mobile"),
    }


def test_a_duplicate_loan_ref_points_at_its_first_line() -> None:
    found = problems(make_loan_row(), make_loan_row())
    assert found == [(3, "loan_ref", "loan_ref appears more than once; first on line 2")]


def test_one_customer_must_have_the_same_personal_data_on_every_row() -> None:
    found = problems(make_loan_row(), make_loan_row(loan_ref="L2", national_id=VALID_IDS[2]))
    assert found == [
        (3, "customer_ref", "personal data differs from this customer's row on line 2")
    ]


def test_reasons_never_quote_personal_data() -> None:
    bad = make_loan_row(national_id="410105199001011234", mobile="1381234567")
    for _, _, reason in problems(bad):
        assert "410105199001011235" not in reason
        assert "1381234567" not in reason


def test_headers_accept_chinese_names_and_refuse_unknown_ones() -> None:
    mapping, errors = normalise_headers(["借据号", "PRINCIPAL", "colour"], LOAN_COLUMNS)
    assert mapping == {"借据号": "loan_ref", "PRINCIPAL": "principal"}
    reasons = {(e.column, e.reason) for e in errors}
    assert ("colour", "unknown column (see docs/import.md)") in reasons
    assert ("customer_ref", "required column is missing") in reasons
    assert all(e.line == 1 for e in errors)
