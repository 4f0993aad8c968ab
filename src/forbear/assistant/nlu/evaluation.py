"""Scoring an understander on labelled messages (``forbear assistant eval``): accuracy,
macro-F1, per-intent precision and recall, the confusion matrix, and the count that
matters most for safety: out-of-scope messages confidently taken as a transactional
intent (it must be zero)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from forbear.assistant.nlu import INTENTS, Understanding
from forbear.assistant.nlu.model import TRANSACTIONAL, TrainedUnderstander


def evaluate(
    understander: TrainedUnderstander, texts: Sequence[str], truth: Sequence[str], *, today: date
) -> dict[str, Any]:
    found = understander.understand_many(texts, today=today)
    return score(found, truth)


def score(found: Sequence[Understanding], truth: Sequence[str]) -> dict[str, Any]:
    predicted = [u.intent for u in found]
    labels = list(INTENTS)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    matrix = confusion_matrix(truth, predicted, labels=labels)
    present = sorted(set(truth) | set(predicted), key=labels.index)
    leaks = [
        i
        for i, (u, t) in enumerate(zip(found, truth, strict=True))
        if t == "out_of_scope" and u.confident and u.intent in TRANSACTIONAL
    ]
    confident = [u.confident for u in found]
    right = [u.intent == t for u, t in zip(found, truth, strict=True)]
    n_conf = sum(confident)
    return {
        "messages": len(found),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(
            float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)), 4
        ),
        "confident_share": round(n_conf / len(found), 4) if found else 0.0,
        "confident_accuracy": round(
            sum(c and r for c, r in zip(confident, right, strict=True)) / n_conf, 4
        )
        if n_conf
        else 0.0,
        "out_of_scope_confident_transactional": len(leaks),
        "per_intent": {
            intent: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, intent in enumerate(labels)
        },
        "labels": labels,
        "confusion": matrix.tolist(),
    }
