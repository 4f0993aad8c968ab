"""`forbear template check/add/approve/list` as an operator meets them."""

from __future__ import annotations

from pathlib import Path

from clirun import forbear


def test_check_prints_rule_category_span_and_excerpt_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("{name}您好，再不还钱就曝光你", encoding="utf-8")
    result = forbear(tmp_path, "template", "check", str(bad))
    assert result.returncode == 1
    assert "CN.PUBLIC.NO_POSTING" in result.stdout
    assert "public_posting" in result.stdout and "14-16" in result.stdout
    assert "曝光" in result.stdout


def test_check_text_for_a_third_party(tmp_path: Path) -> None:
    text = "请转告{name}回电，欠款{amount}"
    result = forbear(tmp_path, "template", "check", "--text", text, "--audience", "third_party")
    assert result.returncode == 1
    assert "CN.3P.NO_DISCLOSE" in result.stdout and "{amount}" in result.stdout
    clean = forbear(tmp_path, "template", "check", "--text", text, "--lang", "zh")
    assert clean.returncode == 0, clean.stdout


def test_add_refuses_a_bad_template_and_lists_a_good_one(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("{name}您好，您本期应还{amount}，请按时还款。", encoding="utf-8")
    bad.write_text("你这个老赖", encoding="utf-8")
    refused = forbear(tmp_path, "template", "add", "BAD", "--file", str(bad))
    assert refused.returncode == 1 and "nothing stored" in refused.stdout
    added = forbear(tmp_path, "template", "add", "R1", "--channel", "sms", "--file", str(good))
    assert added.returncode == 0, added.stderr
    assert "R1 v1 (zh) draft" in added.stdout
    approved = forbear(tmp_path, "template", "approve", "R1")
    assert approved.returncode == 0, approved.stderr
    listed = forbear(tmp_path, "template", "list")
    assert listed.returncode == 0, listed.stderr
    assert "R1" in listed.stdout and "approved" in listed.stdout and "BAD" not in listed.stdout
