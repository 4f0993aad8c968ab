"""The readout of a champion/challenger experiment: per arm, and each arm against the
champion and the hold-out control, with confidence intervals, the minimum detectable
effect and a plain-language verdict (zh-CN and en).

Input: one row per account of the experiment (:data:`OUTCOMES`), the arm it was in and
what happened to it between its entry and the end of the window. Pure: no database, no
clock.

Metrics (:data:`METRICS`) and the test each gets (see :mod:`.stats`):

=====================  ==========================================  ============  ==========
metric                 per arm                                     difference    better is
=====================  ==========================================  ============  ==========
recovered              amount recovered per account (fen)          Welch t       higher
cure_rate              accounts back to current / accounts         Newcombe      higher
roll_rate              accounts in a worse bucket / accounts       Newcombe      lower
promise_kept_rate      accounts that kept a promise / accounts     Newcombe      higher
contacts_per_account   contacts made / accounts                    Welch t       lower
complaints_per_10k     complaints per 10,000 contacts              Poisson       lower
opt_out_rate           accounts that opted out / accounts          Newcombe      lower
=====================  ==========================================  ============  ==========

**Multiple comparisons.** Each comparison (one arm against another) is a family of up
to seven metrics, and its verdict says "better" or "worse" as soon as one metric
differs. To keep the chance of any false "better/worse" in a comparison at most
``1 - confidence``, every interval is a Bonferroni interval at level
``1 - (1 - confidence) / k`` (k = the metrics compared), and a metric differs when its
interval leaves out zero. The comparisons of one readout are separate questions (is the
challenger better than the champion; is the strategy better than doing nothing) and are
not adjusted against each other. The minimum detectable effects are at that same
adjusted level, with 80 % power.

**Verdict.** ``insufficient`` (数据尚不足) when an arm has fewer than
``min_accounts`` accounts, or nothing differs and the recovery the experiment could
detect is more than ``max_relative_mde`` of the reference arm's; ``no_difference``
when nothing differs; otherwise ``better``, ``worse`` or ``mixed`` by the metrics that
differ, e.g. "challenger better on recovery, worse on complaints".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from forbear.domain.experiments import stats as st

OUTCOMES: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "arm": pl.String(),
    "recovered": pl.Int64(),  # fen paid from entry to the end of the window
    "cured": pl.Boolean(),  # back to current (dpd 0) or paid off at the end
    "rolled": pl.Boolean(),  # in a worse bucket at the end than at entry
    "promises": pl.Int32(),  # promises made in the window
    "promises_kept": pl.Int32(),  # of which kept in full
    "contacts": pl.Int32(),  # contacts made (allowed attempts)
    "complaints": pl.Int32(),
    "opted_out": pl.Boolean(),
}

Kind = Literal["mean", "proportion", "rate"]
VerdictKind = Literal["insufficient", "no_difference", "better", "worse", "mixed"]


@dataclass(frozen=True)
class Metric:
    key: str
    kind: Kind
    higher_is_better: bool
    zh: str
    en: str


METRICS: tuple[Metric, ...] = (
    Metric("recovered", "mean", True, "回收金额", "recovery"),
    Metric("cure_rate", "proportion", True, "治愈率", "cure rate"),
    Metric("roll_rate", "proportion", False, "恶化率", "roll-forward"),
    Metric("promise_kept_rate", "proportion", True, "承诺兑现", "promises kept"),
    Metric("contacts_per_account", "mean", False, "联系次数", "contacts"),
    Metric("complaints_per_10k", "rate", False, "投诉", "complaints"),
    Metric("opt_out_rate", "proportion", False, "退订", "opt-outs"),
)
BY_KEY = {m.key: m for m in METRICS}
PER_CONTACTS = 10_000


@dataclass(frozen=True)
class Policy:
    """How sure a readout must be. ``confidence`` is per comparison (family-wise)."""

    confidence: float = 0.95
    min_accounts: int = 100
    max_relative_mde: float = 0.5

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must be in [0.5, 1)")
        if self.min_accounts < 2:
            raise ValueError("min_accounts must be at least 2")
        if self.max_relative_mde <= 0:
            raise ValueError("max_relative_mde must be positive")


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    accounts: int
    recovered_total: int  # fen
    recovered: float  # fen per account
    recovered_sd: float
    cured: int
    cure_rate: float
    rolled: int
    roll_rate: float
    promises: int
    promises_kept: int
    kept_accounts: int  # accounts that kept at least one promise
    promise_kept_rate: float
    contacts: int
    contacts_per_account: float
    contacts_sd: float
    complaints: int
    complaints_per_10k: float | None  # None: no contacts
    opted_out: int
    opt_out_rate: float


@dataclass(frozen=True)
class Difference:
    """``arm`` minus ``reference`` on one metric, at the comparison's adjusted level."""

    metric: str
    estimate: float
    low: float
    high: float
    p_value: float
    mde: float  # the smallest difference detectable with 80 % power
    differs: bool  # the interval leaves out zero
    better: bool | None  # None when it does not differ


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    better_on: tuple[str, ...]
    worse_on: tuple[str, ...]
    zh: str
    en: str
    why: Literal["small", "blind"] | None = None  # why there is not enough data


