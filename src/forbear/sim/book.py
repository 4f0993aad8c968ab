"""The synthetic demo book: loans with their borrowers, and payments, as import files.

:func:`generate_book` returns frames shaped exactly like the import files of
``docs/import.md`` (English headers, every value a string: yuan amounts like
``"1234.56"``, ISO dates, local date-times), so writing them out gives files that
``forbear import`` accepts. The same seed gives the same book, byte for byte: Faker and
numpy are seeded per call and no global random state is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from faker import Faker

from forbear.domain import intake
from forbear.domain.products import ProductTerms
from forbear.sim.behaviour import _CHANNEL_P, CHANNELS, simulate_payments
from forbear.sim.people import RISK_CLASSES, make_borrowers

# The files follow the import contract exactly (docs/import.md).
LOAN_COLUMNS = tuple(spec.name for spec in intake.LOAN_COLUMNS)
PAYMENT_COLUMNS = tuple(spec.name for spec in intake.PAYMENT_COLUMNS)

# Share of new loans per product code; products not listed share what is left evenly.
PRODUCT_MIX = {"CASH": 0.50, "INST": 0.35, "SHORT": 0.15}
# Loans per borrower: 1 (80%), 2 (16%) or 3 (4%); 1.24 on average.
EXTRA_LOAN_P = (0.20, 0.04)
BOOK_DAYS = 730  # loans start over the two years before as_of
# Some cash loans are priced below list for good customers (annual_rate column).
DISCOUNT_SHARE = 0.15
DISCOUNT_RATES_BP = np.array([1500, 1560, 1680])


@dataclass(frozen=True)
class DemoBook:
    """A synthetic book: the two import files plus what the simulator knows.

    ``loans`` and ``payments`` hold exactly the import columns (all ``String``);
    ``truth`` (``loan_ref, customer_ref, risk, behaviour``) is the hidden behaviour
    behind them, for tests and the strategy lab; it is never written to the files.
    """

    as_of: date
    loans: pl.DataFrame
    payments: pl.DataFrame
    truth: pl.DataFrame


def _schedules(loans: pl.LazyFrame, products: list[ProductTerms]) -> pl.DataFrame:
    # Imported here so the ledger stays the one place schedules are built.
    from forbear.domain.ledger.schedules import products_frame, schedules

    return schedules(loans, products_frame(products).lazy()).collect()


def yuan_text(fen: pl.Expr) -> pl.Expr:
    """Integer fen -> ``"1234.56"`` (no separators, always two decimals)."""
    return pl.format("{}.{}", fen // 100, (fen % 100).cast(pl.String).str.zfill(2))


def _mix(products: list[ProductTerms]) -> np.ndarray:
    known = sum(PRODUCT_MIX.get(p.code, 0.0) for p in products)
    unknown = [p for p in products if p.code not in PRODUCT_MIX]
    rest = max(1.0 - known, 0.0) / len(unknown) if unknown else 0.0
    weights = np.array([PRODUCT_MIX.get(p.code, rest) for p in products], dtype=float)
    if weights.sum() <= 0:
        weights = np.ones(len(products))
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _make_loans(
    borrowers: pl.DataFrame, as_of: date, products: list[ProductTerms], rng: np.random.Generator
) -> pl.DataFrame:
    """Loan terms (typed, fen) for the borrowers, ``loan_id`` 0..n-1 in start-date order."""
    n_b = borrowers.height
    u = rng.random(n_b)
    per_borrower = 1 + (u < EXTRA_LOAN_P[0]).astype(np.int64) + (u < EXTRA_LOAN_P[1])
    owner = np.repeat(np.arange(n_b), per_borrower)
    n = len(owner)

    which = rng.choice(len(products), n, p=_mix(products))
    lo = np.array([p.min_principal for p in products], dtype=np.float64)[which]
    hi = np.array([p.max_principal for p in products], dtype=np.float64)[which]
    # log-uniform between the product's limits: many small loans, a few large ones
    raw = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    step = 100_00  # whole hundreds of yuan
    principal = np.clip(np.round(raw / step) * step, np.ceil(lo / step) * step, hi).astype(np.int64)
    n_terms = np.array([len(p.terms_months) for p in products])
    term_table = np.zeros((len(products), n_terms.max()), dtype=np.int64)
    for i, p in enumerate(products):
        term_table[i, : n_terms[i]] = p.terms_months
    term = term_table[which, rng.integers(0, 1 << 30, n) % n_terms[which]]
    list_rate = np.array([p.annual_rate_bp for p in products], dtype=np.int64)[which]
    risk = borrowers["risk"].to_numpy()[owner]
    discount = (
        (rng.random(n) < DISCOUNT_SHARE)
        & (np.array([p.code for p in products])[which] == "CASH")
        & (risk == RISK_CLASSES[0])
    )
    rate = np.where(discount, rng.choice(DISCOUNT_RATES_BP, n), list_rate)
    start = np.datetime64(as_of, "D") - rng.integers(1, BOOK_DAYS + 1, n).astype("timedelta64[D]")

    order = np.argsort(start, kind="stable")
    frame = pl.DataFrame(
        {
            "borrower": owner[order],
            "product_code": np.array([p.code for p in products])[which][order],
            "principal": principal[order],
            "term_months": term[order].astype(np.int32),
            "annual_rate_bp": rate[order].astype(np.int32),
            "list_rate": (rate == list_rate)[order],
            "start_date": start[order],
            "risk": np.array([RISK_CLASSES.index(r) for r in risk])[order],
        }
    ).with_row_index("loan_id")
    terms_of = pl.DataFrame(
        {
            "product_code": [p.code for p in products],
            "penalty_rate_bp": [p.penalty_rate_bp for p in products],
            "day_count": [p.day_count for p in products],
            "grace_days": [p.grace_days for p in products],
            "late_fee": [p.late_fee for p in products],
            "early_payment": [p.early_payment.value for p in products],
        }
    )
    return frame.with_columns(
        pl.col("loan_id").cast(pl.Int64),
        first_due_date=pl.col("start_date").dt.offset_by("1mo"),
        loan_ref=pl.format(
            "L{}{}",
            pl.col("start_date").dt.strftime("%Y%m%d"),
            (pl.col("loan_id") + 1).cast(pl.String).str.zfill(6),
        ),
    ).join(terms_of, on="product_code", how="left", maintain_order="left")


def _paid_at(payments: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Channel, local time of day and a txn_ref for each simulated payment."""
    n = payments.height
    kind = payments["kind"].to_numpy()
    u = rng.random(n)
    channel = np.empty(n, dtype=object)
    for name, shares in _CHANNEL_P.items():
        mask = kind == name
        channel[mask] = CHANNELS[np.searchsorted(np.cumsum(shares), u[mask], side="right")]
    # Withholding runs in the early-morning batch; people pay by day and in the evening.
    seconds = np.where(
        channel == "withhold",
        rng.integers(6 * 3600, 10 * 3600, n),
        rng.integers(8 * 3600, 23 * 3600, n),
    )
    timed = (
        payments.with_columns(channel=pl.Series(channel.astype(str)), secs=pl.Series(seconds))
        .with_columns(
            paid_at=pl.col("paid_day").cast(pl.Int32).cast(pl.Date).cast(pl.Datetime("us"))
            + pl.duration(seconds=pl.col("secs"))
        )
        .drop("secs")
        .sort("paid_at", "loan_id", "amount")
    )
    return timed.with_columns(
        txn_ref=pl.format(
            "T{}{}",
            pl.col("paid_at").dt.strftime("%Y%m%d"),
            (pl.int_range(pl.len()).over(pl.col("paid_day")) + 1).cast(pl.String).str.zfill(7),
        )
    )


