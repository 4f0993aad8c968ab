"""The intent model on the held-out file (issue 14, evidence).

tests/data/assistant/heldout.yaml was written apart from the training set, in other
wording, in both languages, with Traditional characters, typos, colloquial and mixed
forms: it measures how the model generalises. Nothing is ever tuned to it.

The figures (accuracy, macro-F1, per language and per form) are printed (``pytest -s``)
and kept in the assertion messages. The floor asserted is 0.85 accuracy, a regression
guard: the issue's target is 0.92 and docs/assistant.md reports the figure measured. An
out-of-scope message must never land *confidently* on a transactional intent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from forbear.assistant.nlu import INTENTS

HELDOUT = Path(__file__).parents[2] / "data" / "assistant" / "heldout.yaml"
TODAY = date(2026, 11, 26)
ACCURACY_FLOOR = 0.85
# Intents that make the assistant act (a promise, a plan, a hold, an opt-out...): an
# out-of-scope message taken for one of them with confidence would act on nothing said.
TRANSACTIONAL = frozenset(
    {
        "promise_to_pay",
        "request_instalment",
        "request_deferral",
        "dispute",
        "stop_contact",
        "already_paid",
        "fee_waiver",
        "wrong_person",
    }
)


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro-averaged F1 over the intents that occur (as truth or as prediction)."""
    labels = {t for t, _ in pairs} | {p for _, p in pairs}
    scores = []
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def accuracy(pairs: list[tuple[str, str]]) -> float:
    return sum(1 for t, p in pairs if t == p) / len(pairs)


def test_macro_f1_and_accuracy_are_what_they_say() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "b")]
    assert accuracy(pairs) == 0.5
    # a: p=1 r=.5 f=2/3; b: p=1/3 r=1 f=.5; c: 0
    assert macro_f1(pairs) == pytest.approx((2 / 3 + 0.5 + 0) / 3)


@pytest.fixture(scope="module")
def heldout() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = yaml.safe_load(HELDOUT.read_text("utf-8"))
    return rows


def test_the_heldout_file_covers_every_intent_in_both_languages(
    heldout: list[dict[str, str]],
) -> None:
    counts = Counter(r["intent"] for r in heldout)
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= 15, counts
    langs = Counter(r["lang"] for r in heldout)
    assert set(langs) == {"zh", "en", "mixed"}
    assert min(langs["zh"], langs["en"]) >= 0.35 * len(heldout), langs
    assert {r["form"] for r in heldout} == {"plain", "traditional", "typo", "colloquial", "mixed"}
    assert len({r["text"] for r in heldout}) == len(heldout)


@pytest.fixture(scope="module")
def understood(
    understander: Any, heldout: list[dict[str, str]]
) -> list[tuple[dict[str, str], Any]]:
    """Every held-out message through the model, in one batch (``understand_many``, what
    ``understand`` calls for one message: the same answers, the encoder run once)."""
    texts = [row["text"] for row in heldout]
    many = getattr(understander, "understand_many", None)
    found = (
        many(texts, today=TODAY)
        if many is not None
        else [understander.understand(t, today=TODAY) for t in texts]
    )
    return list(zip(heldout, found, strict=True))


def _breakdown(
    rows: list[tuple[dict[str, str], Any]], key: str
) -> dict[str, tuple[int, float, float]]:
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row, u in rows:
        groups[row[key]].append((row["intent"], u.intent))
    return {k: (len(v), accuracy(v), macro_f1(v)) for k, v in sorted(groups.items())}


def report(rows: list[tuple[dict[str, str], Any]]) -> str:
    pairs = [(row["intent"], u.intent) for row, u in rows]
    lines = [
        f"held-out: {len(pairs)} messages, accuracy {accuracy(pairs):.3f}, "
        f"macro-F1 {macro_f1(pairs):.3f}"
    ]
    for key in ("lang", "form"):
        for name, (n, acc, f1) in _breakdown(rows, key).items():
            lines.append(f"  {key}={name:<12} n={n:<4} accuracy {acc:.3f}  macro-F1 {f1:.3f}")
    per_intent = _breakdown([(r | {"truth": r["intent"]}, u) for r, u in rows], "truth")
    for name, (n, acc, _) in per_intent.items():
        lines.append(f"  intent={name:<19} n={n:<3} recall {acc:.3f}")
    confident = sum(1 for _, u in rows if u.confident)
    lines.append(f"  confident: {confident}/{len(rows)}")
    misses = [(row, u) for row, u in rows if u.intent != row["intent"]]
    lines.append("  misclassified:")
    for row, u in misses:
        lines.append(
            f"    {row['text']!r}: {row['intent']} -> {u.intent} ({u.confidence:.2f}"
            f"{', confident' if u.confident else ''})"
        )
    return "\n".join(lines)


def test_heldout_accuracy_is_above_the_floor(understood: list[tuple[dict[str, str], Any]]) -> None:
    from forbear.assistant.nlu.evaluation import score

    text = report(understood)
    print("\n" + text)
    pairs = [(row["intent"], u.intent) for row, u in understood]
    assert all(u.intent in INTENTS for _, u in understood)
    # the figures `forbear assistant eval` prints, and this file's own count agrees
    figures = score([u for _, u in understood], [row["intent"] for row, _ in understood])
    assert figures["messages"] == len(pairs)
    assert figures["accuracy"] == pytest.approx(accuracy(pairs), abs=1e-4)
    assert figures["macro_f1"] == pytest.approx(macro_f1(pairs), abs=1e-4)
    assert figures["out_of_scope_confident_transactional"] == 0, text
    assert figures["accuracy"] >= ACCURACY_FLOOR, text


def test_out_of_scope_never_lands_confidently_on_a_transactional_intent(
    understood: list[tuple[dict[str, str], Any]],
) -> None:
    wrong = [
        (row["text"], u.intent, round(u.confidence, 3))
        for row, u in understood
        if row["intent"] == "out_of_scope" and u.confident and u.intent in TRANSACTIONAL
    ]
    assert not wrong, wrong
