"""The intent model: training, the artefact on disk, loading it (issue 14, item 2).

``train(data_path, out_dir)`` reads the training set (``data/train.yaml``), embeds every
message once, cross-validates (5 folds, stratified, seeded) to report accuracy and
macro-F1 and to choose the two thresholds, fits the final classifier on everything and
writes the artefact: a directory with ``pipeline.joblib`` (the fitted TF-IDF vectoriser
and logistic regression, scikit-learn objects and numpy arrays, for inspection and
retraining), ``runtime.npz`` (the same model as plain arrays: what the app answers with,
without importing scikit-learn, :mod:`.runtime`) and ``meta.json`` (model version, the
training data's sha256, the intents, thresholds, encoder name and version, scikit-learn
version, CV figures, trained_at).

``load(model_dir)`` refuses an artefact made from other training data, for other intents,
by another model version or with another encoder version (:class:`ModelUnusable`, a
ConfigurationError); ``load_or_train(model_dir)`` trains when it is missing or stale (one
log line, nothing downloaded).

The thresholds: a message is *confident* when its top probability is at least
``min_confidence`` and leads the runner-up by at least ``min_margin``. Both are chosen on
the out-of-fold probabilities of the training set (never on an evaluation file) so that no
out-of-scope or small-talk message lands confidently on a transactional intent, then
kept above floors (0.40 and 0.10) so that a small training set cannot talk them down.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from forbear.assistant.nlu import INTENTS, Understanding
from forbear.assistant.nlu.entities import extract
from forbear.assistant.nlu.features import (
    Encoder,
    char_vectoriser,
    combine,
    cut,
    default_encoder,
)
from forbear.assistant.nlu.normalise import detect_language, normalise
from forbear.assistant.nlu.runtime import LinearIntentModel, from_fitted
from forbear.domain.errors import ConfigurationError

log = logging.getLogger(__name__)

# Bumped whenever training changes what an artefact holds or how its thresholds are chosen:
# every older artefact is then stale and retrained.
MODEL_VERSION = "2"
DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "train.yaml"
PIPELINE_FILE = "pipeline.joblib"
RUNTIME_FILE = "runtime.npz"
META_FILE = "meta.json"

# Intents on which the assistant acts or records something (a promise, a plan or
# deferral request, a vulnerability flag, a dispute hold, a payment check, a complaint
# with its SLA clock, an opt-out, an identity check, a wrong-number mark, a waiver
# request): an out-of-scope message must (almost) never land on one of these confidently.
# balance, due_date and payment_method only answer (after identity is verified).
TRANSACTIONAL: frozenset[str] = frozenset(
    {
        "promise_to_pay",
        "request_instalment",
        "request_deferral",
        "hardship",
        "dispute",
        "already_paid",
        "complaint",
        "stop_contact",
        "verify_identity",
        "wrong_person",
        "fee_waiver",
    }
)

# Chosen by 5-fold CV on the training set (docs/assistant.md): the embedding standardised
# per dimension and weighted twice the n-grams, C = 10.
EMBEDDING_WEIGHT = 2.0
C = 10.0
FOLDS = 5
SEED = 20261207
MIN_CONFIDENCE_FLOOR = 0.40
MIN_MARGIN_FLOOR = 0.10
MAX_LEAK_SHARE = 0.01
BATCH = 256
MAX_ENTITY_CHARS = 2000


class ModelUnusable(ConfigurationError):
    """The artefact is missing, unreadable, or made from other data or another encoder."""


# --- the training set ---------------------------------------------------------------


def data_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_training_data(path: Path) -> tuple[list[str], list[str]]:
    """The messages and their intents; every intent of :data:`INTENTS` must be there."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelUnusable(f"training data {path}: unreadable ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("intents"), dict):
        raise ModelUnusable(f"training data {path}: expected a mapping 'intents'")
    texts: list[str] = []
    labels: list[str] = []
    for intent, messages in raw["intents"].items():
        if intent not in INTENTS:
            raise ModelUnusable(f"training data {path}: unknown intent {intent!r}")
        if not isinstance(messages, list) or not messages:
            raise ModelUnusable(f"training data {path}: intent {intent!r} has no messages")
        for message in messages:
            if not isinstance(message, str) or not message.strip():
                raise ModelUnusable(
                    f"training data {path}: intent {intent!r}: {message!r} is not a message"
                )
            texts.append(message)
            labels.append(intent)
    missing = set(INTENTS) - set(labels)
    if missing:
        raise ModelUnusable(f"training data {path}: no messages for {sorted(missing)}")
    return texts, labels


# --- fitting ------------------------------------------------------------------------


