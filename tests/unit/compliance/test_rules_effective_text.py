"""A rule's text tells its effective parameters (issue 15, item 9: CN.HOURS.QUIET's text
said 22:00-08:00 while the lender's parameter allowed contact 08:00-21:00)."""

from __future__ import annotations

import re

import pytest

from forbear.domain.compliance.config import compile_config, default_rules, load_pack, parse_lender
from forbear.domain.compliance.config.wording import WINDOWED, quiet_span

TIME = re.compile(r"\d{1,2}:\d{2}")


def test_the_default_lender_reads_its_own_quiet_hours() -> None:
    rules = default_rules("CN")
    quiet = rules.rule("CN.HOURS.QUIET")
    assert [str(w) for w in quiet.params["windows"]] == ["08:00-21:00"]
    assert "21:00至次日08:00" in quiet.zh and "22:00" not in quiet.zh
    assert "21:00-08:00" in quiet.en
    # the assistant's rule is judged in the narrower window, and says so
    assistant = rules.rule("CN.ASSISTANT.QUIET_DEMAND")
    assert "21:00至次日08:00" in assistant.zh


def test_a_tightened_lender_sees_its_hours_and_caps() -> None:
    rules = compile_config(
        load_pack("CN"),
        parse_lender(
            "pack: CN\noverrides:\n"
            "  CN.HOURS.QUIET: {start: '09:00', end: '20:00'}\n"
            "  CN.FREQ.UNANSWERED: {max_attempts: 4}\n"
            "  CN.LIMITATION: {years: 2}\n"
        ),
    )
    quiet = rules.rule("CN.HOURS.QUIET")
    assert "20:00至次日09:00" in quiet.zh and "20:00-09:00" in quiet.en
    capped = rules.rule("CN.FREQ.UNANSWERED")
    assert "不超过4次" in capped.zh and "At most 4" in capped.en
    assert "6" not in capped.zh
    limitation = rules.rule("CN.LIMITATION")
    assert "诉讼时效2年" in limitation.zh


def test_a_number_named_twice_gets_a_note_instead_of_a_guess() -> None:
    rules = compile_config(
        load_pack("US"),
        parse_lender("pack: US\noverrides:\n  US.REGF.7IN7: {max_attempts: 5}\n"),
    )
    rule = rules.rule("US.REGF.7IN7")
    assert rule.zh.endswith("（本机构设定：次数上限 5 次）"), rule.zh
    assert rule.en.endswith("(this lender: at most 5 attempts)"), rule.en


@pytest.mark.parametrize("pack", ["CN", "US"])
def test_every_windowed_rule_names_only_its_effective_quiet_period(pack: str) -> None:
    for lender in (f"pack: {pack}", None):
        rules = (
            default_rules(pack)
            if lender is None
            else compile_config(load_pack(pack), parse_lender(lender))
        )
        for rule in rules.rules:
            if rule.kind not in WINDOWED:
                continue
            quiet_from, quiet_to = quiet_span(rule.params["windows"])
            if rule.kind == "assistant_quiet_demand":
                hours = next(r for r in rules.rules if r.kind == "quiet_hours")
                quiet_from = min(quiet_from, quiet_span(hours.params["windows"])[0])
            for text in (rule.zh, rule.en):
                assert set(TIME.findall(text)) <= {quiet_from, quiet_to}, (rule.id, text)
