"""Entities in a normalised message (issue 14, item 2): amounts in fen, days (always on or
after ``today``), and digit groups a borrower gives to prove who they are.

Pure functions of the normalised text (:func:`forbear.assistant.nlu.normalise.normalise`)
and ``today``; nothing here reads a clock. The engine reads every amount and date back to
the borrower for confirmation, so a wrong reading costs a question, never an action.

What is recognised:

- amounts: ``¥1,200.50``, ``1200元``, ``1,200 yuan``, ``rmb 500``, ``1.2k``, ``2千``,
  ``1.2万``, ``一千二`` (1,200), ``一千二百五`` (1,250), ``两千块``, ``五百块钱``,
  ``三块五`` (3.50); a bare number counts only right after a paying verb (还 500,
  "pay 500") and never when it names a day or an ID number's digits;
- days: 今天/明天/后天/大后天, 下周五, 周五/星期五/礼拜五, 15号/15日, 下个月15号, 月底,
  月初, 3月5日, 3/5, 2026-12-15, N天后, "today", "tomorrow", "the day after tomorrow",
  "next friday", "friday", "on the 3rd", "15th", "march 5", "5 march", "end of the
  month", "start of next month", "in 3 days"; a day that cannot be known from the text
  (发工资那天, 发工资后, "payday", "when I get paid") gives ``on=None`` with the
  question ``ask_payday``;
- digits: runs of 4 to 6 digits (the last may be ``X``) that are not part of an amount,
  a day or a longer number (the last digits of an ID number, a reference).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from decimal import Decimal

from forbear.assistant.nlu import Amount, DateMention

ASK_PAYDAY = "ask_payday"

# --- Chinese numerals ---------------------------------------------------------------

CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
_CN_CHARS = "".join(CN_DIGITS) + "".join(_CN_SMALL_UNITS) + "".join(_CN_BIG_UNITS)


def parse_chinese_number(text: str) -> int:
    """The value of a Chinese numeral: ``一千零五`` 1005, ``十二`` 12, ``两万三千`` 23000,
    and the spoken short forms ``一千二`` 1200, ``一万五`` 15000, ``三百五`` 350 (a
    last digit right after a unit counts in the next unit down). Arabic digits may stand
    for Chinese ones (``2千``). Raises ValueError on anything else."""
    if not text:
        raise ValueError("empty numeral")
    total = 0  # everything above the current 万/亿 section
    section = 0  # the current section (below 万)
    digit: int | None = None
    last_unit = 0  # the unit just written (for the spoken short form)
    zero_seen = False
    for ch in text:
        if ch in CN_DIGITS or ch.isdigit():
            if digit is not None:
                raise ValueError(f"two digits in a row in {text!r}")
            digit = CN_DIGITS[ch] if ch in CN_DIGITS else int(ch)
            if digit == 0:
                zero_seen = True
                digit = None
        elif ch in _CN_SMALL_UNITS:
            unit = _CN_SMALL_UNITS[ch]
            if digit is None:
                if unit != 10:
                    raise ValueError(f"unit without a digit in {text!r}")
                digit = 1  # 十二 = 12
            section += digit * unit
            digit, last_unit, zero_seen = None, unit, False
        elif ch in _CN_BIG_UNITS:
            unit = _CN_BIG_UNITS[ch]
            section += digit or 0
            if section == 0 and total == 0:
                raise ValueError(f"unit without a digit in {text!r}")
            if unit == 100_000_000:
                total = (total + section) * unit
            else:
                total += section * unit
            section, digit, last_unit, zero_seen = 0, None, unit, False
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    if digit is not None:
        if last_unit >= 100 and not zero_seen:
            digit *= last_unit // 10  # 一千二 = 1200, 一万五 = 15000
        section += digit
    return total + section


# --- amounts ------------------------------------------------------------------------

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CN_NUM = rf"[{_CN_CHARS}0-9]*[{_CN_CHARS}][{_CN_CHARS}0-9]*"
_PREFIX = r"(?:¥|\$|rmb|cny)"
_SUFFIX = r"(?:块钱|块|元钱|元|yuan|rmb|kuai|cny|rmb)"
_MULT = r"(?:k|w|千|万)"
_PAY_VERBS = (
    r"(?:还|付|交|转|打|存|凑|先还|还款|还上|还了|付了|转了|pay|paid|repay|repaid|send|sent|"
    r"transfer|transferred|give|deposit|cover)"
)
_MULTIPLIERS = {"k": 1000, "w": 10_000, "千": 1000, "万": 10_000}
# Right after the number, these make it a day, a time, a count or an ID fragment.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:号|日|月|年|天|点|个|期|次|位|岁|周|%|/|-\d|:\d|st\b|nd\b|rd\b|th\b|days?\b|"
    r"months?\b|weeks?\b|years?\b|hours?\b|times?\b|pm\b|am\b|o'?clock)"
)
_ID_CONTEXT = re.compile(
    r"(?:后[四五六4-6]位|尾号|身份证|证件|号码|手机|last\s*(?:4|four|5|five|6|six)|\bid\b|"
    r"digits?|ending in|ends with|reference|ref)[^\d]{0,8}$"
)

_ARABIC_AMOUNT = re.compile(
    rf"(?P<prefix>{_PREFIX})?\s*(?P<num>{_NUM})\s*(?P<mult>{_MULT})?(?![a-z])\s*(?P<suffix>{_SUFFIX})?"
)
_CN_AMOUNT = re.compile(
    rf"(?P<prefix>{_PREFIX})?\s*(?P<num>{_CN_NUM})\s*(?P<suffix>块钱|块|元钱|元)?"
    rf"(?P<jiao>[{''.join(CN_DIGITS)}1-9](?![{_CN_CHARS}0-9]))?"
)
_VERB_BEFORE = re.compile(rf"{_PAY_VERBS}\s*(?:you|u|them|it|back)?\s*$")


def _to_fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def _amounts(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, Amount]]:
    found: list[tuple[int, int, Amount]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken) and all(
            end <= s or start >= e for s, e, _ in found
        )

    for m in _ARABIC_AMOUNT.finditer(text):
        start, end = m.start("num"), m.end()
        if m.group("prefix"):
            start = m.start("prefix")
        # Not inside a longer token ("a1200b", a phone number) or a Chinese numeral.
        if start > 0 and (text[start - 1].isdigit() or text[start - 1] in "./"):
            continue
        if not free(start, end):
            continue
        num = m.group("num").replace(",", "")
        prefix, mult, suffix = m.group("prefix"), m.group("mult"), m.group("suffix")
        following = text[m.end("num") :]
        if mult is None and _NOT_MONEY_AFTER.match(following):
            continue
        if mult in ("千", "万") and re.match(rf"[{_CN_CHARS}]", text[m.end("mult") :]):
            continue  # 2千5 and the like: left to the Chinese reading below
        before = text[:start]
        if not (prefix or mult or suffix):
            if not _VERB_BEFORE.search(before) or _ID_CONTEXT.search(before):
                continue
            if "." not in num and len(num) > 7:
                continue
        value = Decimal(num) * _MULTIPLIERS.get(mult or "", 1)
        if value <= 0:
            continue
        end = m.end("suffix") if suffix else (m.end("mult") if mult else m.end("num"))
        found.append((start, end, Amount(fen=_to_fen(value), text=text[start:end])))

    for m in _CN_AMOUNT.finditer(text):
        start = m.start("prefix") if m.group("prefix") else m.start("num")
        num, suffix, jiao = m.group("num"), m.group("suffix"), m.group("jiao")
        end = m.end()
        if not free(start, end):
            continue
        if not suffix:
            jiao = None
            end = m.end("num")
        if _NOT_MONEY_AFTER.match(text[m.end("num") :]) and not suffix:
            continue
        has_magnitude = any(u in num for u in "百千万亿")
        if not (suffix or m.group("prefix") or has_magnitude):
            continue
        if num.isdigit():
            continue  # plain arabic digits: read above
        try:
            value = Decimal(parse_chinese_number(num))
        except ValueError:
            continue
        if jiao:
            value += Decimal(CN_DIGITS.get(jiao, 0) if jiao in CN_DIGITS else int(jiao)) / 10
        if value <= 0:
            continue
        found.append((start, end, Amount(fen=_to_fen(value), text=text[start:end].strip())))
    return found


# --- dates --------------------------------------------------------------------------

_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEKDAYS_EN = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "thurs": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
_MONTHS_EN = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_SMALL_EN = {
    "one": 1,
    "a": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
}
_DAYNUM = rf"(?:\d{{1,2}}|[{''.join(CN_DIGITS)}十]{{1,3}})"
_EN_WD = "|".join(sorted(_WEEKDAYS_EN, key=len, reverse=True))
_EN_MONTH = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th)"

_VAGUE = re.compile(
    r"发工资|发薪|工资到|工资下来|开工资|出粮|领工资|发钱那天|"
    r"pay\s?day|when i get (?:paid|my (?:salary|wages?|pay(?:check)?))|after i get paid|"
    r"once i get paid|when (?:my )?salary (?:comes|arrives)|next paycheck|my paycheck"
)


def _small_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text in _SMALL_EN:
        return _SMALL_EN[text]
    return parse_chinese_number(text)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + n
    return index // 12, index % 12 + 1


def _day_of_month(today: date, day: int, months_ahead: int = 0) -> date | None:
    """The next ``day`` of a month on or after ``today`` (from ``months_ahead`` months on);
    a month without that day is skipped (31号 in April means 31 May)."""
    if not 1 <= day <= 31:
        return None
    year, month = _add_months(today.year, today.month, months_ahead)
    for _ in range(13):
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate >= today:
                return candidate
        year, month = _add_months(year, month, 1)
    return None


def _month_day(today: date, month: int, day: int) -> date | None:
    """``month``/``day`` this year, or next year when it has passed (29 Feb: the next
    year that has one)."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    for year in range(today.year, today.year + 9):
        if day <= calendar.monthrange(year, month)[1] and date(year, month, day) >= today:
            return date(year, month, day)
    return None


