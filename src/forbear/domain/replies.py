"""What a borrower's reply means: an opt-out of the medium it came by, or anything else.

An opt-out is the short reply Chinese SMS senders must honour (退订 / TD / T, the
operators' unsubscribe words; 《通信短信息服务管理规定》 art. 18: a recipient who refuses
further commercial messages is not sent any more) and the English STOP / unsubscribe. It
is recognised whatever the writing: full-width letters (ＴＤ), spaces and punctuation
(“退 订！”, "T.D."), case (Stop), Traditional characters (退訂, 取消訂閱) and the common
longer forms (退订短信, 请退订, 回复TD退订). When in doubt the reply is read as an opt-out:
wrongly stopping messages costs a confirmation, wrongly ignoring a refusal breaks the rule.

Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

# Traditional -> Simplified for the characters the opt-out words use.
_SIMPLIFIED = str.maketrans({"訂": "订", "閱": "阅", "託": "托", "簡": "简", "訊": "讯"})
# Everything that is not a letter, digit or CJK character: spaces, punctuation, symbols.
_NOISE = re.compile(r"[\W_]+", re.UNICODE)

# Whole replies (after normalising) that opt out.
_EXACT = frozenset(
    {
        "td",
        "t",
        "stop",
        "stopall",
        "unsubscribe",
        "unsub",
        "quit",
        "cancel",
        "end",
        "optout",
        "退订",
        "取消订阅",
        "取消",
        "退",
        "拒收",
    }
)
# Words that opt out wherever they stand in a reply.
_ANYWHERE = ("退订", "取消订阅", "unsubscribe", "拒收短信", "不要再发", "别再发")


class ReplyMeaning(StrEnum):
    OPT_OUT = "opt_out"
    OTHER = "other"


def normalise(text: str) -> str:
    """The reply as the rules compare it: NFKC (full-width to ASCII), Simplified, lower case,
    without spaces, punctuation and symbols."""
    folded = unicodedata.normalize("NFKC", text).translate(_SIMPLIFIED).casefold()
    return _NOISE.sub("", folded)


def meaning(text: str) -> ReplyMeaning:
    """:attr:`ReplyMeaning.OPT_OUT` for an opt-out (module docstring), else ``OTHER``."""
    word = normalise(text)
    if not word:
        return ReplyMeaning.OTHER
    if word in _EXACT or any(w in word for w in _ANYWHERE):
        return ReplyMeaning.OPT_OUT
    # "回复TD退订" and "TD退订" are caught above; a bare "TD." or "T!" by _EXACT. A reply
    # that is only the keyword repeated ("td td", "stop stop") is an opt-out too.
    for keyword in ("td", "stop"):
        if word == keyword * (len(word) // len(keyword)):
            return ReplyMeaning.OPT_OUT
    return ReplyMeaning.OTHER


# What an English text message must carry (US.REGF.OPTOUT: Regulation F, 12 CFR
# 1006.6(e)); the assistant's and the agents' answers by SMS or app add it. Chat pages
# (portal, API, terminal) are read where the borrower already is: no footer.
OPT_OUT_LINE_EN = "Reply STOP to opt out of texts."
CHAT_ONLY = frozenset({"portal", "api", "cli"})


def with_opt_out(text: str, *, channel: str, lang: str) -> str:
    """``text`` with the English opt-out line when it travels as a text message."""
    if lang == "en" and channel not in CHAT_ONLY and OPT_OUT_LINE_EN not in text:
        return f"{text} {OPT_OUT_LINE_EN}"
    return text
