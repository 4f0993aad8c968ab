from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

import forbear.domain.ledger.schema as contracts
from forbear.domain.products import ProductTerms
from forbear.store import bulk
from forbear.store.models import Borrower, Loan, Product
from uow import LoanRepository, SqlAlchemyUnitOfWork

N_BORROWERS = 2_000
N_LOANS = 20_000
TERMS = 10  # -> 200k instalments
N_BOOK_LOANS = 2_000  # the smaller book most tests use


def add_product(conn: Connection, terms: ProductTerms) -> int:
    stmt = insert(Product).values(
        code=terms.code,
        version=1,
        name_zh=terms.name_zh,
        name_en=terms.name_en,
        terms=terms.model_dump(mode="json"),
    )
    return int(conn.execute(stmt.returning(Product.id)).scalar_one())


def borrowers_frame(n: int) -> pl.DataFrame:
    ids = pl.int_range(1, n + 1, eager=True)
    return pl.DataFrame(
        {
            "id": ids,
            "external_ref": ids.cast(pl.String)
            .str.pad_start(8, "0")
            .map_elements(lambda s: f"C{s}", return_dtype=pl.String),
            "name_enc": [b"\x01" + bytes([i % 256]) * 30 for i in range(n)],
            "national_id_enc": [b"\x01\x00\xff" * 12] * n,
            "national_id_bidx": [f"{i:064x}" for i in range(n)],
            "mobile_enc": [b"\x01\\\t\n," * 8] * n,  # bytes that COPY text format must escape
            "mobile_bidx": [f"{i + n:064x}" for i in range(n)],
            "province": ["广东省"] * n,
            "city": ["深圳市"] * n,
        }
    )


def loans_frame(n: int, product_id: int) -> pl.DataFrame:
    ids = pl.int_range(1, n + 1, eager=True)
    return pl.DataFrame(
        {
            "id": ids,
            "external_ref": ids.map_elements(lambda i: f"L{i:08d}", return_dtype=pl.String),
            "borrower_id": (ids % N_BORROWERS) + 1,
            "product_id": pl.repeat(product_id, n, eager=True),
            "principal": (ids * 1_000 + 1_000_000).cast(pl.Int64),
            "term_months": pl.repeat(TERMS, n, eager=True, dtype=pl.Int32),
            "annual_rate_bp": (ids % 2_400).cast(pl.Int32),
            "start_date": pl.repeat(date(2025, 1, 15), n, eager=True),
            "first_due_date": pl.repeat(date(2025, 2, 15), n, eager=True),
            "written_off_on": pl.Series(
                [date(2025, 12, 31) if i % 97 == 0 else None for i in range(1, n + 1)],
                dtype=pl.Date,
            ),
        }
    )


def instalments_frame(n_loans: int) -> pl.DataFrame:
    frame = pl.DataFrame({"loan_id": pl.int_range(1, n_loans + 1, eager=True)}).join(
        pl.DataFrame({"seq": pl.int_range(1, TERMS + 1, eager=True, dtype=pl.Int32)}),
        how="cross",
    )
    return frame.select(
        pl.col("loan_id").cast(pl.Int64),
        pl.col("seq"),
        pl.date(2025, 2, 15).dt.offset_by(pl.format("{}mo", pl.col("seq") - 1)).alias("due_date"),
        (pl.col("loan_id") * 7_919 + pl.col("seq")).cast(pl.Int64).alias("principal"),
        # above 2**31 on purpose: money columns are BIGINT
        (pl.col("loan_id") * 3_000_000_017 + pl.col("seq")).cast(pl.Int64).alias("interest"),
        (pl.col("seq") % 3).cast(pl.Int64).alias("fee"),
    )


def payments_frame(n: int) -> pl.DataFrame:
    ids = pl.int_range(1, n + 1, eager=True)
    return pl.DataFrame(
        {
            "id": ids,
            "external_ref": ids.map_elements(lambda i: f"T{i:08d}", return_dtype=pl.String),
            "loan_id": (ids % 50) + 1,
            "paid_on": pl.date_range(date(2025, 2, 1), date(2025, 2, 28), eager=True)
            .sample(n, with_replacement=True, seed=7)
            .sort(),
            "amount": (ids * 13).cast(pl.Int64),
            "channel": pl.repeat("bank_transfer", n, eager=True),
        }
    )


def states_frame(as_of: date, n: int, dpd_offset: int = 0) -> pl.DataFrame:
    loan_ids = list(range(1, n + 1))
    data = {
        "loan_id": loan_ids,
        "as_of": [as_of] * n,
        "status": ["active"] * n,
        "dpd": [(i * 3 + dpd_offset) % 200 for i in loan_ids],
        "bucket": ["M1" if i % 2 else "C" for i in loan_ids],
        "overdue_principal": [i * 10 for i in loan_ids],
        "overdue_interest": [i for i in loan_ids],
        "overdue_fee": [0] * n,
        "overdue_penalty": [5] * n,
        "overdue_total": [i * 11 + 5 for i in loan_ids],
        "outstanding_principal": [1_000_000 - i for i in loan_ids],
        "oldest_unpaid_due_date": [date(2025, 2, 15) if i % 2 else None for i in loan_ids],
        "next_due_date": [date(2025, 3, 15)] * n,
        "next_due_amount": [None if i % 5 == 0 else 110_000 for i in loan_ids],
        "last_payment_date": [None] * n,
        "paid_total": [0] * n,
        "credit": [0] * n,
    }
    frame = pl.DataFrame({k: v for k, v in data.items() if k in contracts.STATES})
    return frame.select([pl.col(c).cast(t) for c, t in contracts.STATES.items()])


