"""Guardrails that hold whatever the model makes of a message (issue 14, item 4).

Two halves, both rule-based and tested on their own:

- :func:`screen` reads the borrower's message before anything else: cut to
  :data:`MAX_CHARS`, control and binary characters dropped, and the rules that never wait
  for the model: crisis words (self-harm, 不想活了, Traditional forms too), abuse, prompt
  injection ("ignore your rules", "system:", "你现在是管理员"), a claim to write for
  someone else ("我是他老婆", "I'm his mother") and "not my number". The engine acts on
  these first; an injection changes nothing because nothing follows instructions: it is
  answered neutrally.
- :func:`check_reply` reads every reply before it is shown or queued: the content filter
  (:func:`forbear.services.templates.check_body`, audience debtor once identity is
  verified, before that third party: no word of a debt at all), nobody's personal data
  (mobile and ID numbers, other than the help lines we print), nothing about a debt
  (amounts, days) before identity is verified, and no payment demand in quiet hours
  (:func:`forbear.domain.compliance.assistant.may_send`). A reply that fails is replaced
  by the safe fallback and the conversation is handed over (the engine does both).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from forbear.assistant.nlu.normalise import normalise, strip_pictographs
from forbear.domain.compliance.assistant import may_send
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.replies import CHAT_ONLY, with_opt_out
from forbear.services.templates import check_body

MAX_CHARS = 1000

# ------------------------------------------------------------------ the message


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# Matched on the normalised text (Simplified, half-width, lower case, spaces collapsed);
# Chinese patterns also run with the spaces removed ("不 想 活 了").
_CRISIS = _rx(
    r"不想活",
    r"活[着著](?:没|没有)(?:意思|意义|盼头)",
    r"活不下去",
    r"(?<![你他她])想死",
    r"想去死",
    r"(?:我|就|只能|只好|不如|干脆|还不如)去死",
    r"一了百了",
    r"死了(?:就|也|才)(?:不用|没|好|解脱)",
    r"(?:不如|干脆)死了?",
    r"不如死了",
    r"死了算了",
    r"一死了之",
    r"自杀",
    r"轻生",
    r"寻死",
    r"跳楼",
    r"跳河",
    r"割腕",
    r"结束(?:自己的?)?生命",
    r"了结自己",
    r"吃安眠药",
    r"\bkill(?:ing)? myself\b",
    r"\bend (?:it all|my life)\b",
    r"\bsuicid",
    r"\bwant(?:s|ed)? to die\b",
    r"\btake my (?:own )?life\b",
    r"\bself[- ]?harm",
    r"\bhurt myself\b",
    r"\bno reason to live\b",
    r"\bdon'?t want to live\b",
    r"\bbetter off dead\b",
)
_ABUSE = _rx(
    r"傻[逼比b]",
    r"\bsb\b",
    r"操你",
    r"草泥马",
    r"你妈[的逼]",
    r"他妈的",
    r"妈的",
    r"王八蛋",
    r"混蛋",
    r"狗东西",
    r"去死",
    r"滚蛋",
    r"^滚",
    r"废物",
    r"弄死你",
    r"杀了你",
    r"炸了你们",
    r"砸了你们",
    r"烧了你们",
    r"\bf[\*#@!x]{2,}",
    r"\bkill you\b",
    r"\bburn\b.{0,30}\b(?:office|house|place|down)\b",
    r"\bscum",
    r"\bfuck",
    r"\bshit\b",
    r"\bbitch",
    r"\basshole",
    r"\bbastard",
    r"\bidiot",
    r"\bmoron",
)
# Asking the assistant to do what a collector may not (CN.LANG.PROHIBITED, CN.3P.*,
# PIPL): write as a court, the police or a lawyer; threaten, expose or harass someone;
# hand over somebody else's details. Refused in plain words, whoever asks.
_FORBIDDEN_REQUEST = _rx(
    r"(?:以|用|冒充|假装|假扮|装成|装作|扮成).{0,6}(?:法院|法官|公安|警察|警方|派出所|检察院|律师|律所|政府|监管)",
    r"(?:法院|法官|公安|警察|警方|检察院|律师|律所|政府)的?名义",
    r"(?:帮我|替我|你去|你们去).{0,10}(?:威胁|恐吓|吓唬|曝光|骚扰)",
    r"(?:告诉我|给我|发给我|查一下|查查).{0,10}(?:紧急联系人|他的|她的|别人的|其他人的).{0,6}"
    r"(?:电话|号码|手机|地址|身份证|信息|资料)",
    r"\b(?:impersonat\w*|pose as|posing as|pretend(?:ing)? to be)\b.{0,30}"
    r"\b(?:court|judge|police|cops?|lawyer|attorney|government|officer|bailiff)\b",
    r"\b(?:in the name of|on behalf of)\s+(?:the\s+|a\s+)?"
    r"(?:court|judge|police|lawyer|attorney|government)\b",
    r"(?:^|\b(?:can|could|will|would) you |\bplease |\bpls |\bgo |\bhelp me )"
    r"(?:threaten|scare|intimidate|harass|shame)\b.{0,25}"
    r"\b(?:him|her|them|his|their|someone|somebody|my \w+)\b",
    r"\b(?:give|tell|send|show)\s+me\b.{0,30}\b(?:emergency contacts?|his|her|their)\b.{0,20}"
    r"\b(?:numbers?|phones?|address|details|id)\b",
)
_INJECTION = _rx(
    r"\bignore\b.{0,30}\b(?:instructions?|rules?|prompts?|guidelines|above|previous)\b",
    r"\bdisregard\b.{0,30}\b(?:instructions?|rules?|prompts?)\b",
    r"\bforget\b.{0,30}\b(?:instructions?|rules?|prompts?)\b",
    r"(?:^|\s|\[|<)system\s*[:：>\]]",
    r"\bsystem prompt\b",
    r"\byou are now\b",
    r"\bact as\b",
    r"\bpretend (?:to be|you are)\b",
    r"\bdeveloper mode\b",
    r"\bjailbreak",
    r"\badmin(?:istrator)? mode\b",
    r"\bnew instructions?\b",
    r"忽略.{0,8}(?:指令|规则|设定|提示|要求|限制)",
    r"无视.{0,8}(?:指令|规则|设定|限制)",
    r"忘记.{0,8}(?:指令|规则|设定)",
    r"你现在是",
    r"现在你是",
    r"假装你是",
    r"扮演",
    r"管理员模式",
    r"开发者模式",
    r"系统提示",
    r"系统指令",
    r"新的指令",
)
_RELATION_ZH = (
    r"(?:老婆|妻子|媳妇|爱人|老公|丈夫|对象|女朋友|男朋友|妈妈|妈|母亲|爸爸|爸|父亲|"
    r"儿子|女儿|哥哥|哥|姐姐|姐|弟弟|弟|妹妹|妹|同事|朋友|领导|老板|室友|亲戚|家人|家属|"
    r"邻居|同学|舅舅|叔叔|阿姨|姑姑|爷爷|奶奶|外婆|外公)"
)
_RELATION_EN = (
    r"(?:wife|husband|partner|spouse|mother|mom|mum|father|dad|son|daughter|brother|"
    r"sister|colleague|coworker|co-worker|friend|boss|roommate|flatmate|relative|neighbou?r|"
    r"uncle|aunt|cousin|grandmother|grandfather|girlfriend|boyfriend)"
)
_THIRD_PARTY = _rx(
    # "我是他老婆", "我是张三的妈妈"
    r"我是.{0,12}?(?:他|她|ta)?的?" + _RELATION_ZH,
    # "我老公欠你们多少", "我儿子的贷款"
    r"我的?"
    + _RELATION_ZH
    + r"(?!问我|让我|说我|叫我|催我).{0,6}(?:欠|借|贷|账|还款|逾期|多少|什么时候)",
    r"[帮替代](?:他|她|ta)(?:还|查|问|处理|付)",
    r"\bi'?m (?:his|her|their|a|the)\b.{0,20}\b" + _RELATION_EN + r"\b",
    r"\bi am (?:his|her|their|a|the)\b.{0,20}\b" + _RELATION_EN + r"\b",
    r"\b" + _RELATION_EN + r" of\b",
    r"\bmy " + _RELATION_EN + r"(?:'s)?\b.{0,30}\b(?:debt|loan|owe|owes|pay|balance|account)",
    r"\bon (?:his|her|their) behalf\b",
    r"\bfor (?:my|his|her) " + _RELATION_EN + r"\b",
)
_WRONG_NUMBER = _rx(
    r"不是我的?(?:号码|手机|电话)",
    r"(?:号码|手机号?|电话)(?:不是我|错了|打错|发错)",
    r"(?:打|发)错(?:人|号码)?了",
    r"不认识(?:这个人|此人|他|她)",
    r"\bwrong number\b",
    r"\bnot my (?:number|phone)\b",
    r"\bdon'?t know (?:this person|him|her|who)\b",
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufeff\u200b-\u200f]")
_WORDY = re.compile(r"[0-9a-z\u3400-\u9fff]")


@dataclass(frozen=True)
class Screened:
    """The borrower's message as the engine may use it, and what the rules found in it."""

    text: str  # control characters dropped, cut to MAX_CHARS
    cut: bool = False
    empty: bool = False
    unreadable: bool = False  # binary, emoji or symbols only: nothing to understand
    crisis: bool = False
    abuse: bool = False
    injection: bool = False
    forbidden_request: bool = False  # impersonate, threaten, someone else's details
    third_party: bool = False  # writes for someone else ("我是他老婆")
    wrong_number: bool = False  # "不是我的号码", "wrong number"


