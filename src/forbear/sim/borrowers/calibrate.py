"""Calibrating the simulator from the lender's own history (``forbear sim calibrate``).

What is fitted, from what is stored between ``start`` and ``end`` (read-only):

- **the payment hazard and the contact effects**: a panel of loan-days - every loan
  behind on ``start``, every day until it has paid its arrears of that day (or
  ``end - window``) - with the contacts that reached the debtor that day counted by tone,
  and whether a payment came in the next ``window`` days. A logistic regression of that
  on days-past-due band, tier and the tone counts (:func:`logistic_fit`) gives the ``pay.dpd_*``
  hazards (the band's ``window``-day probability of the reference tier with no contact,
  turned into a daily one) and the ``effect.tone.*`` log-odds lifts (each contact's lift
  on the odds of paying within the window: the simulator adds the same lift to the daily
  odds and lets it decay, which is the same order of size for half-lives near the
  window);
- ``answer.base``: the share of voice attempts to the debtor that connected;
- ``promise.keep.<tier>``: the share of resolved promises kept (fully or partly);
- ``complaint.base``: complaints received per contact made.

An entry is replaced only when the history holds enough cases (``MIN_*``); its range
becomes the estimate plus or minus two standard errors and its source
``calibrated (<db>, <start>..<end>, n=<cases>)``. Everything else keeps its value and
source. The tone of a contact comes from its template: the shipped and the active
strategy's actions name each template's purpose; other codes are read by their words
(EDU, PLAN, LEGAL, M3 / DEMAND).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import Connection, func, select

from forbear.domain.errors import ForbearError, ValidationError
from forbear.sim.borrowers.parameters import TIERS, TONES, Parameters
from forbear.sim.borrowers.world import TONE_OF_PURPOSE

MIN_PANEL = 200  # loan-days in a band, for its hazard
MIN_POSITIVES = 10
MIN_TONE = 50  # reached contacts of a tone in the panel, for its effect
MIN_CALLS = 50
MIN_PROMISES = 30
MIN_CONTACTS_FOR_COMPLAINTS = 500
BANDS = ("dpd_1_7", "dpd_8_30", "dpd_31_60", "dpd_61_90", "dpd_91_plus")
REACHED = ("connected", "delivered")
_UTC = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Estimate:
    name: str
    value: float
    se: float
    n: int


@dataclass
class Calibration:
    params: Parameters
    estimates: list[Estimate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def tone_of_template(code: str | None, purposes: dict[str, str]) -> str:
    """The tone of a contact made with template ``code`` (module docstring)."""
    if not code:
        return "reminder"
    purpose = purposes.get(code)
    if purpose is not None:
        return TONE_OF_PURPOSE.get(purpose, "reminder")
    upper = code.upper()
    if "LEGAL" in upper:
        return "legal_review"
    if "PLAN" in upper:
        return "plan_offer"
    if "EDU" in upper:
        return "education"
    if "DEMAND" in upper or ".M3." in upper or "FIRM" in upper:
        return "firm_notice"
    return "reminder"


def template_purposes(conn: Connection) -> dict[str, str]:
    """``template code -> purpose`` from the shipped and the active strategy."""
    from forbear.domain.strategy import default_strategy
    from forbear.services.strategies import active_strategy

    out: dict[str, str] = {}
    strategies = [default_strategy()]
    # an active version that fails its checksum is reported by the commands that run it;
    # here the shipped strategy's templates serve
    with contextlib.suppress(ForbearError):
        strategies.append(active_strategy(conn)[0])
    for strategy in strategies:
        for treatment in strategy.spec.treatments:
            for action in treatment.actions:
                out.setdefault(action.template, str(action.purpose))
    return out


# --- reading the history ---------------------------------------------------------------


@dataclass(frozen=True)
class History:
    start: date
    end: date
    behind: pl.DataFrame  # loan_id, borrower_id, dpd, overdue, tier: loans behind on start
    payments: pl.DataFrame  # loan_id, paid_on, amount
    contacts: pl.DataFrame  # loan_id, day, channel, party, outcome, tone
    promises: pl.DataFrame  # loan_id, status, tier
    complaints: int


def read_history(
    conn: Connection, start: date, end: date, window: int, zone: str = "Asia/Shanghai"
) -> History:
    """What :func:`calibrate` reads, set-wise (module docstring)."""
    from forbear.services.book import ledger_states
    from forbear.store import bulk
    from forbear.store.complaints import Complaint
    from forbear.store.contacts import ContactAttempt
    from forbear.store.models import AccountScore, Payment
    from forbear.store.promises import Promise

    states = bulk.read_states(conn, start, ("loan_id", "status", "dpd", "overdue_total"))
    if states.height == 0:
        states = ledger_states(conn, start).select("loan_id", "status", "dpd", "overdue_total")
    scored_on = conn.execute(
        select(func.max(AccountScore.as_of)).where(
            AccountScore.as_of <= end, AccountScore.kind == "behaviour"
        )
    ).scalar()
    tiers = (
        bulk.read_scores(conn, scored_on)
        .filter(pl.col("kind") == "behaviour")
        .select("loan_id", "tier")
        if scored_on is not None
        else pl.DataFrame(schema={"loan_id": pl.Int64, "tier": pl.String})
    )
    behind = (
        states.filter((pl.col("status") == "active") & (pl.col("dpd") > 0))
        .join(bulk.read_loan_borrowers(conn), on="loan_id", how="inner")
        .join(tiers, on="loan_id", how="left")
        .select(
            "loan_id",
            "borrower_id",
            pl.col("dpd").cast(pl.Int64),
            pl.col("overdue_total").cast(pl.Int64).alias("overdue"),
            "tier",
        )
    )
    payments = bulk.read_frame(
        conn,
        select(Payment.loan_id, Payment.paid_on, Payment.amount).where(
            Payment.paid_on >= start, Payment.paid_on <= end + timedelta(days=window)
        ),
        {"loan_id": pl.Int64(), "paid_on": pl.Date(), "amount": pl.Int64()},
    )
    a = ContactAttempt
    since = datetime.combine(start, time(0), ZoneInfo(zone)).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time(0), ZoneInfo(zone)).astimezone(UTC)
    attempts = bulk.read_frame(
        conn,
        select(a.loan_id, a.channel, a.party, a.outcome, a.template_code, a.at).where(
            a.allowed.is_(True), a.at >= since, a.at < until
        ),
        {
            "loan_id": pl.Int64(),
            "channel": pl.String(),
            "party": pl.String(),
            "outcome": pl.String(),
            "template_code": pl.String(),
            "at": _UTC,
        },
    )
    purposes = template_purposes(conn)
    codes = attempts["template_code"].unique().to_list()
    tone_map = {c: tone_of_template(c, purposes) for c in codes if c is not None}
    contacts = attempts.select(
        "loan_id",
        pl.col("at").dt.convert_time_zone(zone).dt.date().alias("day"),
        "channel",
        "party",
        pl.col("outcome").fill_null("delivered"),
        pl.col("template_code").replace_strict(tone_map, default="reminder").alias("tone"),
    )
    p = Promise
    promises = bulk.read_frame(
        conn,
        select(p.loan_id, p.status).where(p.promised_on >= start, p.promised_on <= end),
        {"loan_id": pl.Int64(), "status": pl.String()},
    ).join(tiers, on="loan_id", how="left")
    complaints = int(
        conn.execute(
            select(func.count())
            .select_from(Complaint)
            .where(Complaint.received_on >= start, Complaint.received_on <= end)
        ).scalar()
        or 0
    )
    return History(start, end, behind, payments, contacts, promises, complaints)


# --- the panel and the fit -------------------------------------------------------------


def build_panel(history: History, window: int) -> pl.DataFrame:
    """One row per (loan behind on ``start``, day) while the loan has not paid its
    arrears of ``start``, up to ``end - window``: ``band``, ``tier``, one count column per
    tone (contacts that reached the debtor that day) and ``y`` (a payment on that day or
    the ``window - 1`` days after it)."""
    start, last = history.start, history.end - timedelta(days=window)
    if last < start:
        raise ValidationError("--from/--to", f"the range must be longer than {window} days")
    days = pl.date_range(start, last, interval="1d", eager=True).alias("day")
    grid = history.behind.join(pl.DataFrame({"day": days}), how="cross")
    pays = history.payments.filter(pl.col("loan_id").is_in(history.behind["loan_id"].implode()))
    # cumulative paid since start, by the end of each day: the loan leaves once cured
    cum = (
        grid.join(pays, on="loan_id", how="left")
        .with_columns(
            before=pl.when(pl.col("paid_on") < pl.col("day")).then(pl.col("amount")).otherwise(0),
            ahead=(
                (pl.col("paid_on") >= pl.col("day"))
                & (pl.col("paid_on") < pl.col("day") + pl.duration(days=window))
            ).fill_null(False),
        )
        .group_by("loan_id", "day")
        .agg(pl.col("before").sum(), pl.col("ahead").any().alias("y"))
    )
    reached = (
        history.contacts.filter((pl.col("party") == "debtor") & pl.col("outcome").is_in(REACHED))
        .group_by("loan_id", "day")
        .agg(
            *(
                (pl.col("tone") == t).sum().clip(upper_bound=3).cast(pl.Float64).alias(t)
                for t in TONES
            )
        )
    )
    return (
        grid.join(cum, on=["loan_id", "day"], how="left")
        .filter(pl.col("before") < pl.col("overdue"))
        .join(reached, on=["loan_id", "day"], how="left")
        .with_columns(
            *(pl.col(t).fill_null(0.0) for t in TONES),
            (pl.col("dpd") + (pl.col("day") - pl.lit(start)).dt.total_days()).alias("dpd_day"),
            pl.col("tier").fill_null("C"),
            pl.col("y").fill_null(False).cast(pl.Int64),
        )
        .with_columns(
            pl.when(pl.col("dpd_day") <= 7)
            .then(pl.lit(BANDS[0]))
            .when(pl.col("dpd_day") <= 30)
            .then(pl.lit(BANDS[1]))
            .when(pl.col("dpd_day") <= 60)
            .then(pl.lit(BANDS[2]))
            .when(pl.col("dpd_day") <= 90)
            .then(pl.lit(BANDS[3]))
            .otherwise(pl.lit(BANDS[4]))
            .alias("band")
        )
        .select("loan_id", "day", "band", "tier", *TONES, "y")
    )


def fit_panel(panel: pl.DataFrame, window: int) -> tuple[list[Estimate], list[str]]:
    """The logistic regression of ``y`` on band, tier and tone counts (module
    docstring); returns the estimates it supports and notes on what it could not fit."""
    notes: list[str] = []
    out: list[Estimate] = []
    if panel.height < MIN_PANEL or int(panel["y"].sum()) < MIN_POSITIVES:
        return [], [f"the panel has {panel.height} loan-days: too few to fit the payment model"]
    # every band with payments and non-payments enters the model (its rows inform the
    # tone effects); only those with enough cases are reported as hazards
    counts = panel.group_by("band").agg(pl.len().alias("n"), pl.col("y").sum().alias("k"))
    usable = counts.filter((pl.col("k") > 0) & (pl.col("k") < pl.col("n")))
    bands = [b for b in BANDS if b in set(usable["band"].to_list())]
    reported = set(
        usable.filter((pl.col("n") >= MIN_PANEL) & (pl.col("k") >= MIN_POSITIVES))["band"].to_list()
    )
    skipped = [b for b in BANDS if b not in reported]
    if skipped:
        notes.append(f"too few loan-days to fit pay.{', pay.'.join(skipped)}")
    data = panel.filter(pl.col("band").is_in(bands))
    if not bands or data.height < MIN_PANEL:
        return [], [*notes, "too few loan-days with and without payments"]
    tones = [t for t in TONES if float(data[t].sum()) >= MIN_TONE]
    for t in TONES:
        if t not in tones:
            notes.append(f"too few contacts of tone {t} to fit effect.tone.{t}")
    tiers = [t for t in TIERS if t != "C" and data.filter(pl.col("tier") == t).height >= MIN_PANEL]
    columns: dict[str, np.ndarray] = {}
    for b in bands:
        columns[f"band.{b}"] = (data["band"] == b).to_numpy().astype(float)
    for t in tiers:
        columns[f"tier.{t}"] = (data["tier"] == t).to_numpy().astype(float)
    for t in tones:
        columns[f"tone.{t}"] = data[t].to_numpy().astype(float)
    names = list(columns)
    x = np.column_stack([columns[n] for n in names])
    y = data["y"].to_numpy().astype(float)
    fitted = logistic_fit(x, y)
    if fitted is None:
        return [], [*notes, "the payment model did not converge (separated or singular data)"]
    coef = dict(zip(names, fitted[0], strict=True))
    se = dict(zip(names, fitted[1], strict=True))
    for b in (b for b in bands if b in reported):
        n = int((data["band"] == b).sum())
        p_window = 1.0 / (1.0 + math.exp(-coef[f"band.{b}"]))
        daily = 1.0 - (1.0 - p_window) ** (1.0 / window)
        # the standard error carried through the same transformation (delta method)
        d = p_window * (1 - p_window) * (1 - p_window) ** (1.0 / window - 1) / window
        out.append(Estimate(f"pay.{b}", daily, abs(d) * se[f"band.{b}"], n))
    for t in tones:
        out.append(
            Estimate(f"effect.tone.{t}", coef[f"tone.{t}"], se[f"tone.{t}"], int(data[t].sum()))
        )
    return out, notes


def logistic_fit(
    x: np.ndarray, y: np.ndarray, *, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray] | None:
    """Maximum-likelihood logistic regression by Newton's method (iteratively reweighted
    least squares): the coefficients and their standard errors (the inverse Fisher
    information's diagonal), or None when it does not converge. Written out rather than
    taken from statsmodels, whose import alone costs seconds; a test compares the two."""
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        eta = np.clip(x @ beta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1 - p)
        info = (x * w[:, None]).T @ x
        try:
            step = np.linalg.solve(info, x.T @ (y - p))
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    else:
        return None
    if np.any(np.abs(beta) > 25):  # separated: the estimate runs off to infinity
        return None
    eta = np.clip(x @ beta, -30, 30)
    p = 1.0 / (1.0 + np.exp(-eta))
    info = (x * (p * (1 - p))[:, None]).T @ x
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0))


def simple_rates(history: History) -> list[Estimate]:
    """Answer rate, promise keeping by tier and complaints per contact."""
    out: list[Estimate] = []
    c = history.contacts
    voice = c.filter(pl.col("channel").is_in(["call", "ai_call"]) & (pl.col("party") == "debtor"))
    if voice.height >= MIN_CALLS:
        k = int((voice["outcome"] == "connected").sum())
        out.append(_share("answer.base", k, voice.height))
    resolved = history.promises.filter(
        pl.col("status").is_in(["kept", "partly_kept", "broken"])
    ).with_columns(pl.col("tier").fill_null("C"))
    for t in TIERS:
        mine = resolved.filter(pl.col("tier") == t)
        if mine.height >= MIN_PROMISES:
            k = int(mine["status"].is_in(["kept", "partly_kept"]).sum())
            out.append(_share(f"promise.keep.{t}", k, mine.height))
    if c.height >= MIN_CONTACTS_FOR_COMPLAINTS and history.complaints > 0:
        out.append(_share("complaint.base", history.complaints, c.height))
    return out


def _share(name: str, k: int, n: int) -> Estimate:
    p = k / n
    return Estimate(name, p, math.sqrt(max(p * (1 - p), 1e-12) / n), n)


def apply(params: Parameters, estimates: list[Estimate], label: str) -> Parameters:
    """``params`` with each estimate as value, a two-standard-error range and a
    ``calibrated (...)`` source."""
    entries = dict(params.entries)
    for e in estimates:
        entry = entries[e.name]
        low, high = e.value - 2 * e.se, e.value + 2 * e.se
        if entry.kind == "probability":
            low, high = max(low, 0.0), min(high, 1.0)
        value = min(max(e.value, 0.0), 1.0) if entry.kind == "probability" else e.value
        entries[e.name] = replace(
            entry,
            value=float(value),
            low=float(min(low, value)),
            high=float(max(high, value)),
            source=f"calibrated ({label}, n={e.n})",
        )
    return Parameters(version=params.version, entries=entries, origin=params.origin)


def calibrate(
    conn: Connection,
    params: Parameters,
    start: date,
    end: date,
    *,
    db_label: str,
    window: int = 3,
    zone: str = "Asia/Shanghai",
) -> Calibration:
    """Fits what the history supports (module docstring) into a copy of ``params``."""
    if end <= start:
        raise ValidationError("--to", "must be after --from")
    if not 1 <= window <= 30:
        raise ValidationError("--window", "must be 1 to 30 days")
    history = read_history(conn, start, end, window, zone)
    panel = build_panel(history, window)
    fitted, notes = fit_panel(panel, window)
    estimates = [*fitted, *simple_rates(history)]
    label = f"{db_label}, {start.isoformat()}..{end.isoformat()}"
    version = f"{params.version}+calibrated.{end.isoformat()}"
    out = apply(params, estimates, label)
    out = Parameters(version=version, entries=out.entries, origin=params.origin)
    notes.insert(0, f"panel: {panel.height} loan-days of {history.behind.height} loans behind")
    return Calibration(out, estimates, notes)


__all__ = [
    "Calibration",
    "Estimate",
    "History",
    "apply",
    "build_panel",
    "calibrate",
    "fit_panel",
    "read_history",
    "simple_rates",
    "tone_of_template",
]
