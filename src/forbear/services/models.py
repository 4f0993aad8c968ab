"""Model use cases: train, store, activate, roll back, export, score the book or one account.

Every function works inside the caller's transaction (``Forbear.transaction()``) and
writes nothing until the domain step has fully succeeded: a training that fails raises
before any row exists, and the CLI's transaction rolls back anything else.

Book models are trained and scored with the same feature builder
(:mod:`forbear.domain.scoring.features`): the daily batch scores the whole book, one
account online is the same functions on a book cut down to that borrower's loans.
Scorecards are scored by the compiled Polars expressions, propensity by its estimator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.ledger import products_frame
from forbear.domain.scoring.artefact import Artefact, ModelKind, ModelStatus, load_artefact
from forbear.domain.scoring.compiled import score_frame
from forbear.domain.scoring.features import (
    CATEGORICAL,
    FEATURES,
    BookFrames,
    book_features,
    features_at,
    settlements_from,
)
from forbear.domain.scoring.propensity import (
    load_estimator,
    predict_propensity,
    train_propensity,
)
from forbear.domain.scoring.targets import (
    BOOK_KINDS,
    DEFAULT_WINDOW_DAYS,
    TARGET,
    month_ends,
    scoring_segment,
    training_set,
)
from forbear.services.book import BookDay, DayLedger
from forbear.services.imports.files import UnreadableFile
from forbear.store import audit, bulk
from forbear.store.model_versions import ModelVersionRepository
from forbear.store.models import ModelVersion

EXPORT_FORMATS = ("json", "csv", "xlsx")


@dataclass(frozen=True)
class ModelInfo:
    id: int
    kind: str
    name: str
    version: int
    status: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    metrics: dict[str, Any]


@dataclass(frozen=True)
class Trained:
    """A stored candidate and what the analyst reviews before activating it."""

    model: ModelInfo
    artefact: Artefact
    iv: dict[str, float] = field(default_factory=dict)  # candidate features (scorecards)
    selected: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    rows_immature: int = 0  # dropped: outcome not yet observable
    rows_out_of_segment: int = 0  # active loans the target does not apply to
    observation_dates: tuple[date, ...] = ()


def _info(row: ModelVersion) -> ModelInfo:
    return ModelInfo(
        id=row.id,
        kind=row.kind,
        name=row.name,
        version=row.version,
        status=row.status,
        created_at=row.created_at,
        activated_at=row.activated_at,
        retired_at=row.retired_at,
        metrics=dict(row.metrics),
    )


@contextmanager
def _models(conn: Connection) -> Iterator[ModelVersionRepository]:
    """The model repository on a session joined to ``conn``'s transaction (never commits)."""
    session = Session(bind=conn, expire_on_commit=False)
    try:
        yield ModelVersionRepository(session)
        session.flush()
    finally:
        session.close()


def _store(conn: Connection, artefact: Artefact) -> ModelInfo:
    with _models(conn) as models:
        return _info(models.add(artefact))


# ---------------------------------------------------------------------------- training


