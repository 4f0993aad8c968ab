"""The message catalogue: both languages complete, every key the templates use exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

from forbear.domain.access import PiiField, Purpose, Role
from forbear.domain.compliance.schema import Channel, Outcome, Party
from forbear.services.contacts import CollectorOutcome
from forbear.web.i18n import EN, ZH, Translator, parse_lang

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "forbear" / "web" / "templates"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_hold_the_same_keys_and_placeholders() -> None:
    assert set(ZH) == set(EN)
    for key in ZH:
        assert _fields(ZH[key]) == _fields(EN[key]), key


def test_every_key_used_in_a_template_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(
            re.findall(r"""\bt\(\s*'([a-z_.]*[a-z_])'[,)]""", template.read_text(encoding="utf-8"))
        )
    assert used and used <= set(ZH)


def test_every_vocabulary_has_words_in_both_languages() -> None:
    for group, values in (
        ("role", Role),
        ("pii", PiiField),
        ("purpose", Purpose),
        ("channel", Channel),
        ("party", Party),
        ("result", Outcome),
        ("outcome", CollectorOutcome),
    ):
        for value in values:
            assert f"{group}.{value.value}" in ZH, (group, value)


def test_the_chinese_catalogue_is_chinese() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    technical = {"col.rank", "nav.language"}
    for key, text in ZH.items():
        if key not in technical and not key.startswith("channel.app_push"):
            assert cjk.search(text), key


def test_languages_are_parsed_loosely() -> None:
    assert parse_lang("zh_CN") == parse_lang("zh-Hans") == "zh-CN"
    assert parse_lang("en-GB") == "en" and parse_lang("fr") is None
    assert Translator("en")("error.not_found", kind="Loan", key="7") == "Loan not found: 7"


def test_every_reason_a_queued_account_is_set_aside_has_words_in_both_languages() -> None:
    from forbear.services.queue import Settled
    from forbear.web.i18n import CATALOGUE

    for lang, texts in CATALOGUE.items():
        missing = [r.value for r in Settled if f"workbench.settled.{r.value}" not in texts]
        assert missing == [], (lang, missing)
