"""The simulated world's bookkeeping and its response to contacts."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forbear.batch import kernel
from forbear.batch.engines import CONTACT_HOUR
from forbear.domain.strategy import compile_strategy, default_strategy
from forbear.services.lender import rules_in_force
from forbear.sim.borrowers import EVENTS, Parameters, Population, World, load_parameters

START = date(2026, 12, 1)
NO_PAY = {
    "pay.dpd_1_7": 0.0,
    "pay.dpd_8_30": 0.0,
    "pay.dpd_31_60": 0.0,
    "pay.dpd_61_90": 0.0,
    "pay.dpd_91_plus": 0.0,
    **{f"miss.{t}": 0.0 for t in "ABCDE"},
}


@pytest.fixture(scope="module")
def params() -> Parameters:
    return load_parameters()


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.synthetic(400, seed=3)


def _nothing() -> pl.DataFrame:
    return pl.DataFrame(schema={"loan_id": pl.Int64, "channel": pl.String})


def _contacts(pop: Population, channel: str, purpose: str, times: int = 1) -> pl.DataFrame:
    behind = pop.loan_id[pop.overdue > 0]
    return pl.DataFrame(
        {
            "loan_id": np.repeat(behind, times),
            "channel": channel,
            "purpose": purpose,
            "party": "debtor",
        }
    )


def test_money_is_conserved_and_only_pay_events_carry_it(
    params: Parameters, population: Population
) -> None:
    world = World(params, population, START, seed=1)
    paid = 0
    day = START
    for _ in range(20):
        world.frames(day)
        events = world.step(day, _contacts(population, "sms", "remind"))
        assert events.schema == pl.Schema(EVENTS)
        paid += int(events.filter(pl.col("event") == "pay")["amount"].sum())
        day = world.today
    t = world.totals()
    assert paid == t["recovered"] > 0
    assert t["balance_start"] - t["balance_end"] == t["recovered"] + t["scheduled_paid"]
    assert (world.overdue >= 0).all() and (world.balance >= world.overdue).all()


def test_days_past_due_move_on_when_nobody_pays(params: Parameters, population: Population) -> None:
    world = World(params.with_values(NO_PAY), population, START, seed=1)
    before = world.frames(START).accounts
    world.step(START, _nothing())
    after = world.frames(START + timedelta(days=1)).accounts
    joined = before.join(after, on="loan_id", suffix="_next")
    behind = joined.filter(pl.col("overdue_total") > 0)
    assert behind.height > 0
    assert (behind["dpd_next"] == behind["dpd"] + 1).all()
    current = joined.filter((pl.col("overdue_total") == 0) & (pl.col("days_to_due") > 0))
    assert (current["dpd_next"] == 0).all()
    assert (after["as_of"] == START + timedelta(days=1)).all()


def test_a_cured_loan_leaves_arrears(params: Parameters, population: Population) -> None:
    certain = params.with_values(
        {
            "pay.dpd_1_7": 1.0,
            "pay.dpd_8_30": 1.0,
            "pay.dpd_31_60": 1.0,
            "pay.dpd_61_90": 1.0,
            "pay.dpd_91_plus": 1.0,
            "pay.full_share": 1.0,
            "promise.base": 0.0,
            "plan.accept": 0.0,
        }
    )
    world = World(certain, population, START, seed=2)
    behind = int((population.overdue > 0).sum())
    events = world.step(START, _nothing())
    accounts = world.frames(START + timedelta(days=1)).accounts
    assert events.filter(pl.col("event") == "pay").height >= behind
    assert world.totals()["cured"] == behind
    was_behind = accounts.filter(
        pl.col("loan_id").is_in(population.loan_id[population.overdue > 0])
    )
    # none is behind any more, unless an instalment fell due (and was missed) the same day
    assert (was_behind.filter(pl.col("overdue_total") == 0)["bucket"] == "C").all()
    assert was_behind.filter(pl.col("overdue_total") == 0).height >= behind * 0.9


def _complaints(params: Parameters, pop: Population, deliver: pl.DataFrame, seeds: int) -> float:
    total = 0.0
    for seed in range(seeds):
        world = World(params, pop, START, seed=seed)
        day = START
        for _ in range(5):
            world.step(day, deliver)
            day = world.today
        total += world.totals()["complaints"]
    return total / seeds


def test_harsh_frequent_contact_raises_complaints(
    params: Parameters, population: Population
) -> None:
    gentle = _contacts(population, "sms", "remind", times=1)
    harsh = _contacts(population, "call", "demand", times=3)
    p = params.with_values({"complaint.base": 0.003})
    assert _complaints(p, population, harsh, 4) > 2 * _complaints(p, population, gentle, 4)


def test_harsh_contact_raises_stop_answering_and_opt_outs(
    params: Parameters, population: Population
) -> None:
    def run(deliver: pl.DataFrame) -> dict[str, float]:
        world = World(params, population, START, seed=5)
        day = START
        for _ in range(7):
            world.step(day, deliver)
            day = world.today
        return world.totals()

    gentle = run(_contacts(population, "sms", "remind", times=1))
    harsh = run(_contacts(population, "sms", "demand", times=4))
    assert harsh["stopped_answering"] > gentle["stopped_answering"]
    assert harsh["opt_outs"] > gentle["opt_outs"]


def test_contacts_raise_recovery_when_the_parameters_say_they_help(
    params: Parameters, population: Population
) -> None:
    def recovered(deliver: pl.DataFrame) -> float:
        out = 0.0
        for seed in range(3):
            world = World(params, population, START, seed=seed)
            day = START
            for _ in range(10):
                world.step(day, deliver)
                day = world.today
            out += world.totals()["recovered"]
        return out

    assert recovered(_contacts(population, "call", "remind")) > recovered(_nothing())


def test_the_kernel_accepts_the_frames_and_the_gate_sees_the_simulated_history(
    params: Parameters, population: Population
) -> None:
    rules = rules_in_force(None, None)
    compiled = compile_strategy(default_strategy())
    world = World(params.with_values({"opt_out.base": 0.2}), population, START, seed=4)
    day = START
    sent = 0
    for _ in range(3):
        decided = kernel.decide(world.frames(day), compiled, rules, day, CONTACT_HOUR)
        assert decided.assigned.height == population.size
        delivered = decided.gated.filter(pl.col("allowed").fill_null(True)).with_columns(
            party=pl.lit("debtor")
        )
        sent += delivered.filter(pl.col("channel") != "legal_review").height
        world.step(day, delivered)
        day = world.today
    frames = world.frames(day)
    assert frames.history.height == sent > 0
    assert set(frames.history["outcome"].unique()) <= {"connected", "no_answer", "delivered"}
    opt_outs = frames.holds.filter(pl.col("kind") == "opt_out")
    assert opt_outs.height == world.totals()["opt_outs"] > 0
    assert opt_outs["channel"].null_count() == 0


def test_the_calendar_and_bad_delivered_rows_are_refused(
    params: Parameters, population: Population
) -> None:
    world = World(params, population, START, seed=1)
    with pytest.raises(ValueError, match="is at"):
        world.frames(START + timedelta(days=1))
    with pytest.raises(ValueError, match="not in the population"):
        world.step(START, pl.DataFrame({"loan_id": [10**9], "channel": ["sms"]}))
    with pytest.raises(ValueError, match="unknown channel"):
        world.step(START, pl.DataFrame({"loan_id": [1], "channel": ["pigeon"]}))
    assert world.today == START  # nothing was played


def test_same_seed_same_world(params: Parameters, population: Population) -> None:
    def run(seed: int) -> dict[str, float]:
        world = World(params, population, START, seed=seed)
        day = START
        for _ in range(5):
            world.step(day, _contacts(population, "call", "remind"))
            day = world.today
        return world.totals()

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_opt_outs_and_complaints_bite_in_the_kernel(params: Parameters) -> None:
    """An opt-out makes the gate block that medium; a complaint puts the borrower on hold
    (the strategy's on_hold segment: no work) until the hold ends."""
    pop = Population.synthetic(300, seed=8, overdue_share=0.9)
    rules = rules_in_force(None, None)
    compiled = compile_strategy(default_strategy())
    noisy = params.with_values({"opt_out.base": 0.5, "complaint.base": 0.05})
    world = World(noisy, pop, START, seed=2)
    behind = pop.loan_id[pop.overdue > 0]
    world.step(START, pl.DataFrame({"loan_id": behind, "channel": "sms", "purpose": "remind"}))
    day = world.today
    frames = world.frames(day)
    opted = set(frames.holds.filter(pl.col("kind") == "opt_out")["borrower_id"].to_list())
    complained = set(frames.holds.filter(pl.col("kind") == "complaint")["borrower_id"].to_list())
    assert opted and complained
    on_hold = frames.accounts.filter(pl.col("borrower_id").is_in(list(complained)))
    assert on_hold["hold_any"].all()
    decided = kernel.decide(frames, compiled, rules, day, CONTACT_HOUR)
    assert (
        decided.assigned.filter(pl.col("borrower_id").is_in(list(complained)))["segment"]
        == "on_hold"
    ).all()
    sms = decided.gated.filter(
        (pl.col("channel") == "sms") & pl.col("borrower_id").is_in(list(opted - complained))
    )
    assert sms.height > 0 and not sms["allowed"].any()
    # the complaint hold ends after complaint.hold_days
    for _ in range(int(noisy["complaint.hold_days"]) + 1):
        world.step(world.today, pl.DataFrame(schema={"loan_id": pl.Int64, "channel": pl.String}))
    later = world.frames(world.today).accounts
    assert not later.filter(pl.col("borrower_id").is_in(list(complained - opted)))["hold_any"].any()


def test_a_book_with_unscored_accounts_first_makes_a_world(
    params: Parameters, population: Population
) -> None:
    """A book read from the database: tiers are an object array of strings and Nones, a
    None first (a typed Series cannot take such an array as it is)."""
    from dataclasses import replace

    n = len(population.loan_id)
    mixed = np.array([None if i % 3 == 0 else "D" for i in range(n)], dtype=object)
    unscored = replace(population, tier=mixed, ew_tier=mixed.copy())
    world = World(params, unscored, date(2026, 6, 15), seed=1)
    accounts = world.frames(world.today).accounts.sort("loan_id")
    expected = (n + 2) // 3
    assert accounts["behaviour_tier"].null_count() == expected
    assert accounts["ew_tier"].null_count() == expected
