"""A contact's purpose and the third-party rules (issue 17, item 3; REGULATIONS.md CN.3P.*):
pure, on the gate's frames.

``locate`` to an emergency contact is no demand and, with the no-disclosure script, says
nothing of the debt: the pack's lost-contact gate decides it. ``collect`` to a third party
stays blocked. A refusal blocks that point until a hold on it is released. Every
third-party answer is explained in words with its rule ids, in Chinese and English.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from factories_compliance import (
    flags,
    history,
    holds,
    make_attempt,
    make_contact,
    make_flags,
    make_hold,
    planned,
    utc,
)

from forbear.domain.compliance.config import default_rules
from forbear.domain.compliance.content import check_text
from forbear.domain.compliance.gate import explain, gate
from forbear.domain.compliance.gate.third_party import (
    planned_flags,
    purpose_of,
    third_party_lines,
)
from forbear.domain.compliance.schema import Party, Purpose
from forbear.domain.errors import ValidationError
from forbear.domain.scripts import Situation, locate_script, suggest

CN = default_rules("CN")
US = default_rules("US")
AT = utc(2026, 3, 2, 2)  # Monday 10:00 in Shanghai
POINT = 2000


def locate_row(purpose: Purpose = Purpose.LOCATE, script: bool = True, **o: Any) -> dict[str, Any]:
    demand, disclose = planned_flags(
        purpose, Party.EMERGENCY_CONTACT, discloses_debt=False, no_disclosure_script=script
    )
    return make_contact(
        party="emergency_contact",
        contact_point_id=POINT,
        provenance="supplied_by_debtor",
        is_demand=demand,
        discloses_debt=disclose,
        **o,
    )


def decide(
    contact: dict[str, Any],
    attempts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    flag_rows: list[dict[str, Any]] | None = None,
    hold_rows: list[dict[str, Any]] = (),  # type: ignore[assignment]
    rules: Any = CN,
) -> dict[str, Any]:
    out = gate(
        planned([contact]),
        history(list(attempts)),
        flags(flag_rows if flag_rows is not None else [make_flags()]),
        holds(list(hold_rows)),
        rules,
    ).collect()
    return out.to_dicts()[0]


UNREACHABLE = [make_flags(debtor_unreachable_since=utc(2026, 3, 1))]


def failed_dials(day: int) -> list[dict[str, Any]]:
    return [make_attempt(at=utc(2026, 3, day, 1, 5 * i), outcome="no_answer") for i in range(3)]


# --- the purpose --------------------------------------------------------------------------


def test_a_purpose_is_collect_by_default_and_anything_else_is_refused_naming_the_field() -> None:
    assert purpose_of(None) is Purpose.COLLECT
    assert purpose_of(" Locate ") is Purpose.LOCATE
    with pytest.raises(ValidationError) as caught:
        purpose_of("find")
    assert caught.value.field == "purpose" and "collect, locate" in str(caught.value)


def test_locate_is_no_demand_and_discloses_only_without_the_script() -> None:
    third = Party.EMERGENCY_CONTACT
    assert planned_flags(
        Purpose.COLLECT, third, discloses_debt=False, no_disclosure_script=True
    ) == (True, False)
    assert planned_flags(
        Purpose.LOCATE, third, discloses_debt=False, no_disclosure_script=True
    ) == (False, False)
    assert planned_flags(
        Purpose.LOCATE, third, discloses_debt=False, no_disclosure_script=False
    ) == (False, True)
    for party in (Party.DEBTOR, Party.GUARANTOR, Party.DEBT_RELATED):
        with pytest.raises(ValidationError, match="locate is for an emergency contact"):
            planned_flags(Purpose.LOCATE, party, discloses_debt=False, no_disclosure_script=True)


# --- the gate -----------------------------------------------------------------------------


def test_locate_waits_for_the_lost_contact_gate_and_then_passes() -> None:
    before = decide(locate_row(at=AT))
    assert before["blocked_by"] == ["CN.3P.LOST_CONTACT_GATE"]
    # three failed dials today: open from the next day (time lifts it)
    today = decide(locate_row(at=AT + timedelta(hours=1)), attempts=failed_dials(2))
    assert today["blocked_by"] == ["CN.3P.LOST_CONTACT_GATE"]
    assert today["earliest_allowed_at"] == utc(2026, 3, 3, 0)  # 08:00 the next day
    tomorrow = decide(locate_row(at=utc(2026, 3, 3, 2)), attempts=failed_dials(2))
    assert tomorrow["allowed"], tomorrow["blocked_by"]
    flagged = decide(locate_row(at=AT), flag_rows=UNREACHABLE)
    assert flagged["allowed"], flagged["blocked_by"]


def test_collect_to_a_third_party_and_locate_without_the_script_stay_blocked() -> None:
    collect = decide(locate_row(Purpose.COLLECT, at=AT), flag_rows=UNREACHABLE)
    assert collect["blocked_by"] == ["CN.3P.NO_UNRELATED"]
    unscripted = decide(locate_row(script=False, at=AT), flag_rows=UNREACHABLE)
    assert unscripted["blocked_by"] == ["CN.3P.NO_DISCLOSE"]


def test_a_refusal_blocks_that_point_until_a_hold_on_it_is_released() -> None:
    refused = [
        make_attempt(
            party="emergency_contact",
            contact_point_id=POINT,
            at=utc(2026, 3, 1, 2),
            outcome="refused",
        )
    ]
    hold = make_hold(
        kind="do_not_contact", contact_point_id=POINT, since=utc(2026, 3, 1, 2), until=None
    )
    held = decide(locate_row(at=AT), refused, UNREACHABLE, [hold])
    assert "CN.3P.REFUSAL" in held["blocked_by"] and held["earliest_allowed_at"] is None
    released = {**hold, "until": utc(2026, 3, 1, 6)}
    assert decide(locate_row(at=AT), refused, UNREACHABLE, [released])["allowed"]
    # refused again after the release: blocked again
    again = [*refused, {**refused[0], "at": utc(2026, 3, 1, 8)}]
    assert (
        "CN.3P.REFUSAL" in decide(locate_row(at=AT), again, UNREACHABLE, [released])["blocked_by"]
    )
    # without any hold, the refusal in the history still blocks (unknown is unsafe)
    assert "CN.3P.REFUSAL" in decide(locate_row(at=AT), refused, UNREACHABLE)["blocked_by"]
    # the debtor's own number is not touched by a third party's refusal
    own = decide(make_contact(at=AT), refused, UNREACHABLE, [hold])
    assert own["allowed"], own["blocked_by"]


def test_location_calls_count_against_the_debtors_daily_caps() -> None:
    pending = [
        make_attempt(
            party="emergency_contact",
            contact_point_id=POINT,
            at=AT - timedelta(minutes=m),
            outcome=None,
        )
        for m in (30, 20, 10)
    ]
    fourth = decide(locate_row(at=AT), pending, UNREACHABLE)
    assert fourth["blocked_by"] == ["CN.FREQ.CONNECTED"]


# --- the words ----------------------------------------------------------------------------


def test_every_third_party_answer_is_explained_with_its_rule_ids_in_both_languages() -> None:
    allowed = decide(locate_row(at=AT), flag_rows=UNREACHABLE)
    for lang in ("zh", "en"):
        words = "\n".join(explain(allowed, CN, lang))  # type: ignore[arg-type]
        for rid in (
            "CN.3P.LOST_CONTACT_GATE",
            "CN.3P.NO_DISCLOSE",
            "CN.3P.NO_UNRELATED",
            "CN.3P.REFUSAL",
        ):
            assert rid in words, (lang, rid)
    assert "寻址联系（不谈债务）" in "\n".join(explain(allowed, CN, "zh"))
    blocked = decide(locate_row(at=AT))
    zh = explain(blocked, CN, "zh")
    assert "债务人尚未失联" in "\n".join(zh) and zh[-1].startswith("时间推移不会解除")
    collect = decide(locate_row(Purpose.COLLECT, at=AT), flag_rows=UNREACHABLE)
    assert "choose a location contact" in "\n".join(explain(collect, CN, "en"))


def test_no_third_party_words_for_the_debtor_and_one_under_a_pack_without_third_party_rules() -> (
    None
):
    assert third_party_lines(decide(make_contact(at=AT)), CN, "zh") == []
    # the US pack has no third-party rule: the engine fails closed (US.3P.UNDEFINED) and
    # says so, rather than letting the contact through in silence
    us = decide(locate_row(at=AT), rules=US)
    assert us["blocked_by"] == ["US.3P.UNDEFINED"]
    (line,) = third_party_lines(us, US, "en")
    assert "defines no third-party rule" in line and "US.3P.UNDEFINED" in line
    # the generic explanation does not call the engine's own id "not a rule of pack US"
    from forbear.domain.compliance.explain import explain

    for lang in ("en", "zh"):
        assert not any("US.3P.UNDEFINED" in x for x in explain(us, US, lang)), lang  # type: ignore[arg-type]


def test_the_location_script_discloses_nothing_and_is_never_suggested_to_the_debtor() -> None:
    lines = locate_script()
    assert lines, "the location script ships with the scripts"
    for line in lines:
        assert check_text(line.zh, lang="zh", audience="third_party") == [], line.id
        assert check_text(line.en, lang="en", audience="third_party") == [], line.id
    ids = {line.id for line in lines}
    for situation in (Situation(), Situation(bucket="M3", broken_promises_90d=2)):
        assert not ids & {line.id for line in suggest(situation)}
