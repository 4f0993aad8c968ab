"""Behaviour features: days past due derived from settlements equal the ledger's."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from forbear.domain.ledger import account_states
from forbear.domain.scoring.features import (
    FEATURES,
    BookFrames,
    book_features,
    features_at,
    max_dpd,
    settlements,
)

from .books import random_book

LAST = date(2026, 6, 30)


@pytest.fixture(scope="module")
def book() -> BookFrames:
    return random_book(300, LAST, seed=7)


def ledger_states(book: BookFrames, day: date) -> pl.DataFrame:
    return account_states(
        book.loans.drop("borrower_id"),
        book.products,
        book.instalments,
        book.payments.filter(pl.col("paid_on") <= day),
        day,
    ).states.collect()


@pytest.mark.parametrize("back", [0, 17, 45, 100, 200])
def test_dpd_and_balances_at_a_date_equal_the_ledgers(book: BookFrames, back: int) -> None:
    day = LAST - timedelta(days=back)
    feats = features_at(book, settlements(book, LAST), day)
    states = ledger_states(book, day).filter(pl.col("status") == "active")
    assert set(feats["loan_id"]) == set(states["loan_id"])
    both = feats.join(states, on="loan_id", suffix="_ledger")
    assert (both["dpd"] == both["dpd_ledger"]).all()
    assert (both["outstanding_principal"] == both["outstanding_principal_ledger"]).all()
    assert both.height > 100 and both["dpd"].max() > 30  # type: ignore[operator]


def test_max_dpd_over_a_window_is_the_max_of_the_daily_ledger_dpd(book: BookFrames) -> None:
    end = LAST - timedelta(days=20)
    start = end - timedelta(days=29)
    settled = settlements(book, LAST)
    d = lambda x: pl.lit(x).cast(pl.Int32)  # noqa: E731
    derived = max_dpd(settled.lines.lazy(), d(start), d(end), "m").collect()
    daily = pl.concat(
        [ledger_states(book, start + timedelta(days=i)).select("loan_id", "dpd") for i in range(30)]
    )
    expected = daily.group_by("loan_id").agg(m_ledger=pl.col("dpd").max())
    both = derived.join(expected, on="loan_id")
    assert both.height > 100
    assert (both["m"] == both["m_ledger"]).all()


def test_features_do_not_look_past_the_observation_date(book: BookFrames) -> None:
    day = LAST - timedelta(days=60)
    later = features_at(book, settlements(book, LAST), day)
    then = book_features(book, day)
    assert later.equals(then)


def test_every_feature_is_present_with_keys(book: BookFrames) -> None:
    feats = book_features(book, LAST)
    assert set(FEATURES) <= set(feats.columns)
    assert feats["observation_date"].unique().to_list() == [LAST]
    assert feats["utilisation"].is_between(0, 1).all()
    assert (feats["other_loans"] >= 0).all()


def test_one_account_gets_the_same_row_as_the_whole_book(book: BookFrames) -> None:
    whole = book_features(book, LAST)
    loan_id = int(whole.filter(pl.col("dpd") > 0)["loan_id"][0])
    one = book_features(book.only([loan_id]), LAST).filter(pl.col("loan_id") == loan_id)
    assert one.equals(whole.filter(pl.col("loan_id") == loan_id))
