"""The content filter's vocabulary: languages, audiences, categories of forbidden content
with their messages, a violation, the allow-list, the check context and the refusal."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from forbear.domain.errors import ForbearError, ValidationError

Lang = Literal["zh", "en"]
Audience = Literal["debtor", "third_party"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# The layers of the filter, cheapest first (docs/compliance.md): the lexicons on the
# normalised text, the same lexicons heard through pinyin (homophones, near-characters,
# romanised Chinese), and the semantic classifier on sentence embeddings (paraphrases).
Layer = Literal["lexicon", "pinyin", "semantic", "rule"]
LAYERS: tuple[Layer, ...] = ("lexicon", "pinyin", "semantic", "rule")

# The longest text the filter reads: a letter is a few thousand characters; anything much
# longer is not a message (and would cost seconds).
MAX_TEXT_CHARS = 20_000


class Category(StrEnum):
    THREAT = "threat"
    INSULT = "insult"
    IMPERSONATION = "impersonation"
    FAKE_LEGAL = "fake_legal"
    EXAGGERATION = "exaggeration"
    FALSE_PROMISE = "false_promise"
    GANG = "gang"
    PUBLIC_POSTING = "public_posting"
    NEW_BORROWING = "new_borrowing"
    COLLECTION_FEE = "collection_fee"
    THIRD_PARTY_DISCLOSURE = "third_party_disclosure"
    TIME_BARRED = "time_barred"
    OPT_OUT = "opt_out"


# Default (zh, en) message per category; a lexicon entry may give its own.
MESSAGES: Mapping[Category, tuple[str, str]] = {
    Category.THREAT: ("威胁、恐吓或暴力内容", "threat, intimidation or violence"),
    Category.INSULT: ("侮辱、谩骂", "insult or abuse"),
    Category.IMPERSONATION: (
        "冒充公检法、政府或律师",
        "impersonating police, courts or government",
    ),
    Category.FAKE_LEGAL: ("伪造法律文书或虚假黑名单", "fake legal documents or fake blacklists"),
    Category.EXAGGERATION: ("夸大金额或法律后果", "exaggerated amounts or legal consequences"),
    Category.FALSE_PROMISE: ("虚假承诺", "false promises"),
    Category.GANG: ("涉黑、涉恶内容", "gang references"),
    Category.PUBLIC_POSTING: ("公开曝光或散布个人信息", "public posting or spreading private data"),
    Category.NEW_BORROWING: ("诱导借新还旧", "pushing the debtor to borrow elsewhere"),
    Category.COLLECTION_FEE: ("收取催收费用", "a fee charged for collection"),
    Category.THIRD_PARTY_DISCLOSURE: ("向第三方披露债务信息", "debt information to a third party"),
    Category.TIME_BARRED: ("对已过时效债务主张诉讼", "suit threatened on a time-barred debt"),
    Category.OPT_OUT: ("短信/邮件缺少退订方式", "e-mail or text without an opt-out"),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One forbidden passage: ``text[start:end] == excerpt`` in the text that was checked."""

    rule_id: str
    category: Category
    start: int
    end: int
    excerpt: str
    message_zh: str
    message_en: str
    pattern_id: str = ""  # the lexicon entry that matched, for whoever tunes the lexicon
    layer: Layer = "lexicon"  # which layer found it

    def __str__(self) -> str:
        return f"{self.rule_id} {self.category} [{self.start}:{self.end}] {self.excerpt!r}"


@dataclass(frozen=True, slots=True)
class AllowList:
    """Phrases and regexes (against normalised text) whose spans suppress violations."""

    phrases: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for regex in self.regexes:
            try:
                re.compile(regex)
            except re.error as exc:
                raise ValidationError("allow", f"bad regex {regex!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Facts about the message that some rules need.

    ``pack``: the lender's rule pack (``CN`` or ``US``); a finding carries that pack's rule
    id for its category (:data:`forbear.domain.compliance.content.rules.PACK_RULES`).
    ``time_barred``: the debt is past its limitation period (US.REGF.TIMEBARRED,
    CN.LIMITATION): any mention of suit or court is refused. ``require_opt_out``: the
    message is an e-mail or text under US.REGF.OPTOUT and must carry an opt-out.
    """

    time_barred: bool = False
    require_opt_out: bool = False
    pack: str = "CN"  # the lender's rule pack: the rule ids findings carry


class ContentRejected(ForbearError):
    """A text or template failed the content filter; ``violations`` says where and why.

    The message names rule ids, categories and spans only, never the excerpts: a rendered
    text may hold the debtor's name or amounts.
    """

    def __init__(self, subject: str, violations: Sequence[Violation]) -> None:
        found = "; ".join(f"{v.rule_id} {v.category} at {v.start}-{v.end}" for v in violations)
        super().__init__(f"{subject}: refused by the content filter: {found}")
        self.subject = subject
        self.violations = tuple(violations)


class ContentUnreadable(ValidationError):
    """The text cannot be checked: empty, only control or invisible characters, control
    bytes inside, unpaired surrogates, or longer than :data:`MAX_TEXT_CHARS`. Nothing was
    checked, so nothing may pass: the caller refuses it. The message names the position and
    the reason, never the text."""

    def __init__(self, reason: str) -> None:
        super().__init__("text", reason)
