"""`forbear template check` on unreadable texts and with a pack, and `forbear template eval`
(issue 17): precision and recall by layer and language, false positives listed."""

from __future__ import annotations

from pathlib import Path

from clirun import forbear

CORPUS = """items:
  - {text: "你这个老赖", lang: zh, label: insult, kind: plain}
  - {text: "再不换钱小心被拘溜", lang: zh, label: fake_legal, kind: homophone}
  - {text: "您好，请按时还款。", lang: zh, label: clean, kind: reminder}
  - {text: "You deadbeat.", lang: en, label: insult, kind: plain}
  - {text: "Please call us back.", lang: en, label: clean, kind: reminder}
  - {text: "请把结清证明贴在家里保存好。", lang: zh, label: clean, kind: education}
"""


def test_check_refuses_empty_and_control_byte_texts(tmp_path: Path) -> None:
    empty = forbear(tmp_path, "template", "check", "--text", "")
    assert empty.returncode == 1
    assert "empty" in empty.stderr and "no violations" not in empty.stdout
    controls = tmp_path / "controls.txt"
    controls.write_bytes(b"\x01\x02\x03")
    refused = forbear(tmp_path, "template", "check", str(controls))
    assert refused.returncode == 1 and "control character U+0001" in refused.stderr
    big = tmp_path / "big.txt"
    big.write_text("您好" * 20_000, encoding="utf-8")
    too_long = forbear(tmp_path, "template", "check", str(big), "--no-semantic")
    assert too_long.returncode == 1 and "longer than" in too_long.stderr


def test_check_gives_us_ids_to_a_us_lender(tmp_path: Path) -> None:
    text = "You will be arrested, you deadbeat."
    us = forbear(tmp_path, "template", "check", "--text", text, "--pack", "US", "--no-semantic")
    assert us.returncode == 1
    assert "US.REGF.FALSE" in us.stdout and "US.REGF.HARASS" in us.stdout
    assert "CN.LANG" not in us.stdout
    bad = forbear(tmp_path, "template", "check", "--text", text, "--pack", "XX")
    assert bad.returncode != 0 and "--pack" in bad.stderr


def test_eval_reports_precision_recall_and_false_positives(tmp_path: Path) -> None:
    corpus = tmp_path / "mine.yaml"
    corpus.write_text(CORPUS, encoding="utf-8")
    result = forbear(tmp_path, "template", "eval", str(corpus), "--no-semantic")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "6 texts, 3 forbidden" in out
    for row in ("all 全部", "language en", "language zh", "layer lexicon", "layer pinyin"):
        assert row in out
    assert "100.0%" in out  # recall of the three forbidden texts
    assert "False positives on polite messages 礼貌消息误报: 1 of 3" in out
    assert "line 7 [zh/education]" in out  # the false alarm, with its line
    by_language = forbear(
        tmp_path, "template", "eval", str(corpus), "--by", "language", "--no-semantic"
    )
    assert "language zh" in by_language.stdout and "layer lexicon" not in by_language.stdout


def test_eval_names_the_line_of_a_bad_item(tmp_path: Path) -> None:
    corpus = tmp_path / "bad.yaml"
    corpus.write_text("items:\n  - {text: hi, lang: zh, label: clean}\n  - {lang: en}\n")
    result = forbear(tmp_path, "template", "eval", str(corpus))
    assert result.returncode == 1 and "line 3" in result.stderr and "'text'" in result.stderr


def test_fit_refuses_the_eval_split(tmp_path: Path) -> None:
    held = tmp_path / "eval.yaml"
    held.write_text(CORPUS, encoding="utf-8")
    result = forbear(tmp_path, "template", "fit", "--train", str(held))
    assert result.returncode == 1 and "held apart" in result.stderr
