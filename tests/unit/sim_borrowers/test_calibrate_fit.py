"""The calibration's fit recovers effects planted in a simulated history: the simulator's
own world, with known contact effects, played with random contacts, read back as the
history the calibration reads from the database."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forbear.sim.borrowers import Population, World, load_parameters
from forbear.sim.borrowers.calibrate import (
    History,
    apply,
    build_panel,
    fit_panel,
    simple_rates,
    tone_of_template,
)

START = date(2026, 9, 1)
DAYS = 40
WINDOW = 3
PLANTED = {
    "effect.tone.reminder": 0.9,
    "effect.tone.firm_notice": -0.6,
    "effect.tone.education": 0.0,
    "effect.half_life_days": 1.0,
    "effect.max": 2.0,
    "promise.base": 0.0,
    "plan.accept": 0.0,
    "complaint.base": 0.0,
    "stop.base": 0.0,
    "opt_out.base": 0.0,
    "effect.fatigue": 0.0,
}


def _history(seed: int) -> History:
    params = load_parameters().with_values(PLANTED)
    pop = Population.synthetic(1500, seed=seed, overdue_share=0.9)
    world = World(params, pop, START, seed=seed)
    rng = np.random.default_rng(seed)
    behind = pl.DataFrame(
        {
            "loan_id": pop.loan_id,
            "borrower_id": pop.borrower_id,
            "dpd": pop.dpd,
            "overdue": pop.overdue,
            "tier": pl.Series(pop.tier, dtype=pl.String),
        }
    ).filter(pl.col("dpd") > 0)
    payments, contacts = [], []
    day = START
    for _ in range(DAYS):
        # a third of the loans behind get one SMS a day, of a random tone
        ids = pop.loan_id[(world.overdue > 0) & (rng.random(pop.size) < 0.33)]
        purpose = rng.choice(["remind", "demand", "educate"], ids.size)
        delivered = pl.DataFrame({"loan_id": ids, "channel": "sms", "purpose": purpose})
        events = world.step(day, delivered)
        payments.append(
            events.filter(pl.col("event") == "pay").select(
                "loan_id", pl.lit(day).alias("paid_on"), "amount"
            )
        )
        contacts.append(
            delivered.select(
                "loan_id",
                pl.lit(day).alias("day"),
                "channel",
                pl.lit("debtor").alias("party"),
                pl.lit("delivered").alias("outcome"),
                pl.col("purpose")
                .replace_strict(
                    {"remind": "reminder", "demand": "firm_notice", "educate": "education"}
                )
                .alias("tone"),
            )
        )
        day = world.today
    return History(
        start=START,
        end=START + timedelta(days=DAYS - 1),
        behind=behind,
        payments=pl.concat(payments),
        contacts=pl.concat(contacts),
        promises=pl.DataFrame(schema={"loan_id": pl.Int64, "status": pl.String, "tier": pl.String}),
        complaints=0,
    )


@pytest.fixture(scope="module")
def history() -> History:
    return _history(seed=21)


def test_the_fit_recovers_the_signs_of_planted_effects(history: History) -> None:
    panel = build_panel(history, WINDOW)
    assert panel.height > 5000
    estimates, _notes = fit_panel(panel, WINDOW)
    by_name = {e.name: e for e in estimates}
    reminder = by_name["effect.tone.reminder"]
    firm = by_name["effect.tone.firm_notice"]
    education = by_name["effect.tone.education"]
    assert reminder.value > 2 * reminder.se  # planted +0.9: clearly positive
    assert firm.value < -2 * firm.se  # planted -0.6: clearly negative
    assert abs(education.value) < 3 * education.se + 0.15  # planted 0: near zero
    assert reminder.value > education.value > firm.value
    # the early band's hazard comes out a probability, near the planted daily one
    assert 0.0 < by_name["pay.dpd_1_7"].value < 1.0


def test_apply_writes_calibrated_sources_and_ranges_holding_the_value(history: History) -> None:
    estimates, _ = fit_panel(build_panel(history, WINDOW), WINDOW)
    params = apply(load_parameters(), estimates, "sqlite:test.db, 2026-09-01..2026-10-10")
    for e in estimates:
        entry = params.entries[e.name]
        assert entry.source.startswith("calibrated (sqlite:test.db, 2026-09-01..2026-10-10, n=")
        assert entry.low <= entry.value <= entry.high
    untouched = params.entries["complaint.tone.firm_notice"]
    assert untouched.source.startswith("assumption:")


def test_too_little_history_fits_nothing_and_says_so() -> None:
    tiny = History(
        start=START,
        end=START + timedelta(days=10),
        behind=pl.DataFrame(
            {"loan_id": [1], "borrower_id": [1], "dpd": [5], "overdue": [1000], "tier": ["C"]}
        ),
        payments=pl.DataFrame(schema={"loan_id": pl.Int64, "paid_on": pl.Date, "amount": pl.Int64}),
        contacts=pl.DataFrame(
            schema={
                "loan_id": pl.Int64,
                "day": pl.Date,
                "channel": pl.String,
                "party": pl.String,
                "outcome": pl.String,
                "tone": pl.String,
            }
        ),
        promises=pl.DataFrame(schema={"loan_id": pl.Int64, "status": pl.String, "tier": pl.String}),
        complaints=0,
    )
    estimates, notes = fit_panel(build_panel(tiny, WINDOW), WINDOW)
    assert estimates == []
    assert "too few" in notes[0]
    assert simple_rates(tiny) == []


def test_tone_of_a_template() -> None:
    purposes = {"CN.M1.REMIND.SMS": "remind", "CN.M3.CALL": "demand"}
    assert tone_of_template("CN.M1.REMIND.SMS", purposes) == "reminder"
    assert tone_of_template("CN.M3.CALL", purposes) == "firm_notice"
    assert tone_of_template("X.EDU.SAVE", purposes) == "education"
    assert tone_of_template("X.PLAN.OFFER", purposes) == "plan_offer"
    assert tone_of_template("X.LEGAL.NOTICE", purposes) == "legal_review"
    assert tone_of_template(None, purposes) == "reminder"


def test_the_logistic_fit_solves_the_likelihood_equations_and_finds_the_truth() -> None:
    from forbear.sim.borrowers.calibrate import logistic_fit

    rng = np.random.default_rng(4)
    n = 20_000
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 3, n)])
    truth = np.array([-1.0, 0.7, -0.4])
    y = (rng.random(n) < 1 / (1 + np.exp(-(x @ truth)))).astype(float)
    fitted = logistic_fit(x, y)
    assert fitted is not None
    beta, se = fitted
    p = 1 / (1 + np.exp(-(x @ beta)))
    np.testing.assert_allclose(x.T @ (y - p), 0.0, atol=1e-6)  # the score vanishes
    assert np.all(np.abs(beta - truth) < 4 * se)
    assert np.all((se > 0.005) & (se < 0.05))


def test_separated_data_does_not_fit() -> None:
    from forbear.sim.borrowers.calibrate import logistic_fit

    x = np.column_stack([np.ones(100), np.arange(100.0)])
    assert logistic_fit(x, (np.arange(100) > 50).astype(float)) is None
