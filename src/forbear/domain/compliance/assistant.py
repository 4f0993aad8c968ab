"""The borrower assistant's replies in quiet hours (``CN.ASSISTANT.QUIET_DEMAND``,
``US.ASSISTANT.QUIET_DEMAND``; kind ``assistant_quiet_demand``).

A borrower may write at any hour and the assistant answers at once. What it may not do in
the borrower's quiet hours is start a conversation (a message that is not a reply to the
borrower's own message within the rule's ``reply_within_minutes``) or push a payment demand
(:func:`demands_payment`: an imperative to pay, "请尽快还款", "please pay now"; stating
what is owed or reading back the borrower's own promise is not a demand). The quiet period
is outside the narrower of this rule's window and the pack's quiet-hours rule for text
messages, so a lender that tightens its contact hours tightens the assistant's too.

Both the conversation engine (before a reply is shown or queued) and the dispatcher (before
an ``assistant`` outbox row is sent, later) ask :func:`may_send`. Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from forbear.domain.compliance.config import CompiledRules, Rule, Window
from forbear.domain.compliance.schema import ASSISTANT_QUIET_DEMAND, Channel

# An imperative to pay. Chinese: an urging word shortly before a paying verb ("请尽快还款",
# "今天必须还清", "马上处理欠款"), "请问" excluded (a question is not a demand); English: the
# same shape, and "pay now/today/immediately".
# (Traditional forms too: an LLM's rephrasing may come back in them)
_URGE_ZH = (
    r"(?:[请請](?![问問])|[务務]必|必[须須]|[尽儘][快早]|[马馬]上|立即|立刻|[赶趕][紧緊快]"
    r"|限期|限你|催)"
)
_PAY_ZH = (
    r"(?:[还還](?:款|[钱錢]|清)|[缴繳](?:清|[纳納])|付款|[结結]清|[归歸][还還]|[偿償][还還]"
    r"|[处處]理(?:欠款|逾期)|把[钱錢][还還]|[补補][缴繳])"
)
_DEMAND = (
    re.compile(_URGE_ZH + r"[^。！？!?\n]{0,8}?" + _PAY_ZH),
    re.compile(_PAY_ZH + r"(?:吧|啊|！|!)"),
    re.compile(
        r"\b(?:please|must|need to|have to|required to|urge you to|asap|immediately)\b"
        r"[^.!?\n]{0,30}?\b(?:pay|repay|settle|clear)\b"
    ),
    re.compile(
        r"\b(?:pay|repay|settle)\b[^.!?\n]{0,20}?\b(?:now|today|immediately|asap|at once)\b"
    ),
)
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower()
    return _CJK_GAP.sub("", folded)


def demands_payment(text: str) -> bool:
    """Whether ``text`` pushes the reader to pay (either language)."""
    plain = _plain(text)
    return any(p.search(plain) for p in _DEMAND)


Blocked = Literal["not_a_reply", "demand"]


@dataclass(frozen=True, slots=True)
class QuietDecision:
    allowed: bool
    quiet: bool  # the borrower's local time is in the quiet period
    rule_id: str | None = None  # the rule that blocked it
    reason: Blocked | None = None


def quiet_rule(rules: CompiledRules) -> Rule | None:
    """The enabled ``assistant_quiet_demand`` rule of the rules in force (None: none)."""
    return next((r for r in rules.rules if r.enabled and r.kind == ASSISTANT_QUIET_DEMAND), None)


def _windows(rules: CompiledRules, rule: Rule) -> list[list[Window]]:
    found: list[list[Window]] = [list(rule.params["windows"])]
    for r in rules.active("quiet_hours"):
        if Channel.SMS in r.params["channels"] or Channel.IM in r.params["channels"]:
            found.append(list(r.params["windows"]))
    return found


def is_quiet(rules: CompiledRules, at: datetime, timezone: str) -> bool:
    """Whether ``at`` (UTC) is in the borrower's quiet period: outside the window of the
    assistant rule or of a quiet-hours rule covering text messages."""
    rule = quiet_rule(rules)
    if rule is None:
        return False
    local = at.astimezone(ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    return any(
        not any(w.start <= minute < w.end for w in windows) for windows in _windows(rules, rule)
    )


def may_send(
    text: str,
    *,
    rules: CompiledRules,
    at: datetime,
    timezone: str,
    borrower_wrote_at: datetime | None,
) -> QuietDecision:
    """May the assistant's message ``text`` go at ``at`` (UTC) to a borrower in
    ``timezone`` whose latest message arrived at ``borrower_wrote_at`` (None: they have not
    written)? Outside quiet hours: yes. In quiet hours: only a reply (within the rule's
    ``reply_within_minutes`` of the borrower's message) that does not demand payment."""
    rule = quiet_rule(rules)
    if rule is None or not is_quiet(rules, at, timezone):
        return QuietDecision(allowed=True, quiet=False)
    within = timedelta(minutes=int(rule.params["reply_within_minutes"]))
    if borrower_wrote_at is None or not (
        borrower_wrote_at <= at + timedelta(seconds=1) and at - borrower_wrote_at <= within
    ):
        return QuietDecision(False, True, rule.id, "not_a_reply")
    if demands_payment(text):
        return QuietDecision(False, True, rule.id, "demand")
    return QuietDecision(allowed=True, quiet=True)