def _weekday_on_or_after(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _next_week(today: date, weekday: int) -> date:
    """That weekday in the week after this one (weeks start on Monday: 下周五)."""
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    return monday + timedelta(days=weekday)


# Tried in this order; a later pattern never reads text an earlier one took.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"(?<!\d)(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})[日号]?(?!\d)")),
    ("next_month_day", re.compile(rf"下个?月\s*({_DAYNUM})\s*[号日]")),
    ("next_month_end", re.compile(r"下个?月\s*(?:底|末)")),
    (
        "next_month_start",
        re.compile(r"下个?月\s*初|下个?月(?!\s*[0-9一二两三四五六七八九十底末初])"),
    ),
    ("month_day_zh", re.compile(rf"({_DAYNUM})\s*月\s*({_DAYNUM})\s*[号日]?")),
    ("month_end", re.compile(r"(?:这个?|本)?月\s*(?:底|末)|月尾")),
    ("month_start", re.compile(r"(?<!个)(?<!下)月初")),
    ("in_days_zh", re.compile(rf"({_DAYNUM})\s*天\s*(?:以|之)?后|过\s*({_DAYNUM})\s*天")),
    ("in_weeks_zh", re.compile(r"(一|1)\s*(?:个)?(?:星期|周|礼拜)\s*(?:以|之)?后")),
    ("relative_zh", re.compile(r"大后天|后天|明天|明日|今天|今日|今晚|明早|明晚")),
    ("next_week_zh", re.compile(r"下(?:个)?(?:周|星期|礼拜)\s*([一二三四五六日天末1-7])")),
    ("weekday_zh", re.compile(r"(?:这|本)?(?:周|星期|礼拜)\s*([一二三四五六日天末1-7])")),
    ("day_zh", re.compile(rf"(?<![\d月/.-])({_DAYNUM})\s*[号日](?!元)")),
    ("slash", re.compile(r"(?<![\d/.,])(\d{1,2})/(\d{1,2})(?![\d/])")),
    (
        "end_month_en",
        re.compile(r"(?:the )?end of (?:the |this )?(next )?month|(next )?month[- ]end"),
    ),
    (
        "start_month_en",
        re.compile(r"(?:the )?(?:start|beginning) of (?:the |this )?(next )?month"),
    ),
    ("next_month_en", re.compile(r"\bnext month\b")),
    (
        "relative_en",
        re.compile(r"\b(?:the )?day after tomorrow\b|\btomorrow\b|\btmr\b|\btoday\b|\btonight\b"),
    ),
    (
        "in_days_en",
        re.compile(
            r"\bin (\d{1,2}|a|one|two|three|four|five|six|seven|ten|fourteen|fifteen|twenty|thirty)"
            r" (days?|weeks?)\b"
            r"|\b(\d{1,2}|two|three|four|five|six|seven|ten) (days?|weeks?) (?:from now|later)\b"
        ),
    ),
    ("next_weekday_en", re.compile(rf"\bnext ({_EN_WD})\b")),
    ("weekday_en", re.compile(rf"\b(?:this |on |by )?({_EN_WD})\b")),
    (
        "month_day_en",
        re.compile(
            rf"\b({_EN_MONTH})\.? (\d{{1,2}}){_ORD}?\b|\b(\d{{1,2}}){_ORD}? (?:of )?({_EN_MONTH})\b"
        ),
    ),
    ("day_en", re.compile(rf"\b(?:the )?(\d{{1,2}}){_ORD}\b")),
]


