"""``forbear assistant classify`` and ``eval`` on message files (typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forbear.cli.assistant import app

runner = CliRunner()


def _run(model_dir: Path, *args: str):
    return runner.invoke(app, [*args, "--model", str(model_dir), "--today", "2026-12-07"])


def test_classify_prints_one_json_line_per_message(model_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "messages.jsonl"
    rows = [
        {"id": "a", "text": "我下周五还1200元"},
        {"text": "身份证后四位是1234"},
        {"text": "发工资那天还"},
    ]
    file.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    result = _run(model_dir, "classify", str(file))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3]
    assert lines[0]["id"] == "a"
    assert lines[0]["amounts"] == [120000]
    assert lines[0]["dates"] == ["2026-12-18"]
    assert lines[1]["digits"] == ["1234"]
    assert lines[2]["dates"] == [None] and lines[2]["date_questions"] == ["ask_payday"]
    for line in lines:
        assert set(line) >= {"intent", "confidence", "runner_up", "margin", "confident", "language"}
        assert "text" not in line  # message texts are not echoed


def test_eval_prints_accuracy_and_the_confusion_matrix(model_dir: Path, tmp_path: Path) -> None:
    file = tmp_path / "labelled.csv"
    file.write_text(
        "text,intent\n你好,greet\n我还欠多少钱,balance\nstop calling me,stop_contact\n"
        "讲个笑话吧,out_of_scope\n",
        encoding="utf-8",
    )
    result = _run(model_dir, "eval", str(file))
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "macro-F1" in result.stdout
    assert "confusion" in result.stdout

    as_json = _run(model_dir, "eval", str(file), "--json")
    figures = json.loads(as_json.stdout)
    assert figures["messages"] == 4
    assert 0 <= figures["accuracy"] <= 1
    assert sum(map(sum, figures["confusion"])) == 4
    assert figures["out_of_scope_confident_transactional"] >= 0


@pytest.mark.parametrize(
    ("name", "content", "command", "expected"),
    [
        ("m.csv", "text,intent\n你好,greet\n还钱,nonsense\n", "eval", "line 3: unknown intent"),
        ("m.csv", "message\nhello\n", "classify", "line 2: missing field 'text'"),
        ("m.jsonl", '{"text": "hi"}\n{"text": "x"\n', "classify", "line 2: not JSON"),
        ("m.yaml", "- text: hi\n  intent: greet\n- text: bye\n", "eval", "line 3: missing field"),
        ("m.yaml", "", "classify", "no messages"),
        ("m.csv", "", "classify", "empty file"),
        ("m.txt", "hello", "classify", "unknown format"),
        ("m.csv", b"text\n\xff\n", "classify", "not UTF-8"),
    ],
)
def test_a_bad_file_is_refused_with_its_line_and_exit_code_2(
    model_dir: Path, tmp_path: Path, name: str, content: str | bytes, command: str, expected: str
) -> None:
    file = tmp_path / name
    file.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = _run(model_dir, command, str(file))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert expected in " ".join(result.stderr.split())


def test_a_missing_file_is_refused(model_dir: Path, tmp_path: Path) -> None:
    result = _run(model_dir, "classify", str(tmp_path / "none.csv"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_train_writes_the_artefact_and_prints_the_cv_figures(tmp_path: Path) -> None:
    from forbear.assistant.nlu import INTENTS

    data = tmp_path / "train.yaml"
    lines = ["intents:"]
    for intent in INTENTS:
        lines.append(f"  {intent}:")
        lines += [f'    - "{intent.replace("_", " ")} {n}"' for n in range(5)]
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5-fold CV accuracy" in result.stdout and "macro-F1" in result.stdout
    assert f"wrote {out}" in " ".join(result.stdout.split())
    assert {p.name for p in out.iterdir()} >= {"meta.json", "runtime.npz", "pipeline.joblib"}
    assert "the app refuses this model" in " ".join(result.stderr.split())


def test_train_refuses_unreadable_training_data(tmp_path: Path) -> None:
    data = tmp_path / "train.yaml"
    data.write_text("intents: [not, a, mapping]\n")
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "expected a mapping 'intents'" in result.stderr
    assert not (tmp_path / "m").exists()


def test_train_needs_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training reads no database: without --out the settings name the model directory,
    and no database is created or migrated (the demo trains beside building its book)."""
    from forbear.assistant.nlu import INTENTS

    data = tmp_path / "train.yaml"
    lines = ["intents:"]
    for intent in INTENTS:
        lines.append(f"  {intent}:")
        lines += [f'    - "{intent.replace("_", " ")} {n}"' for n in range(5)]
    data.write_text("\n".join(lines) + "\n")
    home = tmp_path / "data"
    monkeypatch.setenv("FORBEAR_DATA_DIR", str(home))
    monkeypatch.delenv("FORBEAR_DATABASE_URL", raising=False)
    monkeypatch.delenv("FORBEAR_ASSISTANT_MODEL_DIR", raising=False)
    result = runner.invoke(app, ["train", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert (home / "models" / "assistant" / "meta.json").exists()
    assert sorted(p.name for p in home.iterdir()) == ["models"]  # no database file
