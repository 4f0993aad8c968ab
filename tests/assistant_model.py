"""The trained assistant model for tests: trained once per machine and training set.

``trained_model_dir()`` returns a directory under the system temp dir keyed by the
training data's sha256, the encoder version, scikit-learn's version and the model version;
the first caller trains it (about a minute on a busy machine), every later one (other
tests, other xdist workers, later runs) reuses it. An ``fcntl.flock`` on a lock file next
to it keeps two workers from training at once. Use it as
``load(trained_model_dir())`` (forbear.assistant.nlu.model).
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from functools import cache
from pathlib import Path


def _key() -> str:
    import sklearn

    from forbear.assistant.nlu.features import default_encoder
    from forbear.assistant.nlu.model import DEFAULT_DATA, MODEL_VERSION, data_sha256

    encoder = default_encoder()
    parts = [data_sha256(DEFAULT_DATA), encoder.name, encoder.version, sklearn.__version__]
    return hashlib.sha256("|".join([MODEL_VERSION, *parts]).encode()).hexdigest()[:16]


@cache
def trained_model_dir() -> Path:
    from forbear.assistant.nlu.model import ModelUnusable, load, train

    root = Path(tempfile.gettempdir()) / "forbear-assistant-model"
    root.mkdir(exist_ok=True)
    model_dir = root / _key()
    with open(root / f"{model_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            load(model_dir)
        except ModelUnusable:
            train(out_dir=model_dir)
            load(model_dir)  # fails loudly if what was written cannot be read
    return model_dir