def _resolve(kind: str, m: re.Match[str], today: date) -> date | None:
    g = m.groups()
    if kind == "iso":
        try:
            found = date(int(g[0]), int(g[1]), int(g[2]))
        except ValueError:
            return None
        return found if found >= today else None
    if kind == "next_month_day":
        return _day_of_month(today, _small_number(g[0]), months_ahead=1)
    if kind == "next_month_end":
        return _month_end(*_add_months(today.year, today.month, 1))
    if kind in ("next_month_start",):
        return date(*_add_months(today.year, today.month, 1), 1)
    if kind == "month_day_zh":
        return _month_day(today, _small_number(g[0]), _small_number(g[1]))
    if kind == "month_end":
        return _month_end(today.year, today.month)
    if kind == "month_start":
        return today if today.day == 1 else date(*_add_months(today.year, today.month, 1), 1)
    if kind == "in_days_zh":
        return today + timedelta(days=_small_number(g[0] or g[1]))
    if kind == "in_weeks_zh":
        return today + timedelta(days=7)
    if kind == "relative_zh":
        word = m.group(0)
        offsets = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "明早": 1, "明晚": 1}
        return today + timedelta(days=offsets.get(word, 0))
    if kind in ("next_week_zh", "weekday_zh"):
        key = g[0]
        weekday = int(key) - 1 if key.isdigit() else _WEEKDAYS_ZH[key]
        if kind == "next_week_zh":
            return _next_week(today, weekday)
        return _weekday_on_or_after(today, weekday)
    if kind == "day_zh":
        return _day_of_month(today, _small_number(g[0]))
    if kind == "slash":
        return _month_day(today, int(g[0]), int(g[1]))
    if kind == "end_month_en":
        if g[0] or g[1]:
            return _month_end(*_add_months(today.year, today.month, 1))
        return _month_end(today.year, today.month)
    if kind == "start_month_en":
        if g[0] or today.day != 1:
            return date(*_add_months(today.year, today.month, 1), 1)
        return today
    if kind == "next_month_en":
        return date(*_add_months(today.year, today.month, 1), 1)
    if kind == "relative_en":
        word = m.group(0)
        if "after" in word:
            return today + timedelta(days=2)
        return today + timedelta(days=1 if word in ("tomorrow", "tmr") else 0)
    if kind == "in_days_en":
        count = _small_number(g[0] or g[2])
        unit = g[1] or g[3]
        return today + timedelta(days=count * (7 if unit.startswith("week") else 1))
    if kind == "next_weekday_en":
        weekday = _WEEKDAYS_EN[g[0]]
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if kind == "weekday_en":
        return _weekday_on_or_after(today, _WEEKDAYS_EN[g[0]])
    if kind == "month_day_en":
        if g[0]:
            return _month_day(today, _MONTHS_EN[g[0]], int(g[1]))
        return _month_day(today, _MONTHS_EN[g[3]], int(g[2]))
    if kind == "day_en":
        return _day_of_month(today, int(g[0]))
    raise AssertionError(kind)


