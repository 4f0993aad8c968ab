"""Case stages move forward only; every refusal says why."""

from __future__ import annotations

from datetime import date

import pytest

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.legal.lifecycle import ORDER, Stage, check_move, cost_kind, stage

DAY = date(2026, 11, 27)


def move(current: Stage, target: Stage, **kw: object) -> None:
    args: dict[str, object] = {"on": DAY, "last_on": DAY} | kw
    check_move(7, current, target, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("i", "j"), [(i, j) for i in range(5) for j in range(5) if j > i])
def test_every_forward_move_is_allowed(i: int, j: int) -> None:
    extra = {"court": "某区人民法院", "case_number": "(2026)沪0115民初1号"}
    move(ORDER[i], ORDER[j], **(extra if ORDER[j] is Stage.FILED else {}))


@pytest.mark.parametrize(("i", "j"), [(i, j) for i in range(5) for j in range(5) if j < i])
def test_a_backwards_move_is_refused_with_the_reason(i: int, j: int) -> None:
    with pytest.raises(Conflict, match=f"case 7 is at '{ORDER[i].value}': it cannot move back"):
        move(ORDER[i], ORDER[j])


def test_ended_cases_and_repeated_stages_are_refused() -> None:
    for final in (Stage.SETTLED, Stage.CLOSED):
        with pytest.raises(Conflict, match="the case has ended"):
            move(final, Stage.ENFORCEMENT)
    with pytest.raises(Conflict, match="already"):
        move(Stage.FILED, Stage.FILED)


def test_settling_needs_a_demand_and_closing_a_reason() -> None:
    with pytest.raises(Conflict, match="settles after a demand"):
        move(Stage.REVIEW, Stage.SETTLED)
    move(Stage.DEMAND_LETTER, Stage.SETTLED)
    with pytest.raises(ValidationError, match="reason"):
        move(Stage.REVIEW, Stage.CLOSED, reason="  ")
    move(Stage.REVIEW, Stage.CLOSED, reason="paid in full")


def test_filing_needs_court_and_case_number_and_dates_do_not_go_back() -> None:
    with pytest.raises(ValidationError, match="court"):
        move(Stage.DEMAND_LETTER, Stage.FILED, case_number="(2026)1号")
    with pytest.raises(ValidationError, match="case_number"):
        move(Stage.DEMAND_LETTER, Stage.FILED, court="某区人民法院")
    move(Stage.DEMAND_LETTER, Stage.FILED, known_court="某区人民法院", case_number="(2026)1号")
    with pytest.raises(ValidationError, match="before the current stage's date"):
        move(Stage.REVIEW, Stage.DEMAND_LETTER, on=date(2026, 11, 1))
    with pytest.raises(ValidationError, match="case number is given when the case is filed"):
        move(Stage.REVIEW, Stage.DEMAND_LETTER, case_number="(2026)1号")


def test_vocabularies_refuse_unknown_values_listing_the_known_ones() -> None:
    assert stage("filed") is Stage.FILED
    with pytest.raises(ValidationError, match=r"unknown stage 'appeal'.*review, demand_letter"):
        stage("appeal")
    with pytest.raises(ValidationError, match=r"unknown cost kind 'bribe'.*court_fee"):
        cost_kind("bribe")
