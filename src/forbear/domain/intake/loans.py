"""Validation of the loans file (docs/import.md, "Loans")."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from forbear.domain.intake import parse
from forbear.domain.intake.columns import ColumnSpec
from forbear.domain.intake.result import LINE, Checked, collect_errors, drop_lines
from forbear.domain.products import ProductTerms

LOAN_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("loan_ref", "借据号", True),
    ColumnSpec("customer_ref", "客户号", True),
    ColumnSpec("product_code", "产品代码", True),
    ColumnSpec("principal", "本金", True),
    ColumnSpec("term_months", "期数", True),
    ColumnSpec("annual_rate", "年利率", False),
    ColumnSpec("start_date", "放款日", True),
    ColumnSpec("first_due_date", "首期还款日", False),
    ColumnSpec("written_off_on", "核销日", False),
    ColumnSpec("name", "姓名", True),
    ColumnSpec("national_id", "身份证号", True),
    ColumnSpec("mobile", "手机号", True),
    ColumnSpec("email", "邮箱", False),
    ColumnSpec("province", "省份", True),
    ColumnSpec("city", "城市", True),
    ColumnSpec("address", "地址", False),
    ColumnSpec("timezone", "时区", False),
    ColumnSpec("emergency_name", "紧急联系人", False),
    ColumnSpec("emergency_relation", "关系", False),
    ColumnSpec("emergency_mobile", "紧急联系人手机", False),
)

RELATIONS = ("spouse", "parent", "child", "sibling", "friend", "colleague", "other")
DEFAULT_TIMEZONE = "Asia/Shanghai"

# The personal data that must agree on every row of one customer.
BORROWER_FIELDS = (
    "name",
    "national_id",
    "mobile",
    "email",
    "province",
    "city",
    "address",
    "timezone",
)


def _ref(col: str) -> tuple[pl.Expr, pl.Expr]:
    value = parse.text(col)
    reason = (
        pl.when(value.is_null())
        .then(pl.lit("is required"))
        .when(value.str.len_chars() > 64)
        .then(pl.lit("longer than 64 characters"))
        .when(~value.str.contains(r"^[\w.\-/]+$"))
        .then(pl.lit("may hold only letters, digits and . - / _"))
        .otherwise(None)
    )
    return value, reason


def _short_text(col: str, limit: int, *, needed: bool) -> tuple[pl.Expr, pl.Expr]:
    value = parse.text(col)
    reason = (
        pl.when(value.str.len_chars() > limit)
        .then(pl.lit(f"longer than {limit} characters"))
        .otherwise(None)
    )
    if needed:
        reason = pl.when(value.is_null()).then(pl.lit("is required")).otherwise(reason)
    return value, reason


def _first_line_of(key: str) -> pl.Expr:
    return pl.col(LINE).min().over(key)


def validate_loans(
    frame: pl.DataFrame, products: Iterable[ProductTerms], known_zones: frozenset[str]
) -> Checked:
    """Parse and check every row of a loans file.

    ``frame`` holds the contract's columns as strings (missing optional columns may be
    absent) and ``_line``. Returns the typed good rows and every problem found.
    """
    catalogue = {p.code: p for p in products}
    for spec in LOAN_COLUMNS:
        if spec.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(spec.name))

    loan_ref, loan_ref_err = _ref("loan_ref")
    customer_ref, customer_ref_err = _ref("customer_ref")
    product_code = parse.text("product_code")
    principal, principal_err = parse.amount_fen("principal")
    term, term_err = parse.integer("term_months", low=1, high=360)
    rate_bp, rate_err = parse.percent_bp("annual_rate")
    start, start_err = parse.date("start_date")
    first_due, first_due_err = parse.date("first_due_date")
    written_off, written_off_err = parse.date("written_off_on")
    name, name_err = _short_text("name", 50, needed=True)
    national_id, national_id_err = parse.national_id("national_id")
    mobile, mobile_err = parse.mobile("mobile")
    email, email_err = parse.email("email")
    province, province_err = _short_text("province", 20, needed=True)
    city, city_err = _short_text("city", 30, needed=True)
    address, address_err = _short_text("address", 200, needed=False)
    zone = parse.text("timezone")
    em_name, em_name_err = _short_text("emergency_name", 50, needed=False)
    em_relation, em_relation_err = parse.one_of("emergency_relation", RELATIONS)
    em_mobile, em_mobile_err = parse.mobile("emergency_mobile")

    typed = frame.with_columns(
        loan_ref.alias("loan_ref"),
        customer_ref.alias("customer_ref"),
        product_code.alias("product_code"),
        principal.alias("principal"),
        term.cast(pl.Int32).alias("term_months"),
        rate_bp.alias("annual_rate_bp"),
        start.alias("start_date"),
        first_due.alias("first_due_date_given"),
        written_off.alias("written_off_on"),
        name.alias("name"),
        national_id.alias("national_id"),
        mobile.alias("mobile"),
        email.alias("email"),
        province.alias("province"),
        city.alias("city"),
        address.alias("address"),
        zone.alias("timezone"),
        em_name.alias("emergency_name"),
        em_relation.alias("emergency_relation"),
        em_mobile.alias("emergency_mobile"),
        # parse-time reasons are evaluated on the raw strings, before the columns change
        loan_ref_err.alias("e_loan_ref"),
        customer_ref_err.alias("e_customer_ref"),
        pl.when(product_code.is_null())
        .then(pl.lit("is required"))
        .when(~product_code.is_in(list(catalogue)))
        .then(pl.lit("unknown product (import it first)"))
        .otherwise(None)
        .alias("e_product_code"),
        pl.coalesce([parse.required("principal"), principal_err]).alias("e_principal"),
        pl.coalesce([parse.required("term_months"), term_err]).alias("e_term_months"),
        rate_err.alias("e_annual_rate"),
        pl.coalesce([parse.required("start_date"), start_err]).alias("e_start_date"),
        first_due_err.alias("e_first_due_date"),
        written_off_err.alias("e_written_off_on"),
        name_err.alias("e_name"),
        pl.coalesce([parse.required("national_id"), national_id_err]).alias("e_national_id"),
        pl.coalesce([parse.required("mobile"), mobile_err]).alias("e_mobile"),
        email_err.alias("e_email"),
        province_err.alias("e_province"),
        city_err.alias("e_city"),
        address_err.alias("e_address"),
        pl.when(zone.is_not_null() & ~zone.is_in(sorted(known_zones)))
        .then(pl.lit("not an IANA time zone"))
        .otherwise(None)
        .alias("e_timezone"),
        em_name_err.alias("e_emergency_name"),
        em_relation_err.alias("e_emergency_relation"),
        em_mobile_err.alias("e_emergency_mobile"),
    )

    limits = pl.DataFrame(
        {
            "product_code": [p.code for p in catalogue.values()],
            "_min": [p.min_principal for p in catalogue.values()],
            "_max": [p.max_principal for p in catalogue.values()],
            "_terms": [list(p.terms_months) for p in catalogue.values()],
            "_list_rate": [p.annual_rate_bp for p in catalogue.values()],
        },
        schema={
            "product_code": pl.String,
            "_min": pl.Int64,
            "_max": pl.Int64,
            "_terms": pl.List(pl.Int32),
            "_list_rate": pl.Int32,
        },
    )
    typed = typed.join(limits, on="product_code", how="left").with_columns(
        pl.col("annual_rate_bp").fill_null(pl.col("_list_rate")),
        pl.coalesce(
            [pl.col("first_due_date_given"), pl.col("start_date").dt.offset_by("1mo")]
        ).alias("first_due_date"),
    )

    emergency_any = pl.any_horizontal(
        pl.col(c).is_not_null()
        for c in ("emergency_name", "emergency_relation", "emergency_mobile")
    )
    emergency_all = pl.all_horizontal(
        pl.col(c).is_not_null()
        for c in ("emergency_name", "emergency_relation", "emergency_mobile")
    )
    first_of_loan = _first_line_of("loan_ref")
    # Personal data must agree on every row of one customer: compare with the first row.
    borrower_key = pl.concat_str(
        [pl.col(c).fill_null("") for c in BORROWER_FIELDS], separator="\x1f"
    )
    first_of_customer = _first_line_of("customer_ref")
    checks: dict[str, pl.Expr] = {spec.name: pl.col(f"e_{spec.name}") for spec in LOAN_COLUMNS}
    checks["loan_ref#dup"] = (
        pl.when(pl.col("loan_ref").is_not_null() & (pl.col(LINE) != first_of_loan))
        .then(pl.lit("loan_ref appears more than once; first on line ") + first_of_loan.cast(str))
        .otherwise(None)
    )
    checks["principal#limits"] = (
        pl.when(
            pl.col("principal").is_not_null()
            & pl.col("_min").is_not_null()
            & ((pl.col("principal") < pl.col("_min")) | (pl.col("principal") > pl.col("_max")))
        )
        .then(pl.lit("outside the product's principal limits"))
        .otherwise(None)
    )
    checks["term_months#product"] = (
        pl.when(
            pl.col("term_months").is_not_null()
            & pl.col("_terms").is_not_null()
            & ~pl.col("_terms").list.contains(pl.col("term_months"))
        )
        .then(pl.lit("not a term this product offers"))
        .otherwise(None)
    )
    checks["first_due_date#order"] = (
        pl.when(pl.col("first_due_date") <= pl.col("start_date"))
        .then(pl.lit("first due date must be after the start date"))
        .when(pl.col("first_due_date") > pl.col("start_date").dt.offset_by("3mo"))
        .then(pl.lit("first due date is more than 3 months after the start date"))
        .otherwise(None)
    )
    checks["written_off_on#order"] = (
        pl.when(pl.col("written_off_on") < pl.col("start_date"))
        .then(pl.lit("write-off date is before the start date"))
        .otherwise(None)
    )
    checks["emergency_name#complete"] = (
        pl.when(emergency_any & ~emergency_all)
        .then(pl.lit("an emergency contact needs a name, a relation and a mobile"))
        .otherwise(None)
    )
    checks["customer_ref#agree"] = (
        pl.when(
            pl.col("customer_ref").is_not_null()
            & (borrower_key != borrower_key.sort_by(LINE).first().over("customer_ref"))
        )
        .then(
            pl.lit("personal data differs from this customer's row on line ")
            + first_of_customer.cast(str)
        )
        .otherwise(None)
    )
    errors = collect_errors(typed, checks)
    good = drop_lines(typed, {e.line for e in errors}).with_columns(
        pl.col("timezone").fill_null(DEFAULT_TIMEZONE)
    )
    return Checked(
        valid=good.select(
            LINE,
            "loan_ref",
            "customer_ref",
            "product_code",
            "principal",
            "term_months",
            "annual_rate_bp",
            "start_date",
            "first_due_date",
            "written_off_on",
            *BORROWER_FIELDS,
            "emergency_name",
            "emergency_relation",
            "emergency_mobile",
        ),
        errors=errors,
    )