@pytest.fixture
def product_id(connection: Connection, product_terms_factory: Callable[..., ProductTerms]) -> int:
    return add_product(connection, product_terms_factory())


@pytest.fixture
def book(connection: Connection, product_id: int) -> dict[str, pl.DataFrame]:
    frames = {
        "borrowers": borrowers_frame(N_BORROWERS),
        "loans": loans_frame(N_BOOK_LOANS, product_id),
        "instalments": instalments_frame(N_BOOK_LOANS),
    }
    for table, frame in frames.items():
        bulk.write_frame(connection, table, frame)
    return frames


def test_200k_instalments_round_trip_exactly(
    connection: Connection, product_id: int, capsys: pytest.CaptureFixture[str]
) -> None:
    bulk.write_frame(connection, "borrowers", borrowers_frame(N_BORROWERS))
    bulk.write_frame(connection, "loans", loans_frame(N_LOANS, product_id))
    expected = instalments_frame(N_LOANS)
    assert expected.height == 200_000

    started = time.perf_counter()
    assert bulk.write_frame(connection, "instalments", expected) == expected.height
    written = time.perf_counter()
    got = bulk.read_instalments(connection)
    read = time.perf_counter()

    assert got.schema == pl.Schema(contracts.INSTALMENTS)
    assert_frame_equal(got, expected)
    with capsys.disabled():
        print(
            f"\n[{connection.dialect.name}] 200k instalments: write {written - started:.2f}s, "
            f"read {read - written:.2f}s"
        )


def test_binary_columns_survive_a_bulk_write(
    connection: Connection, book: dict[str, pl.DataFrame]
) -> None:
    rows = connection.execute(
        select(Borrower.name_enc, Borrower.mobile_enc).order_by(Borrower.id)
    ).all()
    assert [r.name_enc for r in rows] == book["borrowers"]["name_enc"].to_list()
    assert [r.mobile_enc for r in rows] == book["borrowers"]["mobile_enc"].to_list()


def test_loans_are_read_with_their_product_code(
    connection: Connection, book: dict[str, pl.DataFrame]
) -> None:
    got = bulk.read_loans(connection)
    assert got.schema == pl.Schema(contracts.LOANS)
    expected = book["loans"].select(
        pl.col("id").alias("loan_id"),
        pl.lit("CASH12").alias("product_code"),
        *[
            pl.col(c).cast(t)
            for c, t in contracts.LOANS.items()
            if c not in ("loan_id", "product_code")
        ],
    )
    assert_frame_equal(got, expected)


def test_instalments_of_some_loans_only(
    connection: Connection, book: dict[str, pl.DataFrame]
) -> None:
    got = bulk.read_instalments(connection, loan_ids=[5, 3, N_BOOK_LOANS - 1])
    assert got["loan_id"].unique().sort().to_list() == [3, 5, N_BOOK_LOANS - 1]
    assert got.height == 3 * TERMS
    assert bulk.read_instalments(connection, loan_ids=[]).height == 0


def test_payments_up_to_a_date(connection: Connection, book: dict[str, pl.DataFrame]) -> None:
    payments = payments_frame(5_000)
    bulk.write_frame(connection, "payments", payments)
    got = bulk.read_payments(connection, up_to=date(2025, 2, 10))
    assert got.schema == pl.Schema(contracts.PAYMENTS)
    expected = (
        payments.filter(pl.col("paid_on") <= date(2025, 2, 10))
        .select(pl.col("id").alias("payment_id"), "loan_id", "paid_on", "amount")
        .sort("loan_id", "paid_on", "payment_id")
    )
    assert_frame_equal(got, expected)
    assert bulk.read_payments(connection).height == 5_000


def test_empty_tables_give_empty_frames_with_the_contract(connection: Connection) -> None:
    assert bulk.read_loans(connection).schema == pl.Schema(contracts.LOANS)
    assert bulk.read_payments(connection).schema == pl.Schema(contracts.PAYMENTS)
    assert bulk.read_instalments(connection).schema == pl.Schema(contracts.INSTALMENTS)
    assert bulk.read_products_terms(connection) == []


def test_products_terms_are_read_back_validated(
    connection: Connection, product_id: int, product_terms_factory: Callable[..., ProductTerms]
) -> None:
    add_product(connection, product_terms_factory(code="AUTO36", terms_months=(36,)))
    assert bulk.read_products_terms(connection) == [
        product_terms_factory(code="AUTO36", terms_months=(36,)),
        product_terms_factory(),
    ]


