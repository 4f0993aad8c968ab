"""The readout's evidence (issue 16): a simulated experiment with a known true effect is
detected at about the power the design predicts, and one with no effect is called "no
difference" at about the stated error rate.

Every replication is a whole experiment (two arms of 1,000 accounts with recovery, cure,
roll-forward, promises, contacts, complaints and opt-outs); the replications are drawn
as (R, n) matrices and compared in one call of the readout's own vectorised functions
(``compare_many`` and ``classify``, which :func:`readout` uses with one replication).

Tolerances: a rate observed over R independent replications has a binomial standard
error sqrt(p(1-p)/R); we allow three of them (a false failure about 1 run in 400) plus,
for power, 0.02 for the normal approximation in the predicted power (the Newcombe
interval is not exactly the arcsine test statsmodels' ``NormalIndPower`` assumes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from forbear.domain.experiments.readout import (
    Aggregates,
    Policy,
    classify,
    compare_many,
    outcomes_frame,
    readout,
)

R = 1000  # replications
N = 1000  # accounts per arm
CONFIDENCE = 0.95
K = 7  # metrics per comparison (Bonferroni)


def _arm(rng: np.random.Generator, cure: float) -> dict[str, np.ndarray[Any, Any]]:
    """R replications of one arm of N accounts: a zero-inflated, skewed recovery."""
    shape = (R, N)
    cured = rng.random(shape) < cure
    partial = ~cured & (rng.random(shape) < 0.1)
    recovered = np.where(cured, rng.gamma(2.0, 1500.0, shape), 0.0) + np.where(
        partial, rng.gamma(1.0, 300.0, shape), 0.0
    )
    rolled = ~cured & (rng.random(shape) < 0.25)
    kept = rng.random(shape) < 0.15
    contacts = rng.poisson(3.0, shape)
    complaints = rng.binomial(contacts, 0.002)
    opted = rng.random(shape) < 0.02
    return {
        "recovered": recovered, "cured": cured, "rolled": rolled, "kept": kept,
        "contacts": contacts, "complaints": complaints, "opted": opted,
    }  # fmt: skip


def _aggregates(arm: dict[str, np.ndarray[Any, Any]]) -> Aggregates:
    n = np.full(R, float(N))
    return Aggregates(
        accounts=n,
        recovered=arm["recovered"].mean(axis=1),
        recovered_var=arm["recovered"].var(axis=1, ddof=1),
        cured=arm["cured"].sum(axis=1).astype(float),
        rolled=arm["rolled"].sum(axis=1).astype(float),
        kept_accounts=arm["kept"].sum(axis=1).astype(float),
        contacts=arm["contacts"].sum(axis=1).astype(float),
        contacts_per_account=arm["contacts"].mean(axis=1),
        contacts_var=arm["contacts"].var(axis=1, ddof=1),
        complaints=arm["complaints"].sum(axis=1).astype(float),
        opted_out=arm["opted"].sum(axis=1).astype(float),
    )


def _tolerance(p: float) -> float:
    return 3 * math.sqrt(p * (1 - p) / R)


def _run(cure_a: float, cure_b: float, seed: int) -> tuple[dict[str, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    a, b = _aggregates(_arm(rng, cure_a)), _aggregates(_arm(rng, cure_b))
    _, compared = compare_many(a, b, CONFIDENCE)
    kinds = classify(compared, (a.accounts, b.accounts), b.recovered, Policy(CONFIDENCE))
    return compared, kinds


def test_a_known_effect_is_detected_at_about_the_predicted_power() -> None:
    base, lifted = 0.30, 0.36
    compared, kinds = _run(lifted, base, seed=20261207)
    predicted = NormalIndPower().power(
        proportion_effectsize(lifted, base), nobs1=N, alpha=(1 - CONFIDENCE) / K, ratio=1.0
    )
    cure = compared["cure_rate"]
    detected = float(np.mean(cure.differs & (cure.low > 0)))
    print(f"cure rate: predicted power {predicted:.3f}, detected {detected:.3f}")
    assert 0.3 < predicted < 0.8  # a design where power is informative, not 0 or 1
    assert abs(detected - predicted) <= _tolerance(predicted) + 0.02
    # never the wrong way round, and the verdict calls the challenger better at least as
    # often as the cure rate alone (the recovery follows the cures)
    assert not np.any(cure.high < 0)
    better = float(np.mean(np.isin(kinds, ["better", "mixed"])))
    assert better >= detected - _tolerance(predicted)


def test_no_effect_is_called_no_difference_at_about_the_stated_error_rate() -> None:
    compared, kinds = _run(0.30, 0.30, seed=7)
    alpha = 1 - CONFIDENCE
    false_calls = float(np.mean(kinds != "no_difference"))
    print(f"kinds: {dict(zip(*np.unique(kinds, return_counts=True), strict=True))}")
    # the family-wise error rate is at most alpha (Bonferroni), within sampling error
    assert false_calls <= alpha + _tolerance(alpha)
    assert not np.any(kinds == "insufficient")  # 1,000 accounts a side is enough here
    # each interval is at level 1 - alpha / K: its own false rate is about alpha / K
    per = alpha / K
    for key in ("cure_rate", "recovered", "roll_rate", "contacts_per_account"):
        rate = float(np.mean(compared[key].differs))
        print(f"{key}: false rate {rate:.4f} (nominal {per:.4f})")
        assert rate <= per + _tolerance(per), key
    # and the test is not blind: together the metrics do make some false calls
    assert false_calls > 0


def test_the_minimum_detectable_effect_matches_statsmodels() -> None:
    from forbear.domain.experiments import stats as st

    alpha = 0.05 / K
    h = NormalIndPower().solve_power(nobs1=800, alpha=alpha, power=0.8, ratio=1.25)
    ours = st.mde_proportion(0.3, 800, 1000, alpha)[()]
    phi = math.asin(math.sqrt(0.3))
    theirs = math.sin(phi + h / 2) ** 2 - 0.3
    assert ours == pytest.approx(theirs, rel=0.01)
    d = NormalIndPower().solve_power(nobs1=500, alpha=alpha, power=0.8, ratio=1.0)
    assert st.mde_mean(1000.0, 500, 500, alpha)[()] == pytest.approx(d * 1000.0, rel=0.01)


def test_newcombe_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    from forbear.domain.experiments import stats as st

    for c1, n1, c2, n2 in [(30, 100, 20, 100), (0, 50, 3, 60), (49, 50, 40, 50), (5, 400, 9, 380)]:
        _, lo, hi = st.newcombe(c1, n1, c2, n2, 0.05)
        slo, shi = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff")
        assert float(lo) == pytest.approx(slo, abs=1e-9)
        assert float(hi) == pytest.approx(shi, abs=1e-9)


def test_welch_matches_scipy() -> None:
    from scipy import stats as sps

    from forbear.domain.experiments import stats as st

    rng = np.random.default_rng(3)
    x, y = rng.gamma(2, 100, 80), rng.gamma(2, 130, 120)
    _, lo, hi, p = st.welch(x.mean(), x.var(ddof=1), 80, y.mean(), y.var(ddof=1), 120, 0.05)
    ref = sps.ttest_ind(x, y, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert float(lo) == pytest.approx(ci.low) and float(hi) == pytest.approx(ci.high)
    assert float(p) == pytest.approx(ref.pvalue)


def _frame(rng: np.random.Generator, sizes: dict[str, int], cure: dict[str, float]) -> Any:
    arms = np.concatenate([np.full(n, a) for a, n in sizes.items()])
    p = np.concatenate([np.full(n, cure[a]) for a, n in sizes.items()])
    total = len(arms)
    cured = rng.random(total) < p
    contacts = rng.poisson(np.where(arms == "challenger", 5.0, 3.0))
    return outcomes_frame(
        arms,
        recovered=np.where(cured, rng.gamma(2.0, 1500.0, total), 0.0).astype(int),
        cured=cured,
        rolled=~cured & (rng.random(total) < 0.25),
        contacts=contacts,
        complaints=rng.binomial(contacts, np.where(arms == "challenger", 0.02, 0.002)),
        opted_out=rng.random(total) < 0.02,
    )


def test_readout_names_better_and_worse_in_both_languages() -> None:
    rng = np.random.default_rng(11)
    frame = _frame(
        rng, {"champion": 3000, "challenger": 3000, "control": 600},
        {"champion": 0.30, "challenger": 0.40, "control": 0.2},
    )  # fmt: skip
    r = readout(
        frame, ["champion", "challenger", "control"], champion="champion", control="control"
    )
    c = r.comparison("challenger", "champion")
    assert c is not None and c.verdict.kind == "mixed"
    assert "recovered" in c.verdict.better_on and "complaints_per_10k" in c.verdict.worse_on
    assert "better on recovery" in c.verdict.en and "worse on" in c.verdict.en
    assert "complaints" in c.verdict.en
    assert "回收金额" in c.verdict.zh and "投诉" in c.verdict.zh and "更差" in c.verdict.zh
    assert [x.role for x in r.comparisons] == ["champion", "control", "control"]
    assert r.arm("control").accounts == 600
    assert r.to_dict()["comparisons"][0]["verdict"]["kind"] == "mixed"


def test_small_arms_are_not_enough_data() -> None:
    rng = np.random.default_rng(5)
    frame = _frame(rng, {"champion": 40, "challenger": 40, "control": 10},
                   {"champion": 0.3, "challenger": 0.9, "control": 0.3})  # fmt: skip
    r = readout(
        frame, ["champion", "challenger", "control"], champion="champion", control="control"
    )
    c = r.comparison("challenger", "champion")
    assert c is not None and c.verdict.kind == "insufficient"
    assert c.verdict.zh.startswith("数据尚不足") and "not enough data" in c.verdict.en


def test_an_arm_without_accounts_and_unknown_arms() -> None:
    frame = outcomes_frame(np.array(["champion"] * 5))
    r = readout(
        frame, ["champion", "challenger", "control"], champion="champion", control="control"
    )
    assert r.arm("control").accounts == 0
    assert all(c.verdict.kind == "insufficient" for c in r.comparisons)
    assert r.to_dict()  # infinite bounds are JSON-able
    with pytest.raises(ValueError, match="arms the experiment does not have"):
        readout(frame, ["challenger", "control"], champion=None, control="control")