def generate_book(
    n_borrowers: int, as_of: date, seed: int, products: list[ProductTerms]
) -> DemoBook:
    """A synthetic book of ``n_borrowers`` borrowers as of ``as_of`` (see the module doc).

    Loans start over the 730 days before ``as_of``; payments are those made on or before
    ``as_of``. ``products`` must include every product the loans use (normally
    :func:`forbear.sim.products.load_products`).
    """
    if n_borrowers < 1:
        raise ValueError("n_borrowers must be at least 1")
    if not products:
        raise ValueError("at least one product is needed")
    rng = np.random.default_rng(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)

    borrowers = make_borrowers(n_borrowers, as_of, rng, fake).with_row_index("borrower")
    loans = _make_loans(borrowers, as_of, products, rng)
    instalments = _schedules(
        loans.select(
            "loan_id",
            "product_code",
            "principal",
            "term_months",
            "annual_rate_bp",
            "start_date",
            "first_due_date",
            pl.lit(None, dtype=pl.Date).alias("written_off_on"),
        ).lazy(),
        products,
    )
    payments, outcomes = simulate_payments(loans, instalments, as_of, rng)
    payments = _paid_at(payments, rng)
    loans = loans.join(outcomes, on="loan_id", how="left", maintain_order="left").join(
        borrowers.drop("risk"), on="borrower", how="left", maintain_order="left"
    )

    day = "%Y-%m-%d"
    loan_file = loans.select(
        "loan_ref",
        "customer_ref",
        "product_code",
        yuan_text(pl.col("principal")).alias("principal"),
        pl.col("term_months").cast(pl.String),
        pl.when(pl.col("list_rate"))
        .then(None)
        .otherwise((pl.col("annual_rate_bp").cast(pl.Float64) / 100).round(2).cast(pl.String))
        .alias("annual_rate"),
        pl.col("start_date").dt.strftime(day),
        pl.lit(None, dtype=pl.String).alias("first_due_date"),  # the default rule applies
        pl.col("written_off_day")
        .cast(pl.Int32)
        .cast(pl.Date)
        .dt.strftime(day)
        .alias("written_off_on"),
        "name",
        "national_id",
        "mobile",
        "email",
        "province",
        "city",
        pl.format("{}{}{}", "province", "city", "address").alias("address"),
        pl.lit(None, dtype=pl.String).alias("timezone"),  # everyone on Asia/Shanghai
        "emergency_name",
        "emergency_relation",
        "emergency_mobile",
    ).sort("loan_ref")
    refs = loans.select("loan_id", "loan_ref")
    payment_file = payments.join(refs, on="loan_id", how="left", maintain_order="left").select(
        "txn_ref",
        "loan_ref",
        pl.col("paid_at").dt.strftime("%Y-%m-%d %H:%M:%S"),
        yuan_text(pl.col("amount")).alias("amount"),
        "channel",
    )
    truth = loans.select(
        "loan_ref",
        "customer_ref",
        pl.col("risk").replace_strict(list(range(3)), list(RISK_CLASSES)),
        "behaviour",
    ).sort("loan_ref")
    return DemoBook(as_of=as_of, loans=loan_file, payments=payment_file, truth=truth)


def write_files(
    book: DemoBook, directory: Path, fmt: Literal["csv", "parquet"] = "csv"
) -> tuple[Path, Path]:
    """Write ``loans.<fmt>`` and ``payments.<fmt>`` (UTF-8 CSV without BOM, or Parquet)."""
    directory.mkdir(parents=True, exist_ok=True)
    loans_path = directory / f"loans.{fmt}"
    payments_path = directory / f"payments.{fmt}"
    if fmt == "csv":
        book.loans.write_csv(loans_path)
        book.payments.write_csv(payments_path)
    elif fmt == "parquet":
        book.loans.write_parquet(loans_path)
        book.payments.write_parquet(payments_path)
    else:
        raise ValueError(f"unknown format {fmt!r} (csv or parquet)")
    return loans_path, payments_path
