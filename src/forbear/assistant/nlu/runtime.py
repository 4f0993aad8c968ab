"""The fitted intent model as plain numpy arrays, for answering messages (issue 14).

Training uses scikit-learn (:mod:`.model`); answering needs only the n-gram vocabulary,
the IDF weights, the embedding's centring and scale, and the regression's coefficients.
Importing scikit-learn and SciPy costs about 1.2 s of CPU at every cold start (the
assistant's own work is 20 ms a message), so the artefact also holds these arrays
(``runtime.npz``, read with ``allow_pickle=False``) and the app answers with numpy alone.
A test checks that these probabilities equal scikit-learn's on every training message.

The n-grams are scikit-learn's ``char_wb`` analyser (each whitespace-separated word
padded with one space on each side, 1-3 characters, a word shorter than n giving itself
once), counted, ``1 + log(tf)``, times IDF, L2-normalised; the probabilities are the
multinomial logistic regression's softmax.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from forbear.assistant.nlu.features import MAX_CHARS

_WHITE_SPACES = re.compile(r"\s\s+")
Array = np.ndarray[Any, Any]


def char_wb_ngrams(text: str, low: int = 1, high: int = 3) -> list[str]:
    """scikit-learn's ``char_wb`` n-grams of an already lower-cased text."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:  # the word is shorter than n: counted once
                break
    return grams


@dataclass(frozen=True)
class LinearIntentModel:
    vocabulary: dict[str, int]
    idf: Array  # (n_grams,)
    coef_embedding: Array | None  # (n_intents, dim), already scaled by the embedding weight
    embedding_mean: Array | None  # (dim,)
    embedding_scale: Array | None  # (dim,)
    coef_ngrams: Array  # (n_intents, n_grams)
    intercept: Array  # (n_intents,)

    @property
    def uses_encoder(self) -> bool:
        return self.coef_embedding is not None

    def probabilities(self, normalised: Sequence[str], embeddings: Array | None) -> Array:
        """Rows of probabilities, columns in the order the model was saved in (INTENTS)."""
        logits = np.tile(self.intercept, (len(normalised), 1)).astype(np.float64)
        for row, text in enumerate(normalised):
            counts = Counter(
                self.vocabulary[g] for g in char_wb_ngrams(text[:MAX_CHARS]) if g in self.vocabulary
            )
            if counts:
                index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                weights = (1.0 + np.log(tf)) * self.idf[index]
                weights /= np.linalg.norm(weights)
                logits[row] += self.coef_ngrams[:, index] @ weights
        if self.coef_embedding is not None and embeddings is not None:
            assert self.embedding_mean is not None and self.embedding_scale is not None
            standardised = (embeddings - self.embedding_mean) / self.embedding_scale
            logits += standardised.astype(np.float64) @ self.coef_embedding.T
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: Array = exp / exp.sum(axis=1, keepdims=True)
        return probs

    def save(self, f: BinaryIO, sha: str) -> None:
        """Write the arrays (and the training data's ``sha``) as one .npz to ``f``."""
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        arrays: dict[str, Array] = {
            "terms": np.asarray(terms, dtype=np.str_),
            "idf": self.idf,
            "coef_ngrams": self.coef_ngrams,
            "intercept": self.intercept,
            "sha": np.asarray(sha, dtype=np.str_),
        }
        if self.coef_embedding is not None:
            assert self.embedding_mean is not None and self.embedding_scale is not None
            arrays |= {
                "coef_embedding": self.coef_embedding,
                "embedding_mean": self.embedding_mean,
                "embedding_scale": self.embedding_scale,
            }
        np.savez(f, **arrays)  # type: ignore[arg-type]

    @classmethod
    def read(cls, path: Path) -> tuple[LinearIntentModel, str]:
        """The model in ``path`` and the sha256 of the data it was trained on."""
        with np.load(path, allow_pickle=False) as data:
            terms = [str(t) for t in data["terms"]]
            has_encoder = "coef_embedding" in data.files
            model = cls(
                vocabulary={t: i for i, t in enumerate(terms)},
                idf=data["idf"],
                coef_embedding=data["coef_embedding"] if has_encoder else None,
                embedding_mean=data["embedding_mean"] if has_encoder else None,
                embedding_scale=data["embedding_scale"] if has_encoder else None,
                coef_ngrams=data["coef_ngrams"],
                intercept=data["intercept"],
            )
            return model, str(data["sha"])


def from_fitted(classifier: Any, intents: Sequence[str]) -> LinearIntentModel:
    """The arrays of a fitted :class:`forbear.assistant.nlu.model.Classifier`, rows in
    ``intents`` order."""
    regression = classifier.regression
    order = [list(regression.classes_).index(i) for i in intents]
    coef = np.asarray(regression.coef_, dtype=np.float64)[order]
    intercept = np.asarray(regression.intercept_, dtype=np.float64)[order]
    vocabulary = {str(k): int(v) for k, v in classifier.vectoriser.vocabulary_.items()}
    idf = np.asarray(classifier.vectoriser.idf_, dtype=np.float64)
    if not classifier.uses_encoder:
        return LinearIntentModel(vocabulary, idf, None, None, None, coef, intercept)
    dim = len(classifier.embedding_mean)
    return LinearIntentModel(
        vocabulary,
        idf,
        coef[:, :dim] * classifier.embedding_weight,
        np.asarray(classifier.embedding_mean, dtype=np.float64),
        np.asarray(classifier.embedding_scale, dtype=np.float64),
        coef[:, dim:],
        intercept,
    )
