"""CN.ASSISTANT.QUIET_DEMAND / US.ASSISTANT.QUIET_DEMAND: the pure rule, its pack entries and
the lender's tightening (issue 14, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from forbear.domain.compliance.assistant import demands_payment, is_quiet, may_send
from forbear.domain.compliance.config import compile_config, default_rules, load_pack, parse_lender
from forbear.domain.errors import ConfigurationError

SH = "Asia/Shanghai"


def at_local(hour: int, minute: int = 0) -> datetime:
    # Asia/Shanghai is UTC+8 all year
    return datetime(2026, 12, 10, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    "text",
    [
        "请尽快还款。",
        "请 于 今天 还清欠款",
        "今天必须还清！",
        "马上处理欠款",
        "赶紧还钱吧",
        "Please pay the overdue amount today.",
        "You must settle this now.",
        "pay now",
        "請儘快還款",
    ],
)
def test_demands_are_recognised(text: str) -> None:
    assert demands_payment(text)


@pytest.mark.parametrize(
    "text",
    [
        "您承诺在 2026年12月11日（星期五）还款 ¥2,000.00，对吗？",
        "请问您打算哪天还款？",
        "您目前逾期应还 ¥1,200.00，下一期 2026年12月15日 应还 ¥500.00。",
        "还款方式：银行转账、支付宝。",
        "Your next instalment of ¥500.00 is due on 15 December 2026.",
        "You promised to pay ¥2,000.00 on Friday 11 December 2026, is that right?",
        "",
    ],
)
def test_answers_and_read_backs_are_not_demands(text: str) -> None:
    assert not demands_payment(text)


def test_quiet_period_is_the_narrower_of_the_rule_and_the_lenders_quiet_hours() -> None:
    rules = default_rules()  # the default lender tightens CN.HOURS.QUIET to 21:00
    assert not is_quiet(rules, at_local(20, 59), SH)
    assert is_quiet(rules, at_local(21, 30), SH)  # the lender's 21:00 applies to the assistant
    assert is_quiet(rules, at_local(7, 59), SH)
    assert not is_quiet(rules, at_local(8, 0), SH)
    bare = compile_config(load_pack("CN"), parse_lender("pack: CN"))
    assert not is_quiet(bare, at_local(21, 30), SH) and is_quiet(bare, at_local(22, 0), SH)


def test_a_reply_may_go_at_night_a_demand_or_a_first_message_may_not() -> None:
    rules = default_rules()
    night = at_local(23, 30)
    wrote = night - timedelta(seconds=2)
    ok = may_send("好的，已为您记录。", rules=rules, at=night, timezone=SH, borrower_wrote_at=wrote)
    assert ok.allowed and ok.quiet
    demand = may_send("请尽快还款", rules=rules, at=night, timezone=SH, borrower_wrote_at=wrote)
    assert not demand.allowed and demand.reason == "demand"
    assert demand.rule_id == "CN.ASSISTANT.QUIET_DEMAND"
    first = may_send("您好", rules=rules, at=night, timezone=SH, borrower_wrote_at=None)
    assert not first.allowed and first.reason == "not_a_reply"
    late = may_send(
        "您好", rules=rules, at=night, timezone=SH, borrower_wrote_at=night - timedelta(minutes=11)
    )
    assert not late.allowed and late.reason == "not_a_reply"
    day = may_send("请尽快还款", rules=rules, at=at_local(10), timezone=SH, borrower_wrote_at=None)
    assert day.allowed and not day.quiet


def test_us_pack_has_its_equivalent() -> None:
    rules = default_rules("US")
    ny = "America/New_York"
    night = datetime(2026, 12, 10, 3, 30, tzinfo=UTC)  # 22:30 in New York
    assert is_quiet(rules, night, ny)
    refused = may_send(
        "Please pay now.", rules=rules, at=night, timezone=ny, borrower_wrote_at=night
    )
    assert refused.rule_id == "US.ASSISTANT.QUIET_DEMAND" and refused.reason == "demand"


def test_a_lender_may_tighten_the_rule_never_loosen_it() -> None:
    tight = compile_config(
        load_pack("CN"),
        parse_lender(
            "pack: CN\noverrides:\n  CN.ASSISTANT.QUIET_DEMAND:"
            " {start: '09:00', reply_within_minutes: 5}"
        ),
    )
    rule = tight.rule("CN.ASSISTANT.QUIET_DEMAND")
    assert str(rule.params["windows"][0]) == "09:00-22:00"
    assert rule.params["reply_within_minutes"] == 5
    assert is_quiet(tight, at_local(8, 30), SH)
    for loosen, match in [
        ("{end: '23:00'}", "later than the pack"),
        ("{reply_within_minutes: 60}", "may only tighten"),
        ("{enabled: false}", "would switch off"),
    ]:
        with pytest.raises(ConfigurationError, match=match):
            compile_config(
                load_pack("CN"),
                parse_lender(f"pack: CN\noverrides:\n  CN.ASSISTANT.QUIET_DEMAND: {loosen}"),
            )
