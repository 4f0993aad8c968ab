"""Normalising a message: Simplified, half-width, lower-case, emoji out of the way."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from forbear.assistant.nlu.normalise import detect_language, normalise


def test_traditional_becomes_simplified() -> None:
    assert normalise("我想還款，這個月沒錢") == "我想还款,这个月没钱"


def test_full_width_digits_letters_and_punctuation_become_half_width() -> None:
    assert normalise("ＲＭＢ　１２００元！") == "rmb 1200元!"


def test_emoji_are_removed_and_spaces_collapsed() -> None:
    assert normalise("  好的 🙏🙏  谢谢👍🏽 ") == "好的 谢谢"
    assert normalise("😀😀😀") == ""


def test_control_characters_become_spaces() -> None:
    assert normalise("a\x00b\x07c") == "a b c"


def test_language_is_chinese_when_a_third_of_the_letters_are() -> None:
    assert detect_language(normalise("我想pay")) == "zh"
    assert detect_language(normalise("I want to pay tomorrow")) == "en"
    assert detect_language(normalise("can I 分期 please")) == "en"
    assert detect_language(normalise("我可以下周还吗 ok")) == "zh"


def test_language_of_text_without_letters_is_the_default() -> None:
    assert detect_language("1234") == "zh"
    assert detect_language("", default="en") == "en"


@given(st.text(max_size=200))
def test_normalise_is_idempotent_and_never_fails(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert detect_language(once) in ("zh", "en")