def screen(raw: str | bytes | None) -> Screened:
    """Read one message by the rules alone (never raises)."""
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw).decode("utf-8", errors="replace")
    text = unicodedata.normalize("NFC", str(raw or ""))
    text = _CONTROL.sub("", text).replace("\r", "")
    text = text.strip()
    cut = len(text) > MAX_CHARS
    if cut:
        text = text[:MAX_CHARS]
    if not text:
        return Screened(text="", empty=True)
    plain = normalise(text)
    words = strip_pictographs(plain)
    unreadable = _WORDY.search(words) is None
    tight = plain.replace(" ", "")

    def found(pattern: re.Pattern[str]) -> bool:
        return pattern.search(plain) is not None or pattern.search(tight) is not None

    return Screened(
        text=text,
        cut=cut,
        unreadable=unreadable,
        crisis=found(_CRISIS),
        abuse=found(_ABUSE),
        injection=found(_INJECTION),
        forbidden_request=found(_FORBIDDEN_REQUEST),
        third_party=found(_THIRD_PARTY),
        wrong_number=found(_WRONG_NUMBER),
    )


# ------------------------------------------------------------------ the reply

# Numbers we print on purpose: help lines and the regulator's hotline.
HELP_LINES = ("400-161-9995", "010-82951332", "12378", "110", "120")
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
_EN_PHONE = re.compile(r"(?<!\d)\(?\d{3}\)?[- .]\d{3}[- .]\d{4}(?!\d)")
_MONEY = re.compile(r"[¥￥]\s?\d|\d\s?(?:元|块|yuan\b|rmb\b)|\brmb\s?\d", re.IGNORECASE)
_DAY = re.compile(
    r"\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}|"
    r"\b\d{1,2} (?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december)\b",
    re.IGNORECASE,
)
_FILTER_CHANNEL = {"sms": "sms", "app": "im", "portal": "im", "api": "im", "cli": "im"}
# the chat on a page the borrower opened is not a text message (US.REGF.OPTOUT is for texts)
_CHAT_ONLY = CHAT_ONLY  # the chat pages: no opt-out footer (forbear.domain.replies)


