"""Protected attributes: personal characteristics a credit decision must not turn on.

Chinese law forbids unreasonable differential treatment of consumers by who they are:

- 个人信息保护法 (PIPL) art. 24: automated decisions must be transparent, fair and just,
  with no unreasonable differential treatment; art. 28: religious belief, specific
  identity (e.g. ethnicity) and medical health are sensitive personal information;
- 银行保险机构消费者权益保护管理办法 (NFRA 2022) art. 8 (also 中国人民银行金融消费者权益
  保护实施办法 2020): no discriminatory differential treatment by sex, age, race,
  ethnicity or nationality;
- 征信业管理条例 art. 14: credit reporting may not collect religious belief, genes,
  fingerprints, blood type, diseases and medical history.

A scorecard candidate whose name reads as one of these is reported in the training
output with a warning, and a lender excludes them through configuration (the
``exclude`` of :class:`~forbear.domain.scoring.scorecard.ScorecardConfig`, filled by
``forbear model train --exclude`` and the ``FORBEAR_SCORING_EXCLUDE`` setting).
Age is listed: it may be lawful where product rules require it (minimum age of a
borrower), but it needs a reason, so it is warned about like the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProtectedAttribute:
    code: str
    label_zh: str
    label_en: str
    law: str


_SEX = ProtectedAttribute("sex", "性别", "sex / gender", "NFRA 2022 art. 8; PIPL art. 24")
_AGE = ProtectedAttribute("age", "年龄", "age", "NFRA 2022 art. 8; PIPL art. 24")
_ETHNICITY = ProtectedAttribute(
    "ethnicity", "民族/种族", "ethnicity / race", "NFRA 2022 art. 8; PIPL art. 28"
)
_NATIONALITY = ProtectedAttribute("nationality", "国籍", "nationality", "NFRA 2022 art. 8")
_RELIGION = ProtectedAttribute("religion", "宗教信仰", "religion", "PIPL art. 28; 征信 art. 14")
_MARITAL = ProtectedAttribute(
    "marital_status", "婚姻状况", "marital status", "PIPL art. 24 (family status)"
)
_HEALTH = ProtectedAttribute(
    "health", "健康/疾病/基因", "health, disease, genes", "PIPL art. 28; 征信 art. 14"
)

# Whole words of a normalised column name (lower case, split on non-letters/digits and
# camel case) or Chinese substrings.
_WORDS: dict[str, ProtectedAttribute] = {
    **dict.fromkeys(("sex", "gender", "male", "female"), _SEX),
    **dict.fromkeys(("age", "ages", "birth", "birthday", "dob", "birthdate"), _AGE),
    **dict.fromkeys(("ethnicity", "ethnic", "race", "racial"), _ETHNICITY),
    **dict.fromkeys(("nationality", "citizenship", "foreign"), _NATIONALITY),
    **dict.fromkeys(("religion", "religious", "faith"), _RELIGION),
    **dict.fromkeys(("marital", "marriage", "married", "marry", "spouse"), _MARITAL),
    **dict.fromkeys(("health", "disease", "medical", "illness", "genetic", "blood"), _HEALTH),
}
_CHINESE: dict[str, ProtectedAttribute] = {
    "性别": _SEX,
    "年龄": _AGE,
    "出生": _AGE,
    "民族": _ETHNICITY,
    "种族": _ETHNICITY,
    "国籍": _NATIONALITY,
    "宗教": _RELIGION,
    "信仰": _RELIGION,
    "婚姻": _MARITAL,
    "婚否": _MARITAL,
    "健康": _HEALTH,
    "疾病": _HEALTH,
    "病史": _HEALTH,
    "基因": _HEALTH,
    "血型": _HEALTH,
}


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def protected_attribute(name: str) -> ProtectedAttribute | None:
    """The protected attribute a column name reads as, if any."""
    for word in _words(name):
        if word in _WORDS:
            return _WORDS[word]
    for text, attribute in _CHINESE.items():
        if text in name:
            return attribute
    return None


def protected_candidates(names: Iterable[str]) -> dict[str, ProtectedAttribute]:
    """The columns among ``names`` that read as protected attributes."""
    found: dict[str, ProtectedAttribute] = {}
    for name in names:
        attribute = protected_attribute(name)
        if attribute is not None:
            found[name] = attribute
    return found