@dataclass(frozen=True)
class Comparison:
    arm: str
    reference: str
    role: Literal["champion", "control"]  # what the reference is
    level: float  # the adjusted level of each interval
    differences: tuple[Difference, ...]
    verdict: Verdict

    def difference(self, metric: str) -> Difference:
        return next(d for d in self.differences if d.metric == metric)


@dataclass(frozen=True)
class Readout:
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    champion: str | None
    control: str
    policy: Policy = field(default_factory=Policy)

    def arm(self, name: str) -> ArmSummary:
        return next(a for a in self.arms if a.arm == name)

    def comparison(self, arm: str, reference: str) -> Comparison | None:
        return next(
            (c for c in self.comparisons if c.arm == arm and c.reference == reference), None
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (infinite bounds become None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            return v

        return clean(asdict(self))  # type: ignore[no-any-return]


def _summary(arm: str, rows: pl.DataFrame) -> ArmSummary:
    n = rows.height
    rec = rows["recovered"].cast(pl.Float64).to_numpy()
    con = rows["contacts"].cast(pl.Float64).to_numpy()
    contacts = int(con.sum())
    complaints = int(rows["complaints"].sum() or 0)
    kept = int((rows["promises_kept"] > 0).sum())
    cured = int(rows["cured"].sum())
    rolled = int(rows["rolled"].sum())
    opted = int(rows["opted_out"].sum())
    return ArmSummary(
        arm=arm,
        accounts=n,
        recovered_total=int(rec.sum()),
        recovered=float(rec.mean()) if n else 0.0,
        recovered_sd=float(rec.std(ddof=1)) if n > 1 else 0.0,
        cured=cured,
        cure_rate=cured / n if n else 0.0,
        rolled=rolled,
        roll_rate=rolled / n if n else 0.0,
        promises=int(rows["promises"].sum() or 0),
        promises_kept=int(rows["promises_kept"].sum() or 0),
        kept_accounts=kept,
        promise_kept_rate=kept / n if n else 0.0,
        contacts=contacts,
        contacts_per_account=contacts / n if n else 0.0,
        contacts_sd=float(con.std(ddof=1)) if n > 1 else 0.0,
        complaints=complaints,
        complaints_per_10k=complaints * PER_CONTACTS / contacts if contacts else None,
        opted_out=opted,
        opt_out_rate=opted / n if n else 0.0,
    )


@dataclass(frozen=True)
class Aggregates:
    """What the comparisons need of an arm, as arrays: one entry per replication (a
    readout has one; a simulation has thousands and compares them all in one call)."""

    accounts: np.ndarray[Any, Any]
    recovered: np.ndarray[Any, Any]  # mean per account
    recovered_var: np.ndarray[Any, Any]
    cured: np.ndarray[Any, Any]
    rolled: np.ndarray[Any, Any]
    kept_accounts: np.ndarray[Any, Any]
    contacts: np.ndarray[Any, Any]  # total
    contacts_per_account: np.ndarray[Any, Any]
    contacts_var: np.ndarray[Any, Any]
    complaints: np.ndarray[Any, Any]
    opted_out: np.ndarray[Any, Any]

    @classmethod
    def of(cls, s: ArmSummary) -> Aggregates:
        def a(v: float) -> np.ndarray[Any, Any]:
            return np.asarray([v], dtype=float)

        return cls(
            a(s.accounts), a(s.recovered), a(s.recovered_sd**2), a(s.cured), a(s.rolled),
            a(s.kept_accounts), a(s.contacts), a(s.contacts_per_account), a(s.contacts_sd**2),
            a(s.complaints), a(s.opted_out),
        )  # fmt: skip


_COUNTS = {
    "cure_rate": "cured",
    "roll_rate": "rolled",
    "promise_kept_rate": "kept_accounts",
    "opt_out_rate": "opted_out",
}
_VAR = {"recovered": "recovered_var", "contacts_per_account": "contacts_var"}


@dataclass(frozen=True)
class Compared:
    """One metric's differences over replications (arrays)."""

    estimate: np.ndarray[Any, Any]
    low: np.ndarray[Any, Any]
    high: np.ndarray[Any, Any]
    p_value: np.ndarray[Any, Any]
    mde: np.ndarray[Any, Any]

    @property
    def differs(self) -> np.ndarray[Any, Any]:
        return np.asarray((self.low > 0) | (self.high < 0))


def compare_many(
    a: Aggregates, b: Aggregates, confidence: float, with_complaints: bool = True
) -> tuple[float, dict[str, Compared]]:
    """``a`` minus ``b`` on every metric at the Bonferroni-adjusted level (returned)."""
    metrics = [m for m in METRICS if m.kind != "rate" or with_complaints]
    alpha = (1 - confidence) / len(metrics)
    out: dict[str, Compared] = {}
    for m in metrics:
        if m.kind == "proportion":
            ca, cb = getattr(a, _COUNTS[m.key]), getattr(b, _COUNTS[m.key])
            d, lo, hi = st.newcombe(ca, a.accounts, cb, b.accounts, alpha)
            p = st.two_proportion_p(ca, a.accounts, cb, b.accounts)
            base = cb / np.maximum(b.accounts, 1.0)
            mde = st.mde_proportion(base, a.accounts, b.accounts, alpha)
        elif m.kind == "mean":
            va, vb = getattr(a, _VAR[m.key]), getattr(b, _VAR[m.key])
            d, lo, hi, p = st.welch(
                getattr(a, m.key), va, a.accounts, getattr(b, m.key), vb, b.accounts, alpha
            )
            mde = st.mde_mean(np.sqrt((va + vb) / 2), a.accounts, b.accounts, alpha)
        else:
            d, lo, hi, p = st.poisson_diff(
                a.complaints, a.contacts, b.complaints, b.contacts, alpha
            )
            rate = (a.complaints + b.complaints) / np.maximum(a.contacts + b.contacts, 1.0)
            mde = st.mde_rate(rate, a.contacts, b.contacts, alpha)
            d, lo, hi, mde = (x * PER_CONTACTS for x in (d, lo, hi, mde))
        out[m.key] = Compared(d, lo, hi, p, mde)
    return 1 - alpha, out


def classify(
    compared: dict[str, Compared],
    sizes: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    reference_recovered: np.ndarray[Any, Any],
    policy: Policy,
) -> np.ndarray[Any, Any]:
    """The verdict's kind for every replication (array of :data:`VerdictKind` strings)."""
    better = np.zeros_like(reference_recovered, dtype=bool)
    worse = np.zeros_like(better)
    for key, c in compared.items():
        up = c.low > 0
        down = c.high < 0
        good_up = BY_KEY[key].higher_is_better
        better |= up if good_up else down
        worse |= down if good_up else up
    any_diff = better | worse
    too_small = np.minimum(sizes[0], sizes[1]) < policy.min_accounts
    rec = compared["recovered"].mde
    blind = ~any_diff & (
        ~np.isfinite(rec)
        | (rec > policy.max_relative_mde * np.maximum(np.abs(reference_recovered), 1.0))
    )
    kinds = np.where(
        better & worse,
        "mixed",
        np.where(better, "better", np.where(worse, "worse", "no_difference")),
    )
    return np.where(too_small | blind, "insufficient", kinds)


def _join(words: list[str], lang: str) -> str:
    if lang == "zh":
        return "、".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def _verdict(
    arm: str, reference: str, kind: VerdictKind, diffs: list[Difference], policy: Policy,
    too_small: bool,
) -> Verdict:  # fmt: skip
    """The plain-language verdict of ``arm`` against ``reference``."""
    better = tuple(d.metric for d in diffs if d.better is True)
    worse = tuple(d.metric for d in diffs if d.better is False)
    if kind == "insufficient":
        why_zh = (
            f"每组至少需要 {policy.min_accounts} 个账户"
            if too_small
            else "以目前的样本量只能发现很大的回收差异"
        )
        why_en = (
            f"each arm needs at least {policy.min_accounts} accounts"
            if too_small
            else "at this sample size only a large difference in recovery could be seen"
        )
        return Verdict(
            kind, (), (), f"数据尚不足（{why_zh}）", f"not enough data yet ({why_en})",
            "small" if too_small else "blind",
        )  # fmt: skip
    if kind == "no_difference":
        return Verdict(
            kind, (), (),
            f"{arm} 与 {reference} 无显著差异", f"no difference between {arm} and {reference}",
        )  # fmt: skip
    zh_parts, en_parts = [], []
    if better:
        zh_parts.append("在" + _join([BY_KEY[k].zh for k in better], "zh") + "上更好")
        en_parts.append("better on " + _join([BY_KEY[k].en for k in better], "en"))
    if worse:
        zh_parts.append("在" + _join([BY_KEY[k].zh for k in worse], "zh") + "上更差")
        en_parts.append("worse on " + _join([BY_KEY[k].en for k in worse], "en"))
    return Verdict(
        kind, better, worse,
        f"{arm} 相比 {reference}：" + "，".join(zh_parts),
        f"{arm} against {reference}: " + ", ".join(en_parts),
    )  # fmt: skip


def compare(
    a: ArmSummary, b: ArmSummary, role: Literal["champion", "control"], policy: Policy
) -> Comparison:
    """``a`` against the reference ``b``."""
    level, compared = compare_many(
        Aggregates.of(a), Aggregates.of(b), policy.confidence,
        with_complaints=a.contacts > 0 and b.contacts > 0,
    )  # fmt: skip
    diffs = []
    for key, c in compared.items():
        low, high = float(c.low[0]), float(c.high[0])
        differs = low > 0 or high < 0
        better = None if not differs else (low > 0) == BY_KEY[key].higher_is_better
        diffs.append(
            Difference(key, float(c.estimate[0]), low, high, float(c.p_value[0]),
                       float(c.mde[0]), differs, better)
        )  # fmt: skip
    sizes = (np.asarray([a.accounts]), np.asarray([b.accounts]))
    kind = str(classify(compared, sizes, np.asarray([b.recovered]), policy)[0])
    too_small = min(a.accounts, b.accounts) < policy.min_accounts
    v = _verdict(a.arm, b.arm, kind, diffs, policy, too_small)  # type: ignore[arg-type]
    return Comparison(a.arm, b.arm, role, level, tuple(diffs), v)


def readout(
    outcomes: pl.DataFrame,
    arms: list[str],
    *,
    champion: str | None,
    control: str,
    policy: Policy | None = None,
) -> Readout:
    """Read out an experiment. ``arms``: every arm of the experiment in its file's order
    (an arm without accounts is shown with zeros); ``champion``: the arm whose
    treatment is the segment's own (None when no arm is); ``control``: the hold-out.

    Comparisons: every arm but the control against the control; every arm but the
    champion and the control against the champion."""
    policy = policy or Policy()
    missing = [c for c in OUTCOMES if c not in outcomes.columns]
    if missing:
        raise ValueError(f"outcomes lack columns: {', '.join(missing)}")
    unknown = sorted(set(outcomes["arm"].drop_nulls().to_list()) - set(arms))
    if unknown:
        raise ValueError(f"outcomes name arms the experiment does not have: {unknown}")
    frame = outcomes.select(
        pl.col(c).cast(t) if t == pl.String() else pl.col(c).cast(t).fill_null(_zero(t))
        for c, t in OUTCOMES.items()
    )
    summaries = {a: _summary(a, frame.filter(pl.col("arm") == a)) for a in arms}
    pairs: list[tuple[str, str, Literal["champion", "control"]]] = []
    for a in arms:
        if champion is not None and a not in (champion, control):
            pairs.append((a, champion, "champion"))
    for a in arms:
        if a != control and control in summaries:
            pairs.append((a, control, "control"))
    comparisons = [compare(summaries[a], summaries[r], role, policy) for a, r, role in pairs]
    return Readout(
        arms=tuple(summaries[a] for a in arms),
        comparisons=tuple(comparisons),
        champion=champion,
        control=control,
        policy=policy,
    )


def _zero(t: pl.DataType) -> Any:
    return False if t == pl.Boolean() else 0


def outcomes_frame(arm_of: np.ndarray[Any, Any], **columns: np.ndarray[Any, Any]) -> pl.DataFrame:
    """An OUTCOMES frame from NumPy columns (simulations and tests build them so)."""
    n = len(arm_of)
    data: dict[str, Any] = {"loan_id": np.arange(1, n + 1), "arm": arm_of}
    for c in OUTCOMES:
        if c not in data:
            data[c] = columns.get(
                c, np.zeros(n, dtype=bool if OUTCOMES[c] == pl.Boolean() else int)
            )
    return pl.DataFrame(data).select(pl.col(c).cast(t) for c, t in OUTCOMES.items())
