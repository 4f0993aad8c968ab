"""Amounts, days and digit groups in a message (forbear.assistant.nlu.entities)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forbear.assistant.nlu.entities import ASK_PAYDAY, extract, parse_chinese_number
from forbear.assistant.nlu.normalise import normalise

MONDAY = date(2026, 12, 7)


def amounts(text: str, today: date = MONDAY) -> list[int]:
    return [a.fen for a in extract(normalise(text), today)[0]]


def days(text: str, today: date = MONDAY) -> list[date | None]:
    return [d.on for d in extract(normalise(text), today)[1]]


def digits(text: str, today: date = MONDAY) -> list[str]:
    return list(extract(normalise(text), today)[2])


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("¥1,200.50", 120050),
        ("￥１２００", 120000),
        ("1200元", 120000),
        ("一千二", 120000),
        ("一千二百五", 125000),
        ("两千块", 200000),
        ("2千", 200000),
        ("1.2k", 120000),
        ("1.2万", 1200000),
        ("1,200 yuan", 120000),
        ("RMB 500", 50000),
        ("五百块钱", 50000),
        ("三块五", 350),
        ("我下周还一万五", 1500000),
        ("I can pay 500 tomorrow", 50000),
        ("先還１０００元吧", 100000),
    ],
)
def test_amounts_are_read_in_fen(text: str, fen: int) -> None:
    assert amounts(text) == [fen]


@pytest.mark.parametrize(
    "text",
    [
        "15号",
        "身份证后四位是1234",
        "my number is 13812345678",
        "3天后",
        "下午3点",
        "我有3个孩子",
        "my id ends with 4321",
        "1234",
    ],
)
def test_numbers_that_are_not_money_are_not_amounts(text: str) -> None:
    assert amounts(text) == []


def test_a_promise_gives_its_amount_and_its_day() -> None:
    found_amounts, found_days, found_digits = extract(normalise("我15号还2000"), MONDAY)
    assert [a.fen for a in found_amounts] == [200000]
    assert [d.on for d in found_days] == [date(2026, 12, 15)]
    assert found_digits == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今天", MONDAY),
        ("明天", date(2026, 12, 8)),
        ("后天", date(2026, 12, 9)),
        ("大后天", date(2026, 12, 10)),
        ("下周五", date(2026, 12, 18)),
        ("周五", date(2026, 12, 11)),
        ("星期五", date(2026, 12, 11)),
        ("礼拜五", date(2026, 12, 11)),
        ("禮拜天", date(2026, 12, 13)),
        ("15号", date(2026, 12, 15)),
        ("15日", date(2026, 12, 15)),
        ("十五号", date(2026, 12, 15)),
        ("5号", date(2027, 1, 5)),  # the 5th has passed: next month's
        ("下个月15号", date(2027, 1, 15)),
        ("下個月十號", date(2027, 1, 10)),
        ("月底", date(2026, 12, 31)),
        ("月初", date(2027, 1, 1)),
        ("3月5日", date(2027, 3, 5)),
        ("12月20号", date(2026, 12, 20)),
        ("3/5", date(2027, 3, 5)),
        ("2026-12-24", date(2026, 12, 24)),
        ("3天后", date(2026, 12, 10)),
        ("三天之后", date(2026, 12, 10)),
        ("tomorrow", date(2026, 12, 8)),
        ("the day after tomorrow", date(2026, 12, 9)),
        ("next friday", date(2026, 12, 11)),
        ("on friday", date(2026, 12, 11)),
        ("on the 3rd", date(2027, 1, 3)),
        ("15th", date(2026, 12, 15)),
        ("end of the month", date(2026, 12, 31)),
        ("end of next month", date(2027, 1, 31)),
        ("in 3 days", date(2026, 12, 10)),
        ("in two weeks", date(2026, 12, 21)),
        ("march 5", date(2027, 3, 5)),
        ("5th of march", date(2027, 3, 5)),
    ],
)
def test_days_are_read_future_facing(text: str, expected: date) -> None:
    assert days(text) == [expected]


def test_a_day_missing_from_a_month_moves_to_the_next_month_that_has_it() -> None:
    assert days("31号", today=date(2027, 4, 2)) == [date(2027, 5, 31)]
    assert days("2月29日", today=date(2027, 1, 1)) == [date(2028, 2, 29)]


def test_a_weekday_named_on_that_day_is_today() -> None:
    assert days("周一", today=MONDAY) == [MONDAY]


@pytest.mark.parametrize(
    "text",
    ["发工资那天还", "發工資後再還", "payday", "when I get paid", "I'll pay when I get my salary"],
)
def test_payday_asks_a_question(text: str) -> None:
    mentions = extract(normalise(text), MONDAY)[1]
    assert len(mentions) == 1
    assert mentions[0].on is None
    assert mentions[0].question == ASK_PAYDAY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证后四位是1234", ["1234"]),
        ("后六位12345X", ["12345X"]),
        ("my id ends with 98765x", ["98765X"]),
        ("尾号 0042", ["0042"]),
        ("13812345678", []),  # a phone number, not a short group
        ("1200元", []),  # an amount
        ("¥1,200.50", []),
    ],
)
def test_digit_groups(text: str, expected: list[str]) -> None:
    assert digits(text) == expected


TEXT_PIECES = st.sampled_from(
    [
        "我",
        "下周五",
        "15号",
        "月底",
        "next friday",
        "on the 3rd",
        "3/5",
        "3月5日",
        "明天",
        "31号",
        "2月29日",
        "in 3 days",
        "周日",
        "月初",
        "end of the month",
        "还",
        "1200元",
        " ",
        "tomorrow",
        "12/31",
        "1号",
    ]
)


@given(
    st.lists(TEXT_PIECES, min_size=1, max_size=6).map("".join),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
)
def test_every_day_read_is_on_or_after_today(text: str, today: date) -> None:
    for mention in extract(normalise(text), today)[1]:
        assert mention.on is None or today <= mention.on <= today + timedelta(days=400 * 4)


_DIGITS = "零一二三四五六七八九"


def to_chinese(n: int) -> str:
    """A number in standard Chinese numerals (the test's own writer): 1005 一千零五,
    12 十二, 110 一百一十, 10010 一万零一十."""

    def below_10000(k: int, leading: bool) -> str:
        out, zero = "", False
        for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = k // unit % 10
            if d:
                if zero and out:
                    out += "零"
                if not (leading and not out and unit == 10 and d == 1):
                    out += _DIGITS[d]
                out += name
                zero = False
            else:
                zero = True
        return out

    if n < 10_000:
        return below_10000(n, True) or "零"
    high, low = divmod(n, 10_000)
    text = below_10000(high, True) + "万"
    if low:
        if low < 1000:
            text += "零"
        text += below_10000(low, False)
    return text


@given(st.integers(min_value=1, max_value=99_999_999))
def test_chinese_numerals_round_trip(n: int) -> None:
    assert parse_chinese_number(to_chinese(n)) == n


@pytest.mark.parametrize(
    ("text", "n"),
    [("一千二", 1200), ("一万五", 15000), ("三百五", 350), ("两万三千", 23000), ("一千零五", 1005)],
)
def test_spoken_short_forms(text: str, n: int) -> None:
    assert parse_chinese_number(text) == n


@given(st.integers(min_value=1, max_value=9_999_999))
def test_written_amounts_round_trip(n: int) -> None:
    assert amounts(f"还{to_chinese(n)}元") == [n * 100]
    assert amounts(f"¥{n:,}") == [n * 100]
