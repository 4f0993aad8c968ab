"""The interval arithmetic of the experiment readout, on NumPy arrays so that a test can
replicate an experiment thousands of times in one call (the readout uses the same
functions on scalars).

- Rates (cure, roll-forward, promise kept, opt-out): the difference of two independent
  proportions with Newcombe's hybrid score interval (Newcombe 1998, method 10), built
  from the two Wilson score intervals. It keeps its coverage near the nominal level for
  small counts and rates near 0 or 1, where the Wald interval does not.
- Amounts and counts per account (recovery, contacts): Welch's unequal-variance t
  interval (Welch-Satterthwaite degrees of freedom). Recovery is skewed (most accounts
  pay nothing), but the mean of hundreds of accounts is near normal; the test in
  ``tests/unit/experiments`` checks the coverage on a skewed, zero-inflated amount.
- Complaints per contact: the difference of two Poisson rates with contacts as the
  exposure, Wald with half a count added to each side (stays finite at zero complaints).
- The minimum detectable effect at 80 % power, two-sided, by the normal approximation
  (the formula statsmodels' ``NormalIndPower`` solves; the tests compare them).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

Array = NDArray[np.float64]
POWER = 0.8


def z_for(alpha: float) -> float:
    """The two-sided normal critical value of ``alpha``."""
    return float(stats.norm.ppf(1 - alpha / 2))


def wilson(count: ArrayLike, n: ArrayLike, z: float) -> tuple[Array, Array]:
    """Wilson score interval of ``count / n`` (n = 0 gives [0, 1])."""
    c = np.asarray(count, dtype=float)
    m = np.asarray(n, dtype=float)
    safe = np.where(m > 0, m, 1.0)
    p = np.where(m > 0, c / safe, 0.0)
    denom = 1 + z * z / safe
    centre = (p + z * z / (2 * safe)) / denom
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / denom
    low = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    high = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return low, high


def newcombe(
    c1: ArrayLike, n1: ArrayLike, c2: ArrayLike, n2: ArrayLike, alpha: float
) -> tuple[Array, Array, Array]:
    """``p1 - p2`` and Newcombe's hybrid score interval at level ``1 - alpha``."""
    z = z_for(alpha)
    a1, m1 = np.asarray(c1, dtype=float), np.asarray(n1, dtype=float)
    a2, m2 = np.asarray(c2, dtype=float), np.asarray(n2, dtype=float)
    p1 = np.where(m1 > 0, a1 / np.where(m1 > 0, m1, 1.0), 0.0)
    p2 = np.where(m2 > 0, a2 / np.where(m2 > 0, m2, 1.0), 0.0)
    l1, u1 = wilson(a1, m1, z)
    l2, u2 = wilson(a2, m2, z)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def two_proportion_p(c1: ArrayLike, n1: ArrayLike, c2: ArrayLike, n2: ArrayLike) -> Array:
    """Two-sided p-value of the pooled two-proportion z-test (1 when undefined)."""
    a1, m1 = np.asarray(c1, dtype=float), np.asarray(n1, dtype=float)
    a2, m2 = np.asarray(c2, dtype=float), np.asarray(n2, dtype=float)
    pooled = (a1 + a2) / np.maximum(m1 + m2, 1.0)
    se = np.sqrt(pooled * (1 - pooled) * (1 / np.maximum(m1, 1.0) + 1 / np.maximum(m2, 1.0)))
    diff = a1 / np.maximum(m1, 1.0) - a2 / np.maximum(m2, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.where(se > 0, diff / np.where(se > 0, se, 1.0), 0.0)
    return np.asarray(2 * stats.norm.sf(np.abs(zs)), dtype=float)


def welch(
    mean1: ArrayLike,
    var1: ArrayLike,
    n1: ArrayLike,
    mean2: ArrayLike,
    var2: ArrayLike,
    n2: ArrayLike,
    alpha: float,
) -> tuple[Array, Array, Array, Array]:
    """``mean1 - mean2``, Welch's interval at ``1 - alpha`` and its two-sided p-value.
    ``var`` are sample variances (ddof 1); an arm of fewer than two accounts gives an
    infinite interval (nothing can be said)."""
    x1, v1, m1 = (np.asarray(a, dtype=float) for a in (mean1, var1, n1))
    x2, v2, m2 = (np.asarray(a, dtype=float) for a in (mean2, var2, n2))
    ok = (m1 >= 2) & (m2 >= 2)
    s1 = np.where(ok, v1 / np.where(m1 > 0, m1, 1.0), 0.0)
    s2 = np.where(ok, v2 / np.where(m2 > 0, m2, 1.0), 0.0)
    se = np.sqrt(s1 + s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (s1 + s2) ** 2 / (
            s1**2 / np.where(m1 > 1, m1 - 1, 1.0) + s2**2 / np.where(m2 > 1, m2 - 1, 1.0)
        )
    df = np.where(np.isfinite(df) & (df > 0), df, 1.0)
    t = stats.t.ppf(1 - alpha / 2, df)
    d = x1 - x2
    with np.errstate(divide="ignore", invalid="ignore"):
        ts = np.where(se > 0, d / np.where(se > 0, se, 1.0), 0.0)
    p = np.where(se > 0, 2 * stats.t.sf(np.abs(ts), df), np.where(d == 0, 1.0, 0.0))
    low = np.where(ok, d - t * se, -np.inf)
    high = np.where(ok, d + t * se, np.inf)
    # no spread in either arm: the difference is exact
    low = np.where(ok & (se == 0), d, low)
    high = np.where(ok & (se == 0), d, high)
    return d, low, high, np.where(ok, p, 1.0)


def poisson_diff(
    c1: ArrayLike, e1: ArrayLike, c2: ArrayLike, e2: ArrayLike, alpha: float
) -> tuple[Array, Array, Array, Array]:
    """``c1/e1 - c2/e2`` (events per unit of exposure), a Wald interval with half an
    event added to each count for the variance, and the conditional exact-ish p-value
    (normal approximation of the binomial split of the events by exposure)."""
    z = z_for(alpha)
    a1, x1 = np.asarray(c1, dtype=float), np.asarray(e1, dtype=float)
    a2, x2 = np.asarray(c2, dtype=float), np.asarray(e2, dtype=float)
    ok = (x1 > 0) & (x2 > 0)
    s1, s2 = np.where(x1 > 0, x1, 1.0), np.where(x2 > 0, x2, 1.0)
    d = a1 / s1 - a2 / s2
    se = np.sqrt((a1 + 0.5) / s1**2 + (a2 + 0.5) / s2**2)
    total = a1 + a2
    share = s1 / (s1 + s2)
    sd = np.sqrt(np.maximum(total * share * (1 - share), 1e-300))
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.where(total > 0, (a1 - total * share) / sd, 0.0)
    p = np.where(ok & (total > 0), 2 * stats.norm.sf(np.abs(zs)), 1.0)
    return d, np.where(ok, d - z * se, -np.inf), np.where(ok, d + z * se, np.inf), p


def mde_proportion(p: ArrayLike, n1: ArrayLike, n2: ArrayLike, alpha: float) -> Array:
    """The smallest rise from rate ``p`` detectable with power 0.8 (two-sided, level
    ``alpha``) with arms of ``n1`` and ``n2``: Cohen's h solved by the normal
    approximation, turned back into a difference of rates."""
    m1, m2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    base = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    ok = (m1 > 0) & (m2 > 0)
    h = (z_for(alpha) + float(stats.norm.ppf(POWER))) * np.sqrt(
        1 / np.where(ok, m1, 1.0) + 1 / np.where(ok, m2, 1.0)
    )
    phi = np.arcsin(np.sqrt(base))
    up = np.sin(np.minimum(phi + h / 2, np.pi / 2)) ** 2 - base
    down = base - np.sin(np.maximum(phi - h / 2, 0.0)) ** 2
    # the larger of the two directions: the effect needed whichever way it goes
    return np.where(ok, np.maximum(up, down), np.inf)


def mde_mean(sd: ArrayLike, n1: ArrayLike, n2: ArrayLike, alpha: float) -> Array:
    """The smallest difference of means detectable with power 0.8 (normal approximation
    of the two-sample t-test: Cohen's d times the pooled standard deviation)."""
    m1, m2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    ok = (m1 > 0) & (m2 > 0)
    d = (z_for(alpha) + float(stats.norm.ppf(POWER))) * np.sqrt(
        1 / np.where(ok, m1, 1.0) + 1 / np.where(ok, m2, 1.0)
    )
    return np.where(ok, d * np.asarray(sd, dtype=float), np.inf)


def mde_rate(rate: ArrayLike, e1: ArrayLike, e2: ArrayLike, alpha: float) -> Array:
    """The smallest difference of Poisson rates detectable with power 0.8 at the pooled
    ``rate`` with exposures ``e1`` and ``e2``."""
    x1, x2 = np.asarray(e1, dtype=float), np.asarray(e2, dtype=float)
    r = np.asarray(rate, dtype=float)
    ok = (x1 > 0) & (x2 > 0)
    k = z_for(alpha) + float(stats.norm.ppf(POWER))
    se = np.sqrt(r / np.where(ok, x1, 1.0) + r / np.where(ok, x2, 1.0))
    # with no events at all, the detectable rise is at least a few events' worth
    floor = 3.0 / np.where(ok, np.minimum(x1, x2), 1.0)
    return np.where(ok, np.maximum(k * se, floor), np.inf)
