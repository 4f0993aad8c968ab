"""The model artefact: a versioned, human-readable description of a trained model.

One JSON document per model version, stored in the database (``model_versions``) and
exportable to a file. A scorecard artefact holds everything needed to score without the
training library: features, bins, points, scaling, tier cut-offs, metrics and a
fingerprint of the training data. Scoring compiles it to Polars expressions
(:mod:`forbear.domain.scoring.compiled`), so the daily batch and one online account use
the same code.

A gradient-boosting model (propensity to pay) cannot be written as bins and points; its
artefact carries the same metadata plus the fitted estimator serialised by the trainer
(``estimator_b64``) and, since format version 2, the same model as plain arrays
(``trees_b64``: its trees and calibrator, :mod:`forbear.domain.scoring.forest`), which
scoring uses instead of scikit-learn when present.

``FORMAT_VERSION`` is bumped on any incompatible change; reading an artefact of a newer
format is refused with a clear error rather than misread.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forbear.domain.errors import ConfigurationError

FORMAT: Literal["forbear.model"] = "forbear.model"
FORMAT_VERSION = 2  # 2: ``trees_b64`` (version 1 artefacts are read as they are)


class ModelKind(StrEnum):
    APPLICATION = "application"  # scorecard on an application table (any binary target)
    BEHAVIOUR = "behaviour"  # scorecard on the book: 30+ dpd within the performance window
    EARLY_WARNING = "early_warning"  # current accounts: probability of missing the next instalment
    PROPENSITY = "propensity"  # overdue accounts: probability of paying within 30 days


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


class BinKind(StrEnum):
    INTERVAL = "interval"  # lower <= x < upper (None = unbounded)
    CATEGORIES = "categories"  # x in categories
    MISSING = "missing"  # x is null (or NaN)
    SPECIAL = "special"  # x in special_codes of the feature
    OTHER = "other"  # a category not seen in training


class Bin(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: BinKind
    label: str  # as a risk analyst reads it: "[12.00, 24.00)", "A11, A12", "Missing"
    lower: float | None = None
    upper: float | None = None
    categories: tuple[str, ...] = ()
    count: int = Field(ge=0)
    event_count: int = Field(ge=0)  # "bads"
    woe: float
    iv: float
    points: float


class Feature(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label_zh: str
    label_en: str
    dtype: Literal["numerical", "categorical"]
    special_codes: tuple[float, ...] = ()
    iv: float
    coefficient: float
    bins: tuple[Bin, ...] = Field(min_length=1)

    @property
    def best_points(self) -> float:
        return max(b.points for b in self.bins)


class Scaling(BaseModel):
    """Points to double the odds (PDO) scaling: ``score = offset + factor * ln(odds)``,
    odds = good : bad; ``base_points`` at ``base_odds``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_points: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0


class Tier(BaseModel):
    """A risk tier: accounts with ``score >= min_score`` (and below the next tier's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str  # A (lowest risk) ... E
    min_score: float | None  # None: the floor tier


class Metrics(BaseModel):
    model_config = ConfigDict(extra="allow")

    auc: float
    ks: float
    gini: float
    rows_train: int
    rows_test: int
    bad_rate: float


class TrainingData(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str  # a file name, or "book"
    fingerprint: str  # sha256 of the canonical training frame
    rows: int
    bads: int
    target: str  # the target column or definition
    observation_date: date | None = None
    performance_window_days: int | None = None
    seed: int


class Artefact(BaseModel):
    """Common envelope of every model version."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["forbear.model"] = FORMAT
    format_version: int = FORMAT_VERSION
    kind: ModelKind
    name: str
    created_at: datetime
    description: str = ""
    training: TrainingData
    metrics: Metrics
    # Baseline distributions for monitoring (PSI): share of training rows per score band
    # and per bin of each feature, in the order of ``bands`` / the feature's bins.
    score_bands: tuple[float, ...] = ()
    score_band_shares: tuple[float, ...] = ()
    # scorecards
    features: tuple[Feature, ...] = ()
    intercept_points: float = 0.0
    scaling: Scaling | None = None
    tiers: tuple[Tier, ...] = ()
    # non-scorecard models (propensity): input columns and the serialised estimator
    inputs: tuple[str, ...] = ()
    estimator_b64: str | None = None
    # the same estimator as arrays (forest.dump), with its sha256 in
    # ``training.trees_sha256``; absent when they did not reproduce it exactly
    trees_b64: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Artefact:
        if self.estimator_b64 is None and not self.features:
            raise ValueError("an artefact needs either features (scorecard) or an estimator")
        return self

    @property
    def is_scorecard(self) -> bool:
        return bool(self.features)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def load_artefact(data: str | bytes | dict[str, Any], *, source: str = "artefact") -> Artefact:
    """Parse an artefact, refusing other formats and newer format versions clearly."""
    raw: Any = json.loads(data) if isinstance(data, str | bytes) else data
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigurationError(f"{source}: not a Forbear model artefact")
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ConfigurationError(
            f"{source}: artefact format version {version} is newer than this Forbear "
            f"understands ({FORMAT_VERSION}); upgrade Forbear to use it"
        )
    try:
        return Artefact.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"{source}: invalid artefact at {where}: {first['msg']}") from None


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
