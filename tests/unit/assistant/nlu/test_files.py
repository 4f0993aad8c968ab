"""Reading message files: formats, line numbers, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from forbear.assistant.nlu.files import MessageFileError, read_messages


def test_csv_lines_count_the_header_as_line_one(tmp_path: Path) -> None:
    file = tmp_path / "m.csv"
    file.write_text('text,intent,id\n你好,greet,7\n"a, b",out_of_scope,8\n', encoding="utf-8")
    messages = read_messages(file, need_intent=True)
    assert [(m.line, m.text, m.intent, m.id) for m in messages] == [
        (2, "你好", "greet", "7"),
        (3, "a, b", "out_of_scope", "8"),
    ]


def test_yaml_accepts_a_list_or_a_messages_mapping(tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(
        "messages:\n  - text: 你好\n    intent: greet\n  - text: 再见\n    intent: goodbye\n"
    )
    assert [(m.line, m.intent) for m in read_messages(file, need_intent=True)] == [
        (2, "greet"),
        (4, "goodbye"),
    ]


def test_jsonl_skips_blank_lines_and_keeps_line_numbers(tmp_path: Path) -> None:
    file = tmp_path / "m.jsonl"
    file.write_text('{"text": "a"}\n\n{"text": 12}\n')
    assert [(m.line, m.text) for m in read_messages(file)] == [(1, "a"), (3, "12")]


def test_binary_content_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "m.csv"
    file.write_bytes(b"text\nab\x00cd\n")
    with pytest.raises(MessageFileError, match="binary"):
        read_messages(file)


def test_the_error_never_quotes_the_message(tmp_path: Path) -> None:
    file = tmp_path / "m.csv"
    file.write_text("text,intent\n我的身份证号是110101199001011234,whatever\n", encoding="utf-8")
    with pytest.raises(MessageFileError) as caught:
        read_messages(file, need_intent=True)
    assert "110101" not in str(caught.value)
    assert caught.value.line == 2
