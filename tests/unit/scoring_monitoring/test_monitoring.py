"""Monitoring: PSI, discrimination on matured outcomes, warnings at their thresholds."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from forbear.domain.errors import ValidationError
from forbear.domain.scoring.monitoring import (
    auc_warning,
    bad_rate_by_band,
    band_cuts,
    band_shares,
    bin_index_expr,
    feature_psi,
    feature_psi_warning,
    monitor,
    performance,
    psi,
    roc_curve,
    score_psi,
    score_psi_warning,
)

from .factories import make_scorecard

# --------------------------------------------------------------------------- PSI


def test_psi_of_identical_distributions_is_zero() -> None:
    assert psi([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_psi_of_a_known_shift_matches_the_hand_computation() -> None:
    # (0.3-0.5)ln(0.3/0.5) + (0.7-0.5)ln(0.7/0.5) = 0.2 (ln 5/3 + ln 7/5)
    expected = 0.2 * (math.log(5 / 3) + math.log(7 / 5))
    assert psi([0.5, 0.5], [0.3, 0.7]) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.16946, abs=1e-5)


def test_psi_normalises_counts_and_floors_empty_bands() -> None:
    assert psi([50, 50], [30, 70]) == pytest.approx(psi([0.5, 0.5], [0.3, 0.7]))
    empty = psi([0.5, 0.5], [1.0, 0.0], eps=1e-4)
    hand = (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert empty == pytest.approx(hand)


def test_psi_refuses_mismatched_bands() -> None:
    with pytest.raises(ValidationError, match="bands"):
        psi([0.5, 0.5], [1.0])


def test_score_psi_uses_the_artefact_bands_left_closed() -> None:
    art = make_scorecard()  # cuts 500, 550, 600; a quarter per band
    same = pl.Series("score", [499.0, 500.0, 550.0, 600.0])
    assert band_shares(same, band_cuts(art)) == (0.25, 0.25, 0.25, 0.25)
    assert score_psi(art, same) == 0.0
    shifted = pl.Series("score", [520.0, 560.0, 610.0, 620.0])  # 0, .25, .25, .5
    assert score_psi(art, shifted) == pytest.approx(
        psi([0.25] * 4, [0.0, 0.25, 0.25, 0.5]), abs=1e-12
    )


@pytest.mark.parametrize(
    ("bands", "shares"),
    [
        ((500.0, 550.0, 600.0), (0.25,) * 4),  # interior cut points (the trainers' layout)
        ((0.0, 500.0, 550.0, 600.0), (0.25,) * 4),  # lower bound of each band
        ((0.0, 500.0, 550.0, 600.0, 1000.0), (0.25,) * 4),  # full edges
    ],
)
def test_band_layouts_read_as_the_same_cuts(bands: tuple[float, ...], shares: tuple) -> None:
    art = make_scorecard(score_bands=bands, score_band_shares=shares)
    assert band_cuts(art) == (500.0, 550.0, 600.0)


# ------------------------------------------------------------------ feature PSI


def test_feature_bins_follow_the_scoring_rules() -> None:
    art = make_scorecard()
    frame = pl.DataFrame(
        {
            "age": [None, -1.0, 10.0, 30.0, 49.9, 50.0, float("nan"), 1e9],
            "region": ["east", "west", "north", "south", None, "east", "x", "west"],
        }
    )
    out = frame.select([bin_index_expr(f) for f in art.features])
    assert out["bin_age"].to_list() == [0, 1, 2, 3, 3, 4, 0, 4]
    # region has no missing bin: a null fits nowhere; unseen categories go to OTHER
    assert out["bin_region"].to_list() == [0, 1, 1, 2, None, 0, 2, 1]


def test_feature_psi_is_zero_on_the_training_mix_and_counts_unbinned_rows() -> None:
    art = make_scorecard()
    # training shares: age 1:1:2:4:2 over missing, special, <30, [30,50), >=50
    ages = [None, -1.0, 20.0, 20.0, 40.0, 40.0, 40.0, 40.0, 60.0, 60.0]
    regions = ["east"] * 5 + ["west"] * 2 + ["north"] * 2 + ["south"]
    out = feature_psi(art, pl.DataFrame({"age": ages, "region": regions}))
    assert out["feature"].to_list() == ["age", "region"]
    assert out["psi"].to_list() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert out["unbinned_share"].to_list() == [0.0, 0.0]

    regions_with_null = ["east"] * 5 + ["west"] * 2 + ["north"] * 2 + [None]
    out = feature_psi(art, pl.DataFrame({"age": ages, "region": regions_with_null}))
    region = out.row(1, named=True)
    assert region["unbinned_share"] == pytest.approx(0.1)
    assert region["psi"] == pytest.approx(psi([0.5, 0.4, 0.1, 0.0], [0.5, 0.4, 0.0, 0.1]))


def test_feature_psi_names_a_missing_column() -> None:
    with pytest.raises(ValidationError, match="region"):
        feature_psi(make_scorecard(), pl.DataFrame({"age": [1.0]}))


# ------------------------------------------------------------------ performance


def test_auc_and_ks_on_a_known_example() -> None:
    # scikit-learn's roc_auc_score example: AUC 0.75; KS 0.5 at threshold 0.8 (or 0.35)
    scores = pl.Series("p", [0.1, 0.4, 0.35, 0.8])
    outcomes = pl.Series("y", [0, 0, 1, 1])
    perf = performance(scores, outcomes)
    assert perf.auc == pytest.approx(0.75)
    assert perf.ks == pytest.approx(0.5)
    assert perf.gini == pytest.approx(0.5)
    assert (perf.rows, perf.events) == (4, 2)
    # a scorecard score runs the other way: negated scores, same ranking quality
    assert performance(-scores, outcomes, higher_means_event=False).auc == pytest.approx(0.75)


def test_roc_curve_agrees_with_the_metrics_and_handles_ties() -> None:
    rng = np.random.default_rng(3)
    s = rng.integers(0, 20, size=500).astype(float)  # many ties
    y = (rng.uniform(size=500) < s / 25).astype(int)
    roc = roc_curve(pl.Series(s), pl.Series(y))
    fpr, tpr = roc["fpr"].to_numpy(), roc["tpr"].to_numpy()
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    trapezoid = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert trapezoid == pytest.approx(roc_auc_score(y, s))
    assert performance(pl.Series(s), pl.Series(y)).auc == pytest.approx(roc_auc_score(y, s))
    assert performance(pl.Series(s), pl.Series(y)).ks == pytest.approx(float(np.max(tpr - fpr)))


def test_performance_ignores_immature_outcomes_and_needs_both_classes() -> None:
    perf = performance(pl.Series([0.1, 0.9, 0.5]), pl.Series([0, 1, None]))
    assert (perf.rows, perf.auc) == (2, 1.0)
    with pytest.raises(ValidationError):
        performance(pl.Series([0.1, 0.9]), pl.Series([1, 1]))
    with pytest.raises(ValidationError, match="0 or 1"):
        performance(pl.Series([0.1, 0.9]), pl.Series([0, 2]))


def test_bad_rate_by_band() -> None:
    art = make_scorecard()
    scores = pl.Series([450.0, 480.0, 520.0, 560.0, 580.0, 700.0])
    outcomes = pl.Series([1, 1, 0, 1, 0, 0])
    out = bad_rate_by_band(art, scores, outcomes)
    assert out["rows"].to_list() == [2, 1, 2, 1]
    assert out["events"].to_list() == [2, 0, 1, 0]
    assert out["event_rate"].to_list() == [1.0, 0.0, 0.5, 0.0]
    assert out["label"].to_list()[0] == "[-inf, 500)"
    assert out["expected_share"].to_list() == [0.25] * 4


# --------------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    ("value", "severity"),
    [
        (0.0, None),
        (0.0999, None),
        (0.10, "moderate"),
        (0.25, "moderate"),
        (0.2501, "significant"),
        (1.3, "significant"),
    ],
)
def test_score_psi_warning_thresholds(value: float, severity: str | None) -> None:
    w = score_psi_warning(value)
    assert (w.severity if w else None) == severity


@pytest.mark.parametrize(("value", "fires"), [(0.1, False), (0.25, False), (0.2501, True)])
def test_feature_psi_warning_fires_above_a_quarter(value: float, fires: bool) -> None:
    w = feature_psi_warning("age", value)
    assert (w is not None) == fires
    if w:
        assert w.subject == "age" and "age" in w.message_en and "age" in w.message_zh


@pytest.mark.parametrize(
    ("current", "fires"), [(0.80, False), (0.76, False), (0.75, False), (0.7499, True)]
)
def test_auc_warning_fires_when_auc_falls_by_more_than_five_points(
    current: float, fires: bool
) -> None:
    # 0.80 - 0.75 is 0.05000000000000004 in floats: the boundary must still not fire
    assert (auc_warning(0.80, current) is not None) == fires


def test_monitor_a_stable_population_gives_no_warnings() -> None:
    art = make_scorecard()
    ages = [None, -1.0, 20.0, 20.0, 40.0, 40.0, 40.0, 40.0, 60.0, 60.0] * 10
    regions = (["east"] * 5 + ["west"] * 2 + ["north"] * 2 + ["south"]) * 10
    frame = pl.DataFrame({"age": ages, "region": regions})
    scores = pl.Series("score", [450.0 + 10 * (i % 20) for i in range(100)])
    outcomes = pl.Series("bad", [1 if s < 480 else 0 for s in scores])  # perfect ranking
    result = monitor(art, frame, scores=scores, outcomes=outcomes)
    assert result.ok, result.warnings
    assert result.score_psi == pytest.approx(0.0)
    assert result.performance is not None and result.performance.auc == 1.0
    assert result.bad_rates is not None and result.bad_rates.height == 4


def test_monitor_reports_shift_and_lost_discrimination() -> None:
    art = make_scorecard()
    frame = pl.DataFrame({"age": [70.0] * 100, "region": ["east"] * 100})
    scores = pl.Series("score", [650.0 + i for i in range(100)])
    outcomes = pl.Series("bad", [i % 2 for i in range(100)])  # no ranking at all
    result = monitor(art, frame, scores=scores, outcomes=outcomes)
    codes = [(w.code, w.subject, w.severity) for w in result.warnings]
    assert ("score_psi", "score", "significant") in codes
    assert ("feature_psi", "age", "significant") in codes
    assert ("feature_psi", "region", "significant") in codes
    assert ("auc_drop", "auc", "significant") in codes
    assert not result.ok


def test_monitor_without_matured_outcomes_skips_performance() -> None:
    art = make_scorecard()
    frame = pl.DataFrame({"age": [40.0, 20.0], "region": ["east", "west"]})
    scores = pl.Series([520.0, 560.0])
    result = monitor(art, frame, scores=scores, outcomes=pl.Series([None, None], dtype=pl.Int8))
    assert result.performance is None and result.bad_rates is None
    assert monitor(art, frame, scores=scores).performance is None
