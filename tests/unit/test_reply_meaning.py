"""What a borrower's reply means: the opt-out words and their variants (domain/replies.py)."""

from __future__ import annotations

import pytest

from forbear.domain.replies import ReplyMeaning, meaning, normalise


@pytest.mark.parametrize(
    "text",
    [
        "退订",
        " 退订 ",
        "退 订",
        "退订！",
        "“退订”",
        "退訂",
        "取消订阅",
        "取消訂閱",
        "TD",
        "td",
        "Td.",
        "ＴＤ",
        "T",
        "t",
        "Ｔ",
        "T!",
        "STOP",
        "stop",
        "Stop.",
        "ＳＴＯＰ",
        "unsubscribe",
        "UNSUBSCRIBE",
        "Un-subscribe",
        "回复TD退订",
        "请退订",
        "退订短信",
        "td td",
        "别再发了",
    ],
)
def test_an_opt_out_is_recognised_in_every_writing(text: str) -> None:
    assert meaning(text) is ReplyMeaning.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "不是我",
        "你们打错人了",
        "我下周还款",
        "what is this about?",
        "Tomorrow",
        "",
        "   ",
        "。。。",
        "Thanks",
        "TDL",
        "STOPPED paying because I lost my job",
    ],
)
def test_every_other_reply_is_other(text: str) -> None:
    assert meaning(text) is ReplyMeaning.OTHER


def test_normalise_folds_width_case_traditional_and_punctuation() -> None:
    assert normalise("  ＴＤ。退訂！ ") == "td退订"
