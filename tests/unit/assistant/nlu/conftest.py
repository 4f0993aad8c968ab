from __future__ import annotations

from pathlib import Path

import pytest

from assistant_model import trained_model_dir
from forbear.assistant.nlu.model import TrainedUnderstander, load


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return trained_model_dir()


@pytest.fixture(scope="session")
def understander(model_dir: Path) -> TrainedUnderstander:
    return load(model_dir)