def test_replacing_a_date_of_states_is_idempotent(
    connection: Connection, book: dict[str, pl.DataFrame]
) -> None:
    day, other_day = date(2025, 3, 1), date(2025, 3, 2)
    bulk.replace_states(connection, other_day, states_frame(other_day, 100))
    bulk.replace_states(connection, day, states_frame(day, 1_000))
    recomputed = states_frame(day, 900, dpd_offset=1)
    assert bulk.replace_states(connection, day, recomputed) == 900
    assert bulk.replace_states(connection, day, recomputed) == 900
    assert_frame_equal(bulk.read_states(connection, day), recomputed)
    assert bulk.read_states(connection, other_day).height == 100


def test_states_of_another_date_are_refused(
    connection: Connection, book: dict[str, pl.DataFrame]
) -> None:
    with pytest.raises(ValueError, match="as_of"):
        bulk.replace_states(connection, date(2025, 3, 1), states_frame(date(2025, 3, 2), 3))


def test_states_written_in_bulk_are_visible_to_the_repository(
    uow: SqlAlchemyUnitOfWork, book: dict[str, pl.DataFrame]
) -> None:
    day = date(2025, 3, 1)
    with uow:
        bulk.replace_states(uow.connection(), day, states_frame(day, 10))
        uow.commit()
    with uow:
        assert [s.loan_id for s in uow.states.for_date(day)] == list(range(1, 11))
        assert uow.states.latest_date() == day
        assert uow.states.for_loan(3, day) is not None


def test_orm_inserts_after_a_bulk_write_get_fresh_ids(
    connection: Connection, book: dict[str, pl.DataFrame], product_id: int
) -> None:
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        loan = LoanRepository(session).add(
            Loan(
                external_ref="L-NEW",
                borrower_id=1,
                product_id=product_id,
                principal=100_00,
                term_months=3,
                annual_rate_bp=1_000,
                start_date=date(2025, 1, 1),
                first_due_date=date(2025, 2, 1),
            )
        )
        assert loan.id == N_BOOK_LOANS + 1
    stored = connection.execute(select(Loan.created_at).where(Loan.id == 1)).scalar_one()
    assert stored.tzinfo is not None  # server default, read back as UTC


def test_frames_with_unknown_columns_or_tables_are_refused(connection: Connection) -> None:
    with pytest.raises(ValueError, match="no column"):
        bulk.write_frame(connection, "payments", pl.DataFrame({"nope": [1]}))
    with pytest.raises(ValueError, match="unknown table"):
        bulk.write_frame(connection, "nope", pl.DataFrame({"x": [1]}))


def test_copy_in_carries_every_value_csv_can_hold() -> None:
    """PostgreSQL's COPY of a frame written as CSV: empty strings stay empty and nulls
    null, separators, quotes, line breaks and Chinese text survive, date-times of any zone
    land at the same instant, floats round-trip exactly; a naive date-time column keeps
    the row-by-row path."""
    from datetime import UTC, datetime

    from sqlalchemy import (
        BigInteger,
        Boolean,
        Column,
        Date,
        DateTime,
        Float,
        MetaData,
        String,
        Table,
    )

    from databases import fresh_pg

    meta = MetaData()
    table = Table(
        "copy_probe",
        meta,
        Column("n", BigInteger),
        Column("s", String),
        Column("f", Float),
        Column("d", Date),
        Column("at", DateTime(timezone=True)),
        Column("b", Boolean),
    )
    strings = ["", None, "a,b", 'say "hi"', "two\nlines", "逾期\t还款 \\N", "\\."]
    moment = datetime(2026, 6, 15, 9, 30, 1, 250001)
    frame = pl.DataFrame(
        {
            "n": list(range(len(strings))),
            "s": strings,
            "f": [0.1, None, 1 / 3, 1e-300, -2.5e10, 123456789.123456789, 7.0],
            "d": [date(2026, 6, 15), None, *[date(2000, 2, 29)] * 5],
            "at": pl.Series([moment, None, *[moment] * 5]).dt.replace_time_zone("Asia/Shanghai"),
            "b": [True, None, False, True, False, True, False],
        }
    )
    with fresh_pg("copy_probe") as engine, engine.begin() as conn:
        meta.create_all(conn)
        bulk._copy_in(conn, table, frame)
        back = conn.execute(select(table).order_by(table.c.n)).all()
        assert [r.s for r in back] == strings
        assert [r.f for r in back] == frame["f"].to_list()
        assert [r.d for r in back] == frame["d"].to_list()
        assert [r.b for r in back] == frame["b"].to_list()
        shanghai = frame["at"].dt.convert_time_zone("UTC").to_list()
        assert [None if r.at is None else r.at.astimezone(UTC) for r in back] == shanghai
        conn.execute(table.delete())
        naive = frame.with_columns(pl.col("at").dt.replace_time_zone(None))
        bulk._copy_in(conn, table, naive)  # the row-by-row path
        assert conn.execute(select(table.c.s).order_by(table.c.n)).scalars().all() == strings
