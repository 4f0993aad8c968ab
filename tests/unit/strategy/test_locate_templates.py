"""The shipped location templates (issue 17, item 3): the default strategy's location
step names templates for a third party that say nothing of the debt (CN.3P.NO_DISCLOSE),
and the step is only for unreachable debtors with an emergency contact."""

from __future__ import annotations

from forbear.domain.compliance.content import check_template, check_text
from forbear.domain.strategy import compile_strategy, default_strategy
from forbear.domain.strategy.schema import Purpose
from forbear.services import templates


def _locate_codes() -> set[str]:
    spec = default_strategy().spec
    return {a.template for t in spec.treatments for a in t.actions if a.purpose is Purpose.LOCATE}


def test_the_default_strategy_locates_by_call_and_text_with_third_party_templates() -> None:
    library = {e["code"]: e for e in templates.library()}
    codes = _locate_codes()
    assert codes == {"CN.LOCATE.CALL", "CN.LOCATE.SMS"}
    for code in codes:
        entry = library[code]
        assert entry["audience"] == "third_party", code
        # saved (check_template) and judged at the moment of contact (check_text)
        assert check_template(entry["body"], lang="zh", audience="third_party") == [], code
        assert check_text(entry["body"], lang="zh", audience="third_party") == [], code
        for word in ("欠款", "逾期", "还款", "金额", "{amount}", "{product}", "{due_date}"):
            assert word not in entry["body"], (code, word)


def test_only_unreachable_debtors_with_an_emergency_contact_enter_the_location_segment() -> None:
    strategy = default_strategy()
    compiled = compile_strategy(strategy)
    assert compiled.reads_locate
    (segment,) = [s for s in strategy.spec.segments if s.treatment == "locate_emergency"]
    text = str(segment.when)
    assert "debtor_unreachable" in text and "emergency_contact" in text
