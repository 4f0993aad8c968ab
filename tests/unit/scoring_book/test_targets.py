"""Targets: judged after the observation date, only when matured, checked on the ledger."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from forbear.domain.errors import ValidationError
from forbear.domain.ledger import account_states
from forbear.domain.scoring.artefact import ModelKind
from forbear.domain.scoring.features import FEATURES, BookFrames, settlements
from forbear.domain.scoring.targets import TARGET, month_ends, training_set

from .books import random_book

LAST = date(2026, 6, 30)


@pytest.fixture(scope="module")
def book() -> BookFrames:
    return random_book(300, LAST, seed=11)


def ledger(book: BookFrames, day: date) -> pl.DataFrame:
    return account_states(
        book.loans.drop("borrower_id"),
        book.products,
        book.instalments,
        book.payments.filter(pl.col("paid_on") <= day),
        day,
    ).states.collect()


def test_behaviour_target_is_30_dpd_on_some_day_of_the_window(book: BookFrames) -> None:
    observed, window = date(2026, 4, 30), 40
    ts = training_set(book, ModelKind.BEHAVIOUR, [observed], LAST, window)
    assert ts.frame["dpd"].max() < 30  # type: ignore[operator]
    daily = (
        pl.concat([ledger(book, observed + timedelta(days=i)) for i in range(1, window + 1)])
        .group_by("loan_id")
        .agg(worst=pl.col("dpd").max())
    )
    both = ts.frame.join(daily, on="loan_id")
    assert both.height == ts.frame.height > 50
    assert (both[TARGET] == (both["worst"] >= 30).cast(pl.Int8)).all()
    assert 0 < both[TARGET].sum() < both.height


def test_early_warning_target_is_missing_the_next_deadline(book: BookFrames) -> None:
    observed = date(2026, 3, 31)
    ts = training_set(book, ModelKind.EARLY_WARNING, [observed], LAST)
    assert (ts.frame["dpd"] == 0).all()
    grace = book.products.select("product_code", "grace_days").collect()
    loans = book.loans.collect().join(grace, on="product_code")
    sample = ts.frame.head(40).join(loans.select("loan_id", "grace_days"), on="loan_id")
    for row in sample.iter_rows(named=True):
        before = ledger(book.only([row["loan_id"]]), observed).filter(
            pl.col("loan_id") == row["loan_id"]
        )
        due = before["oldest_unpaid_due_date"][0] or before["next_due_date"][0]
        after = ledger(book.only([row["loan_id"]]), due + timedelta(days=row["grace_days"] + 1))
        mine = after.filter(pl.col("loan_id") == row["loan_id"])
        missed = mine["oldest_unpaid_due_date"][0] == due
        assert row[TARGET] == int(missed), row


def test_immature_outcomes_are_dropped_and_counted(book: BookFrames) -> None:
    ts = training_set(book, ModelKind.BEHAVIOUR, [date(2026, 5, 31)], LAST, 90)
    assert ts.frame.height == 0 and ts.rows_immature > 0
    ts = training_set(book, ModelKind.PROPENSITY, [date(2026, 5, 31)], LAST, 30)
    assert ts.frame.height > 0 and ts.rows_immature == 0 and ts.rows_out_of_segment > 0
    assert (ts.frame["dpd"] >= 1).all()


def test_stacked_over_month_ends_with_the_observation_date(book: BookFrames) -> None:
    dates = month_ends(LAST, 4, 45)
    assert dates == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    ts = training_set(book, ModelKind.EARLY_WARNING, dates, LAST)
    assert sorted(ts.frame["observation_date"].unique()) == dates
    assert set(FEATURES) | {TARGET, "loan_id", "observation_date"} <= set(ts.frame.columns)
    assert set(ts.frame[TARGET].unique()) == {0, 1}


def test_application_is_not_a_book_target(book: BookFrames) -> None:
    with pytest.raises(ValidationError, match="kind"):
        training_set(book, ModelKind.APPLICATION, [date(2026, 1, 31)], LAST)
    with pytest.raises(ValidationError, match="before"):
        training_set(book, ModelKind.BEHAVIOUR, [LAST], LAST)


def test_the_kinds_share_one_ledger_run(book: BookFrames) -> None:
    # the demo runs the ledger once for its three models: each kind's set is the same as
    # with a run of its own; a run of another date is refused
    settled = settlements(book, LAST)
    for kind in (ModelKind.BEHAVIOUR, ModelKind.EARLY_WARNING, ModelKind.PROPENSITY):
        dates = month_ends(LAST, 3, 30)
        alone = training_set(book, kind, dates, LAST)
        shared = training_set(book, kind, dates, LAST, settled=settled)
        assert alone.frame.height > 0
        assert shared.frame.equals(alone.frame)
        assert shared.rows_immature == alone.rows_immature
    earlier = settlements(book, LAST - timedelta(days=1))
    with pytest.raises(ValidationError, match="settled"):
        training_set(book, ModelKind.BEHAVIOUR, [date(2026, 1, 31)], LAST, settled=earlier)