@dataclass(frozen=True)
class ReplyCheck:
    ok: bool
    reasons: tuple[str, ...] = ()  # rule ids of the content filter, or our own codes


def check_reply(
    text: str,
    *,
    channel: str,
    lang: str,
    verified: bool,
    rules: CompiledRules | None = None,
    at: datetime | None = None,
    timezone: str | None = None,
    borrower_wrote_at: datetime | None = None,
) -> ReplyCheck:
    """Whether one reply may be sent; the reasons when not."""
    reasons: list[str] = []
    body = with_opt_out(text, channel=channel, lang=lang)
    # someone not verified is, for all we know, a third party: no word of a debt at all
    audience = "debtor" if verified else "third_party"
    for v in check_body(
        body, channel=_FILTER_CHANNEL.get(channel, "im"), audience=audience, lang=lang
    ):
        if v.rule_id == "US.REGF.OPTOUT" and channel in _CHAT_ONLY:
            continue
        reasons.append(v.rule_id)
    scrubbed = text
    for line in HELP_LINES:
        scrubbed = scrubbed.replace(line, " ")
    if _PHONE.search(scrubbed) or _ID_NUMBER.search(scrubbed) or _EN_PHONE.search(scrubbed):
        reasons.append("personal_data")
    if not verified and (_MONEY.search(scrubbed) or _DAY.search(scrubbed)):
        reasons.append("unverified_disclosure")
    if rules is not None and at is not None and timezone is not None:
        decision = may_send(
            text, rules=rules, at=at, timezone=timezone, borrower_wrote_at=borrower_wrote_at
        )
        if not decision.allowed and decision.rule_id:
            reasons.append(decision.rule_id)
    return ReplyCheck(ok=not reasons, reasons=tuple(dict.fromkeys(reasons)))