def _dates(text: str, today: date) -> list[tuple[int, int, DateMention]]:
    found: list[tuple[int, int, DateMention]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in found)

    for m in _VAGUE.finditer(text):
        found.append((m.start(), m.end(), DateMention(None, m.group(0), ASK_PAYDAY)))
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if not m.group(0).strip() or not free(m.start(), m.end()):
                continue
            try:
                day = _resolve(kind, m, today)
            except (ValueError, KeyError):
                continue
            if day is None or day < today:
                continue
            found.append((m.start(), m.end(), DateMention(day, m.group(0).strip())))
    return found


# --- digits -------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"(?<![\d.,/])(\d{3,5}x|\d{4,6})(?![\d.,/]?\d)(?![a-z])")


def _digits(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    found = []
    for m in _DIGIT_RUN.finditer(text):
        if any(not (m.end() <= s or m.start() >= e) for s, e in taken):
            continue
        found.append((m.start(), m.end(), m.group(1).upper()))
    return found


def extract(
    normalised: str, today: date
) -> tuple[tuple[Amount, ...], tuple[DateMention, ...], tuple[str, ...]]:
    """The amounts, days and digit groups of a normalised message, each in the order
    written. Days are read first (so ``15号`` is never fifteen yuan), then amounts, then
    the digit groups left over."""
    dates = _dates(normalised, today)
    taken = [(s, e) for s, e, _ in dates]
    amounts = _amounts(normalised, taken)
    taken += [(s, e) for s, e, _ in amounts]
    digits = _digits(normalised, taken)
    return (
        tuple(a for _, _, a in sorted(amounts, key=lambda x: x[0])),
        tuple(d for _, _, d in sorted(dates, key=lambda x: x[0])),
        tuple(d for _, _, d in sorted(digits, key=lambda x: x[0])),
    )