def read_application_table(path: Path) -> pl.DataFrame:
    """An application table as typed columns (Polars inference; the columns are the
    lender's own, so there is no contract to cast to)."""
    if not path.exists():
        raise UnreadableFile(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pl.read_csv(path, infer_schema_length=10_000, try_parse_dates=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(
            f"{path.name}: cannot be read as a table ({type(exc).__name__})"
        ) from None
    raise UnreadableFile(
        f"{path.name}: unsupported format {suffix or '(none)'}; use CSV or Parquet"
    )


def train_application(
    conn: Connection,
    path: Path,
    target: str,
    features: Sequence[str] | None = None,
    *,
    seed: int = 42,
    name: str | None = None,
    now: datetime,
    bad_value: str | None = None,
) -> Trained:
    """Train an application scorecard on a file and store a candidate.

    The target is 0/1 with 1 = bad, or any two-valued column with ``bad_value`` naming
    the value that means bad (German Credit's ``creditability`` is good/bad).
    """
    from forbear.domain.scoring.scorecard import train_scorecard  # optbinning: training only

    frame = read_application_table(path)
    if target not in frame.columns:
        raise ValidationError(target, f"no such column in {path.name}")
    if bad_value is not None:
        text = frame.get_column(target).cast(pl.String)
        values = sorted(text.drop_nulls().unique().to_list())
        if bad_value not in values or len(values) != 2:
            raise ValidationError(
                target,
                f"--bad {bad_value!r} needs a target with exactly two values, one of them "
                f"{bad_value!r}; found {', '.join(repr(v) for v in values[:5])}",
            )
        frame = frame.with_columns((text == bad_value).cast(pl.Int8).alias(target))
    artefact, report = train_scorecard(
        frame,
        target,
        kind=ModelKind.APPLICATION,
        name=name or f"application-{path.stem}",
        source=path.name,
        created_at=now,
        seed=seed,
        features=features,
    )
    return Trained(
        model=_store(conn, artefact),
        artefact=artefact,
        iv=report.iv,
        selected=report.selected,
        dropped=report.dropped,
        rows=frame.height,
    )


def load_book(conn: Connection, up_to: date | None = None) -> BookFrames:
    """The ledger's frames of the whole book, loans with ``borrower_id``."""
    loans = bulk.read_loans(conn).join(
        bulk.read_loan_borrowers(conn), on="loan_id", how="left", maintain_order="left"
    )
    return BookFrames(
        loans.lazy(),
        products_frame(bulk.read_products_terms(conn)).lazy(),
        bulk.read_instalments(conn).lazy(),
        bulk.read_payments(conn, up_to=up_to).lazy(),
    )


def train_on_book(
    conn: Connection,
    kind: ModelKind,
    observation_dates: Sequence[date] | None = None,
    window: int | None = None,
    *,
    as_of: date,
    months: int = 6,
    seed: int = 42,
    now: datetime,
    frames: BookFrames | None = None,
) -> Trained:
    """Train a behaviour or early-warning scorecard, or the propensity model, on the book
    as it stood on ``as_of``, stacked over ``observation_dates`` (default: the last
    ``months`` month ends whose outcome has matured by ``as_of``). ``frames``: the book
    read up to ``as_of`` (:func:`load_book`), when the caller trains several kinds."""
    from forbear.domain.scoring.scorecard import train_scorecard  # optbinning: training only

    if kind not in BOOK_KINDS:
        raise ValidationError("--kind", f"{kind.value} is trained from a file, not the book")
    if frames is None:
        frames = load_book(conn, up_to=as_of)
    days = window if window is not None else DEFAULT_WINDOW_DAYS[kind]
    dates = list(observation_dates) if observation_dates else month_ends(as_of, months, days)
    data = training_set(frames, kind, dates, as_of, days)
    if data.frame.height == 0:
        raise ValidationError(
            "observation dates",
            f"no matured rows to train on ({data.rows_immature} immature dropped)",
        )
    candidates = [
        f for f in FEATURES if data.frame.get_column(f).drop_nulls().n_unique() > 1
    ]  # e.g. dpd is 0 on every early-warning row
    created = now
    name = f"{kind.value}-{as_of.isoformat()}"
    iv: dict[str, float] = {}
    selected: tuple[str, ...] = ()
    dropped: dict[str, str] = {}
    if kind is ModelKind.PROPENSITY:
        artefact, _ = train_propensity(
            data.frame,
            TARGET,
            features=candidates,
            categorical=[f for f in candidates if f in CATEGORICAL],
            name=name,
            source="book",
            created_at=created,
            seed=seed,
            description=data.definition,
        )
        selected = tuple(candidates)
    else:
        artefact, report = train_scorecard(
            data.frame,
            TARGET,
            kind=kind,
            name=name,
            source="book",
            created_at=created,
            seed=seed,
            features=candidates,
            labels=FEATURES,
            observation_date=max(dates),
            performance_window_days=days,
        )
        iv, selected, dropped = report.iv, report.selected, report.dropped
    return Trained(
        model=_store(conn, artefact),
        artefact=artefact,
        iv=iv,
        selected=selected,
        dropped=dropped,
        rows=data.frame.height,
        rows_immature=data.rows_immature,
        rows_out_of_segment=data.rows_out_of_segment,
        observation_dates=data.observation_dates,
    )


# ---------------------------------------------------------------------------- life cycle


def activate(
    conn: Connection, version_id: int, *, now: datetime, actor: str = "system"
) -> ModelInfo:
    """Make a version the active one of its kind; the previous active one is retired.

    Audited as ``model.activate`` (nothing is recorded when it is already active)."""
    return _activate(conn, version_id, now=now, actor=actor, action="model.activate")


def _activate(
    conn: Connection, version_id: int, *, now: datetime, actor: str, action: str
) -> ModelInfo:
    moment = now
    with _models(conn) as models:
        chosen = models.require(version_id)
        if chosen.status == ModelStatus.ACTIVE.value:
            return _info(chosen)
        current = models.active(ModelKind(chosen.kind))
        retired = current.id if current is not None else None
        if current is not None:
            current.status = ModelStatus.RETIRED.value
            current.retired_at = moment
            models.session.flush()  # before the new one: one active per kind at all times
        chosen.status = ModelStatus.ACTIVE.value
        chosen.activated_at = moment
        chosen.retired_at = None
        models.session.flush()
        info = _info(chosen)
    audit.record(
        conn,
        action=action,
        actor=actor,
        subject_type="model_version",
        subject_id=info.id,
        payload={"kind": info.kind, "retired": retired},
        at=moment,
    )
    return info


def rollback(
    conn: Connection, kind: ModelKind, *, now: datetime, actor: str = "system"
) -> ModelInfo:
    """Retire the active version of ``kind`` and re-activate the most recently retired one.

    Audited as ``model.rollback`` on the re-activated version."""
    with _models(conn) as models:
        current = models.active(kind)
        previous = models.latest_retired(kind)
        if current is None:
            raise NotFound("active model", kind.value)
        if previous is None:
            raise NotFound("retired model to roll back to", kind.value)
        previous_id = previous.id
    return _activate(conn, previous_id, now=now, actor=actor, action="model.rollback")


def list_models(conn: Connection, kind: ModelKind | None = None) -> list[ModelInfo]:
    with _models(conn) as models:
        rows = models.history(kind) if kind is not None else models.all()
        return [_info(r) for r in rows]


def artefact_of(conn: Connection, version_id: int) -> Artefact:
    """The stored artefact, checked against its stored sha256."""
    with _models(conn) as models:
        row = models.require(version_id)
        artefact = load_artefact(row.artefact, source=f"model version {version_id}")
        if artefact.digest() != row.artefact_sha256:
            raise ValidationError("artefact", f"model version {version_id} fails its checksum")
        return artefact


def export(conn: Connection, version_id: int, path: Path, fmt: str | None = None) -> Path:
    """Write a version's artefact as JSON, or its scorecard table as CSV or Excel."""
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise ValidationError("--to", f"use a .json, .csv or .xlsx file, not {path.name!r}")
    artefact = artefact_of(conn, version_id)
    if fmt == "json":
        path.write_text(artefact.to_json(), encoding="utf-8")
        return path
    if not artefact.is_scorecard:
        raise ValidationError("--to", "only scorecards export to CSV or Excel; use .json")
    from forbear.domain.scoring import export as tables

    return tables.write_csv(artefact, path) if fmt == "csv" else tables.write_excel(artefact, path)


# ---------------------------------------------------------------------------- scoring


def score_features(kind: ModelKind, artefact: Artefact, features: pl.DataFrame) -> pl.DataFrame:
    """``loan_id, score, score_int, tier, pd, reason_codes`` (JSON text) for the rows of
    ``features`` in the model's scoring segment."""
    rows = features.filter(scoring_segment(kind))
    if artefact.is_scorecard:
        scored = score_frame(rows.lazy(), artefact).collect()
        return scored.select(
            "loan_id",
            "score",
            "score_int",
            "tier",
            "pd",
            pl.format(
                "[{}]",
                pl.col("reason_codes").list.eval(pl.format('"{}"', pl.element())).list.join(","),
            ).alias("reason_codes"),
        )
    probability = predict_propensity(rows, artefact)
    return rows.select("loan_id").with_columns(
        score=probability,
        score_int=(probability * 1000).round(0).cast(pl.Int64),
        tier=pl.lit(None, dtype=pl.String),
        pd=pl.lit(None, dtype=pl.Float64),
        reason_codes=pl.lit("[]"),
    )


def _active(conn: Connection) -> list[tuple[int, ModelKind, Artefact]]:
    with _models(conn) as models:
        found = [(r.id, ModelKind(r.kind)) for r in models.all_active()]
    return [(i, k, artefact_of(conn, i)) for i, k in found if k in BOOK_KINDS]


def score_book(conn: Connection, as_of: date) -> dict[str, int]:
    """Score every active loan with each active book model and store the scores of
    ``as_of`` (replacing that date's). Returns the rows stored per kind."""
    return store_scores(conn, as_of, book_scores(conn, as_of))


def book_scores(
    conn: Connection,
    as_of: date,
    *,
    features: pl.DataFrame | None = None,
    warmup: Warmup | None = None,
) -> dict[str, pl.DataFrame]:
    """Each active book model's scores of every active loan as of ``as_of``, by kind;
    reads only (the daily run scores on a read-only snapshot, then stores them in a
    short write with :func:`store_scores`). The daily run passes the ``features`` it
    computed from its own ledger run (:func:`day_features`, :func:`whole_book`) instead
    of reading the book and running the ledger again: the same features (a test checks
    it), and its :class:`Warmup` (the active models it read, their estimators loaded)."""
    if warmup is not None:
        warmup.wait()
    active = _active(conn) if warmup is None else warmup.active
    if not active:
        raise NotFound("active book model", "behaviour, early_warning or propensity")
    feats = features
    if feats is None:
        feats = book_features(load_book(conn, up_to=as_of), as_of)
    return {
        kind.value: score_features(kind, artefact, feats).with_columns(
            as_of=pl.lit(as_of),
            kind=pl.lit(kind.value),
            model_version_id=pl.lit(version_id, dtype=pl.Int64),
        )
        for version_id, kind, artefact in active
    }


class Warmup:
    """The estimators of the active non-scorecard book models (propensity), unpickled on a
    thread of their own: unpickling imports scikit-learn and SciPy (about a thousand
    modules, a second or more of CPU), which the daily run does beside its reading and its
    ledger, which spend their time outside the GIL (SQLite, Arrow, Polars), instead of
    before them. :meth:`wait` before scoring; scoring then finds the estimators in
    :func:`~forbear.domain.scoring.propensity.load_estimator`'s cache."""

    def __init__(self, active: list[tuple[int, ModelKind, Artefact]]) -> None:
        import threading

        self.active = active  # what book_scores scores (read once)
        estimated = [a for _, _, a in active if not a.is_scorecard and a.estimator_b64]
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._load, args=(estimated,), name="model-warmup", daemon=True
        )
        self._thread.start()

    def _load(self, artefacts: list[Artefact]) -> None:
        try:
            for artefact in artefacts:
                load_estimator(artefact)
        except BaseException as exc:  # raised again by wait(), in the caller's thread
            self._error = exc

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def warm_up(conn: Connection) -> Warmup:
    """Start unpickling the active book models' estimators (see :class:`Warmup`)."""
    return Warmup(_active(conn))


def has_active_book_model(conn: Connection) -> bool:
    """Is any book model (behaviour, early warning, propensity) active?"""
    with _models(conn) as models:
        return any(ModelKind(r.kind) in BOOK_KINDS for r in models.all_active())


def day_features(day: BookDay, ledger: DayLedger) -> pl.DataFrame:
    """:func:`~forbear.domain.scoring.features.book_features` of the day's book from the
    day's ledger run (its contract states and allocations): no second ledger run."""
    frames = BookFrames(
        day.loans.lazy(), day.products.lazy(), day.instalments.lazy(), day.payments.lazy()
    )
    settled = settlements_from(
        frames, ledger.contract_states.lazy(), ledger.contract_allocations.lazy(), day.as_of
    )
    return features_at(frames, settled, day.as_of)


def whole_book(parts: Sequence[pl.DataFrame], borrowers: pl.DataFrame) -> pl.DataFrame:
    """Features computed range of loans by range (:func:`day_features`) as one frame,
    ``other_loans`` counted over the whole book (a borrower's loans may fall in different
    ranges): the active loans of the borrower but this one, as on the whole book."""
    feats = pl.concat(parts)
    if len(parts) == 1:
        return feats
    owners = feats.select("loan_id").join(borrowers, on="loan_id", how="left")
    counts = owners.group_by("borrower_id").agg(_n=pl.len())
    return (
        feats.join(owners, on="loan_id", how="left")
        .join(counts, on="borrower_id", how="left")
        .with_columns(other_loans=(pl.col("_n") - 1).cast(pl.Int32))
        .select(feats.columns)
        .sort("loan_id")
    )


def store_scores(conn: Connection, as_of: date, scores: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Store :func:`book_scores`' frames, replacing the date's; rows stored per kind."""
    return {kind: bulk.replace_scores(conn, as_of, kind, frame) for kind, frame in scores.items()}


def score_account(conn: Connection, loan_id: int, as_of: date) -> dict[str, dict[str, Any]]:
    """One account online: the same features and scoring on that borrower's loans.
    Returns, per active kind whose segment the account is in, the score row."""
    frames = load_book(conn, up_to=as_of).only([loan_id])
    if frames.loans.select("loan_id").filter(pl.col("loan_id") == loan_id).collect().is_empty():
        raise NotFound("loan", str(loan_id))
    feats = book_features(frames, as_of).filter(pl.col("loan_id") == loan_id)
    result: dict[str, dict[str, Any]] = {}
    for version_id, kind, artefact in _active(conn):
        rows = score_features(kind, artefact, feats)
        if rows.height:
            row = rows.row(0, named=True)
            row["model_version_id"] = version_id
            row["reason_codes"] = json.loads(row["reason_codes"])
            result[kind.value] = row
    return result