@dataclass
class Classifier:
    """The fitted part: vectoriser and logistic regression (labels in INTENTS order)."""

    vectoriser: Any  # TfidfVectorizer
    regression: Any  # LogisticRegression
    embedding_weight: float
    uses_encoder: bool
    # e5 vectors all point roughly the same way: each dimension is centred and scaled
    # by the training set's mean and standard deviation before the classifier sees it.
    embedding_mean: np.ndarray[Any, Any] | None = None
    embedding_scale: np.ndarray[Any, Any] | None = None

    def standardise(self, embeddings: np.ndarray[Any, Any] | None) -> np.ndarray[Any, Any] | None:
        if not self.uses_encoder or embeddings is None:
            return None
        assert self.embedding_mean is not None and self.embedding_scale is not None
        standardised: np.ndarray[Any, Any] = (
            embeddings - self.embedding_mean
        ) / self.embedding_scale
        return standardised

    def probabilities(
        self, normalised: Sequence[str], embeddings: np.ndarray[Any, Any] | None
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        ngrams = self.vectoriser.transform(cut(normalised))
        features = combine(self.standardise(embeddings), ngrams, self.embedding_weight)
        probs = np.asarray(self.regression.predict_proba(features), dtype=np.float64)
        # Columns in INTENTS order, whatever order the regression learnt them in.
        order = [list(self.regression.classes_).index(i) for i in INTENTS]
        return probs[:, order]


def fit_classifier(
    normalised: Sequence[str],
    labels: Sequence[str],
    embeddings: np.ndarray[Any, Any] | None,
    *,
    c: float = C,
    embedding_weight: float = EMBEDDING_WEIGHT,
) -> Classifier:
    from sklearn.linear_model import LogisticRegression

    vectoriser = char_vectoriser()
    ngrams = vectoriser.fit_transform(cut(normalised))
    model = Classifier(
        vectoriser,
        LogisticRegression(C=c, max_iter=1000, tol=1e-3),
        embedding_weight,
        embeddings is not None,
    )
    if embeddings is not None:
        model.embedding_mean = embeddings.mean(axis=0)
        # sqrt(dim): the standardised vector's length is then about 1, like an n-gram row.
        model.embedding_scale = (embeddings.std(axis=0) + 1e-6) * np.sqrt(embeddings.shape[1])
    features = combine(model.standardise(embeddings), ngrams, embedding_weight)
    model.regression.fit(features, list(labels))
    return model


def out_of_fold(
    normalised: Sequence[str],
    labels: Sequence[str],
    embeddings: np.ndarray[Any, Any] | None,
    *,
    folds: int = FOLDS,
    c: float = C,
    embedding_weight: float = EMBEDDING_WEIGHT,
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Each message's probabilities from a model that did not see it (INTENTS order)."""
    from sklearn.model_selection import StratifiedKFold

    texts = list(normalised)
    y = np.asarray(labels)
    probs = np.zeros((len(texts), len(INTENTS)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for train_idx, test_idx in splitter.split(texts, y):
        model = fit_classifier(
            [texts[i] for i in train_idx],
            y[train_idx],
            None if embeddings is None else embeddings[train_idx],
            c=c,
            embedding_weight=embedding_weight,
        )
        probs[test_idx] = model.probabilities(
            [texts[i] for i in test_idx], None if embeddings is None else embeddings[test_idx]
        )
    return probs


def top_two(probs: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
    """Index of the best and second intent, their probabilities, per row."""
    order = np.argsort(-probs, axis=1)
    rows = np.arange(len(probs))
    return order[:, 0], order[:, 1], probs[rows, order[:, 0]], probs[rows, order[:, 1]]


def choose_thresholds(
    probs: np.ndarray[Any, Any], labels: Sequence[str]
) -> tuple[float, float, dict[str, float]]:
    """The (confidence, margin) pair, above the floors, under which at most
    :data:`MAX_LEAK_SHARE` of the out-of-scope messages are confidently predicted as a
    transactional intent, maximising the share of messages that are confident and right
    minus three times the share confident and wrong (a wrong confident answer costs a
    correction; an unconfident one costs a question). Out of fold, each out-of-scope
    message is judged by a model that saw none like it: the engine's rules and read-back
    stand behind the few that pass."""
    best_i, _, p1, p2 = top_two(probs)
    predicted = np.asarray(INTENTS)[best_i]
    truth = np.asarray(labels)
    right = predicted == truth
    leak = (truth == "out_of_scope") & np.isin(predicted, list(TRANSACTIONAL))
    allowed = int(MAX_LEAK_SHARE * (truth == "out_of_scope").sum())
    best: tuple[float, float, float] | None = None
    for conf in np.arange(MIN_CONFIDENCE_FLOOR, 0.951, 0.025):
        for margin in np.arange(MIN_MARGIN_FLOOR, 0.601, 0.025):
            confident = (p1 >= conf) & (p1 - p2 >= margin)
            if (confident & leak).sum() > allowed:
                continue
            score = (confident & right).mean() - 3 * (confident & ~right).mean()
            if best is None or score > best[0] + 1e-9:
                best = (float(score), float(conf), float(margin))
    if best is None:  # nothing is safe: only near-certain answers are confident
        best = (0.0, 0.95, 0.6)
    _, conf, margin = best
    confident = (p1 >= conf) & (p1 - p2 >= margin)
    figures = {
        "confident_share": float(confident.mean()),
        "confident_accuracy": float(right[confident].mean()) if confident.any() else 0.0,
        "out_of_scope_confident_transactional": int(
            (confident & leak & (truth == "out_of_scope")).sum()
        ),
    }
    return round(conf, 3), round(margin, 3), figures


# --- the understander ----------------------------------------------------------------


class TrainedUnderstander:
    """The :class:`~forbear.assistant.nlu.Understander` the app uses."""

    def __init__(
        self,
        classifier: Classifier | LinearIntentModel,
        meta: dict[str, Any],
        encoder: Encoder | None,
    ) -> None:
        self.classifier = classifier
        self.meta = meta
        self.encoder = encoder
        self.min_confidence = float(meta["thresholds"]["min_confidence"])
        self.min_margin = float(meta["thresholds"]["min_margin"])

    def understand(self, text: str, *, today: date) -> Understanding:
        return self.understand_many([text], today=today)[0]

    def understand_many(self, texts: Sequence[str], *, today: date) -> list[Understanding]:
        normalised = [normalise(t) for t in texts]
        readable = [i for i, n in enumerate(normalised) if n]
        probs = np.zeros((len(texts), len(INTENTS)))
        for start in range(0, len(readable), BATCH):  # a big file: the encoder in batches
            rows = readable[start : start + BATCH]
            subset = [normalised[i] for i in rows]
            embeddings = self.encoder.encode(subset) if self.encoder is not None else None
            probs[rows] = self.classifier.probabilities(subset, embeddings)
        out = []
        for i, (text, norm) in enumerate(zip(texts, normalised, strict=True)):
            # Entities from the first 2,000 characters (a longer message is cut by the
            # engine with a polite note; this keeps the patterns' work bounded).
            amounts, dates, digits = extract(norm[:MAX_ENTITY_CHARS], today)
            language = detect_language(norm)
            if not norm:
                # Nothing to read (empty, emoji only, binary junk): never confident.
                out.append(
                    Understanding(text, norm, language, "out_of_scope", 0.0, None, 0.0, False)
                )
                continue
            order = np.argsort(-probs[i])
            p1, p2 = float(probs[i, order[0]]), float(probs[i, order[1]])
            out.append(
                Understanding(
                    text=text,
                    normalised=norm,
                    language=language,
                    intent=INTENTS[order[0]],
                    confidence=round(p1, 4),
                    runner_up=INTENTS[order[1]],
                    margin=round(p1 - p2, 4),
                    confident=p1 >= self.min_confidence and p1 - p2 >= self.min_margin,
                    amounts=amounts,
                    dates=dates,
                    digits=digits,
                )
            )
        return out


# --- training and the artefact ---------------------------------------------------------


@dataclass(frozen=True)
class TrainReport:
    out_dir: Path
    examples: int
    cv_accuracy: float
    cv_macro_f1: float
    min_confidence: float
    min_margin: float
    seconds: float


def _encoder_meta(encoder: Encoder | None) -> dict[str, str] | None:
    return None if encoder is None else {"name": encoder.name, "version": encoder.version}


def train(
    data_path: Path = DEFAULT_DATA,
    out_dir: Path | None = None,
    *,
    encoder: Encoder | None = None,
    use_encoder: bool = True,
) -> TrainReport:
    """Cross-validate, fit on everything, write the artefact to ``out_dir`` (files replaced
    atomically, meta.json last)."""
    import joblib
    import sklearn
    from sklearn.metrics import accuracy_score, f1_score

    if out_dir is None:
        raise ModelUnusable("no model directory given")
    started = time.perf_counter()
    texts, labels = load_training_data(data_path)
    sha = data_sha256(data_path)
    normalised = [normalise(t) for t in texts]
    if use_encoder and encoder is None:
        encoder = default_encoder()
    embeddings = encoder.encode(normalised) if use_encoder and encoder is not None else None
    probs = out_of_fold(normalised, labels, embeddings)
    predicted = np.asarray(INTENTS)[probs.argmax(axis=1)]
    accuracy = float(accuracy_score(labels, predicted))
    macro_f1 = float(f1_score(labels, predicted, average="macro"))
    min_confidence, min_margin, figures = choose_thresholds(probs, labels)
    classifier = fit_classifier(normalised, labels, embeddings)
    meta = {
        "model_version": MODEL_VERSION,
        "training_data_sha256": sha,
        "training_examples": len(texts),
        "intents": list(INTENTS),
        "transactional": sorted(TRANSACTIONAL),
        "thresholds": {"min_confidence": min_confidence, "min_margin": min_margin},
        "encoder": _encoder_meta(encoder if use_encoder else None),
        "sklearn_version": sklearn.__version__,
        "classifier": {"kind": "LogisticRegression", "C": C, "embedding_weight": EMBEDDING_WEIGHT},
        "cv": {"folds": FOLDS, "accuracy": round(accuracy, 4), "macro_f1": round(macro_f1, 4)}
        | {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / PIPELINE_FILE, lambda f: joblib.dump({"sha": sha, "c": classifier}, f))
    _write_atomic(out_dir / RUNTIME_FILE, lambda f: from_fitted(classifier, INTENTS).save(f, sha))
    _write_atomic(
        out_dir / META_FILE,
        lambda f: f.write(json.dumps(meta, indent=2, ensure_ascii=False).encode()),
    )
    return TrainReport(
        out_dir,
        len(texts),
        accuracy,
        macro_f1,
        min_confidence,
        min_margin,
        time.perf_counter() - started,
    )


def _write_atomic(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_meta(model_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelUnusable(
            f"no assistant model in {model_dir} (run `forbear assistant train`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelUnusable(f"{model_dir / META_FILE}: unreadable ({type(exc).__name__})") from None
    if not isinstance(meta, dict):
        raise ModelUnusable(f"{model_dir / META_FILE}: not a JSON object")
    thresholds = meta.get("thresholds")
    if not (
        isinstance(thresholds, dict)
        and all(
            isinstance(thresholds.get(k), int | float) for k in ("min_confidence", "min_margin")
        )
        and isinstance(meta.get("training_data_sha256"), str)
    ):
        raise ModelUnusable(f"{model_dir / META_FILE}: thresholds or data hash missing")
    return meta


def staleness(
    meta: dict[str, Any], data_path: Path = DEFAULT_DATA, encoder: Encoder | None = None
) -> str | None:
    """Why an artefact cannot be used with this code and data (None: it can)."""
    if meta.get("model_version") != MODEL_VERSION:
        return f"model version {meta.get('model_version')!r}, expected {MODEL_VERSION!r}"
    if meta.get("training_data_sha256") != data_sha256(data_path):
        return "trained on other training data (sha256 differs)"
    if meta.get("intents") != list(INTENTS):
        return "trained on other intents"
    wanted = meta.get("encoder")
    if wanted is not None:
        current = encoder if encoder is not None else default_encoder()
        if wanted != _encoder_meta(current):
            return (
                f"trained with encoder {wanted.get('name')} {wanted.get('version')}, "
                f"installed {current.name} {current.version}"
            )
    return None


def load(
    model_dir: Path, *, data_path: Path = DEFAULT_DATA, encoder: Encoder | None = None
) -> TrainedUnderstander:
    """The trained understander in ``model_dir``; refuses a stale artefact."""
    meta = read_meta(model_dir)
    reason = staleness(meta, data_path, encoder)
    if reason is not None:
        raise ModelUnusable(
            f"the assistant model in {model_dir} is stale: {reason} (run `forbear assistant train`)"
        )
    try:
        runtime, sha = LinearIntentModel.read(model_dir / RUNTIME_FILE)
    except Exception as exc:  # a missing, cut or foreign file: all mean "retrain"
        raise ModelUnusable(
            f"{model_dir / RUNTIME_FILE}: unreadable ({type(exc).__name__})"
        ) from None
    if sha != meta["training_data_sha256"]:
        raise ModelUnusable(f"{model_dir}: {RUNTIME_FILE} does not match {META_FILE}")
    uses_encoder = meta.get("encoder") is not None
    if uses_encoder != runtime.uses_encoder:
        raise ModelUnusable(f"{model_dir}: {RUNTIME_FILE} does not match {META_FILE}")
    if uses_encoder and encoder is None:
        encoder = default_encoder()
    return TrainedUnderstander(runtime, meta, encoder if uses_encoder else None)


def load_or_train(
    model_dir: Path, *, data_path: Path = DEFAULT_DATA, encoder: Encoder | None = None
) -> TrainedUnderstander:
    """:func:`load`, training first when the artefact is missing or stale."""
    try:
        return load(model_dir, data_path=data_path, encoder=encoder)
    except ModelUnusable as exc:
        log.info("assistant model: training in %s (%s)", model_dir, exc)
    train(data_path, model_dir, encoder=encoder)
    return load(model_dir, data_path=data_path, encoder=encoder)


def default_model_dir(model_dir: Path | None, data_dir: Path) -> Path:
    """``settings.assistant_model_dir`` when set, else ``<data_dir>/models/assistant``
    (the caller reads the settings)."""
    return model_dir if model_dir is not None else data_dir / "models" / "assistant"
