"""The rules in force: each rule's effective parameters in words, no Python reprs, the
quiet-hours text matching its parameter (issue 15, item 9)."""

from __future__ import annotations

import re

import pytest

from forbear.domain.compliance.config import default_rules
from forbear.web.i18n import Translator
from forbear.web.pages.compliance import confidence_words, param_words, source_words


@pytest.mark.parametrize("pack", ["CN", "US"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_parameter_of_every_shipped_rule_has_words(pack: str, lang: str) -> None:
    t = Translator(lang)  # type: ignore[arg-type]
    rules = default_rules(pack)
    for rule in rules.rules:
        lines = param_words(rule, t)
        assert t("rules.unknown_param") not in lines, (rule.id, rule.params)
        text = " ".join(lines)
        assert not re.search(r"frozenset|Channel\.|Window\(|[{}\[\]]|rules\.", text), text
        assert not re.search(r"\b(P|I|V2?)\b", confidence_words(rule.confidence, t))
        if lang == "zh-CN":
            told = source_words(rule.source, lang, rules.sources)
            assert not re.search(r"\b(art|arts|ch|policy|inference|law)\b", told), told


def test_the_page_in_both_languages(client, sign_in) -> None:  # type: ignore[no-untyped-def]
    page = sign_in("compliance1").get("/compliance/rules")
    assert page.status_code == 200
    row = re.search(r'<tr data-rule="CN.HOURS.QUIET".*?</tr>', page.text, re.S)
    assert row is not None
    assert "21:00至次日08:00" in row.group(0)
    assert "可联系时段（当地时间）：08:00-21:00" in row.group(0)
    assert "人工电话" in row.group(0) and "据转述" in row.group(0)
    assert "frozenset" not in page.text and "Channel." not in page.text
    english = client.get("/compliance/rules", params={"lang": "en"})
    assert "Contact allowed (local time): 08:00-21:00" in english.text
    assert "21:00-08:00" in english.text
