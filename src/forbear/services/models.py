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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.ledger import Settled, products_frame
from forbear.domain.scoring.artefact import Artefact, ModelKind, ModelStatus, load_artefact
from forbear.domain.scoring.compiled import score_frame
from forbear.domain.scoring.features import (
    CATEGORICAL,
    FEATURES,
    BookFrames,
    book_features,
    features_at,
)
from forbear.domain.scoring.propensity import (
    load_estimator,
    load_trees,
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

if TYPE_CHECKING:
    from forbear.domain.scoring.scorecard import ScorecardConfig

EXPORT_FORMATS = ("json", "csv", "xlsx")
REASONS = 4  # reason codes stored per scored account


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
    tier_table: pl.DataFrame | None = None  # rows, bads, bad rate per tier (scorecards)
    warnings: tuple[tuple[str, str], ...] = ()  # (zh, en): protected attributes
    excluded: tuple[str, ...] = ()


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


NULL_TOKENS = ("", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None", "#N/A", "?")
# A column whose values are numbers but for a few is a column of numbers with bad values
# (a typo, a stray unit), not a column of categories: at most this share of non-numbers.
BAD_VALUE_SHARE = 0.02
MAX_TABLE_BYTES = 2 * 1024**3


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (Excel on a Chinese Windows saves it)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_error = exc
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        line = data[: first_error.start].count(b"\n") + 1
        raise UnreadableFile(
            f"{path.name} line {line}: not UTF-8 or GB18030 text (byte {first_error.start})"
        ) from None


def _record_lines(path: Path, text: str) -> tuple[list[str], list[int]]:
    """The header and the line number of every record; refuses a record whose field count
    is not the header's (a short or long line), naming its line."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise UnreadableFile(f"{path.name} line 1: no header")
        width = len(header)
        lines: list[int] = []
        trailing_blank = 0
        for row in reader:
            if not row:  # an empty line
                trailing_blank += 1
                continue
            if trailing_blank:
                raise UnreadableFile(
                    f"{path.name} line {reader.line_num - 1}: empty line inside the table"
                )
            if len(row) != width:
                raise UnreadableFile(
                    f"{path.name} line {reader.line_num}: {len(row)} fields where the header "
                    f"has {width}; fix or remove the line (nothing was read)"
                )
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise UnreadableFile(f"{path.name} line {reader.line_num}: {exc}") from None
    names = [h.strip() for h in header]
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        if not name:
            raise UnreadableFile(f"{path.name} line 1: column {i} has no name")
        if name in seen:
            raise UnreadableFile(f"{path.name} line 1: column {name!r} appears twice")
        seen.add(name)
    return names, lines


def _typed(
    path: Path, frame: pl.DataFrame, lines: Sequence[int], categorical: Sequence[str]
) -> pl.DataFrame:
    """Columns of text typed from every row (not a sample): integers, else numbers in any
    notation (``1.00E+05``), else text; a column of numbers but for a few values is
    refused naming the line and column of the first bad value."""
    declared = set(categorical)
    out: list[pl.Series] = []
    for name in frame.columns:
        text = frame.get_column(name).str.strip_chars()
        text = pl.Series(name, text).set(text.is_in(NULL_TOKENS).fill_null(False), None)
        if name in declared:
            out.append(text)
            continue
        number = text.cast(pl.Float64, strict=False)
        present = text.is_not_null()
        bad = present & number.is_null()
        n_bad, n_present = int(bad.sum()), int(present.sum())
        if n_present == 0 or n_bad == n_present or n_bad > BAD_VALUE_SHARE * n_present:
            out.append(text)  # text (categories); all-missing columns stay text
            continue
        if n_bad:
            row = int(bad.arg_true()[0])
            raise UnreadableFile(
                f"{path.name} line {lines[row]}, column {name!r}: not a number, but "
                f"{n_present - n_bad:,} of the column's {n_present:,} values are "
                f"({n_bad:,} are not); fix the value, or declare the column with "
                "--categorical if it holds categories"
            )
        integer = text.cast(pl.Int64, strict=False)
        whole = integer.null_count() == text.null_count()
        out.append(integer if whole else number)
    return pl.DataFrame(out)


def read_application_table(path: Path, categorical: Sequence[str] = ()) -> pl.DataFrame:
    """An application table as typed columns (see :func:`read_table`)."""
    return read_table(path, categorical)[0]


def read_table(
    path: Path, categorical: Sequence[str] = ()
) -> tuple[pl.DataFrame, list[int] | None]:
    """An application table as typed columns, and for CSV the line of every row.

    Parquet keeps its own types. CSV (UTF-8, or GB18030) is checked line by line first: a
    line with more or fewer fields than the header is refused with its line number, so a
    broken line is never read as a row of missing values. Types come from the whole file,
    not a sample: a number written ``1.00E+05`` on line 13,451 is a number; a value that
    is not a number in a column of numbers is refused naming its line and column.
    ``categorical`` columns are kept as text (integer codes binned as categories).
    """
    if not path.exists():
        raise UnreadableFile(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableFile(f"{path.name}: is a directory, not a table")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise UnreadableFile(
                f"{path.name}: cannot be read as Parquet ({type(exc).__name__})"
            ) from None
        missing = [c for c in categorical if c not in frame.columns]
        if missing:
            raise ValidationError(missing[0], f"no such column in {path.name}")
        return frame.with_columns(pl.col(c).cast(pl.String) for c in categorical), None
    if suffix not in (".csv", ".txt"):
        raise UnreadableFile(
            f"{path.name}: unsupported format {suffix or '(none)'}; use CSV or Parquet"
        )
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise UnreadableFile(f"{path.name}: larger than 2 GB; use Parquet")
    text = _decode(path, path.read_bytes())
    names, lines = _record_lines(path, text)
    if not lines:
        raise UnreadableFile(f"{path.name}: no rows under the header")
    missing = [c for c in categorical if c not in names]
    if missing:
        raise ValidationError(missing[0], f"no such column in {path.name}")
    try:
        raw = pl.read_csv(
            text.encode("utf-8"),
            infer_schema=False,
            new_columns=names,
        )
    except pl.exceptions.PolarsError as exc:
        raise UnreadableFile(
            f"{path.name}: cannot be read as a table ({type(exc).__name__})"
        ) from None
    raw = raw.filter(~pl.all_horizontal(pl.all().is_null()))  # empty lines at the end
    if raw.height != len(lines):
        raise UnreadableFile(
            f"{path.name}: {raw.height:,} rows read for {len(lines):,} lines; "
            "check the quoting of the file"
        )
    return _typed(path, raw, lines, categorical), lines


def read_labels(path: Path) -> dict[str, tuple[str, str]]:
    """Feature labels (zh, en) from a YAML or CSV file (see docs/scoring.md)."""
    from forbear.domain.scoring.labels import parse_labels_csv, parse_labels_yaml

    if not path.is_file():
        raise UnreadableFile(f"{path}: no such file")
    text = _decode(path, path.read_bytes())
    if path.suffix.lower() in (".yaml", ".yml"):
        return parse_labels_yaml(text, path.name)
    if path.suffix.lower() == ".csv":
        return parse_labels_csv(text, path.name)
    raise UnreadableFile(f"{path.name}: labels are a .yaml or .csv file")


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
    config: ScorecardConfig | None = None,
    labels: Mapping[str, tuple[str, str]] | None = None,
) -> Trained:
    """Train an application scorecard on a file and store a candidate.

    The target is 0/1 with 1 = bad, or any two-valued column with ``bad_value`` naming
    the value that means bad (German Credit's ``creditability`` is good/bad).
    ``config`` carries the analyst's thresholds, categorical columns and exclusions;
    ``labels`` the words of the reason codes (:func:`read_labels`).
    """
    from forbear.domain.scoring.scorecard import ScorecardConfig, train_scorecard

    config = config or ScorecardConfig()
    frame = read_application_table(path, categorical=config.categorical)
    if target not in frame.columns:
        raise ValidationError(target, f"no such column in {path.name}")
    frame = binary_outcome(frame, target, bad_value, path.name)
    if labels:
        unknown = sorted(set(labels) - set(frame.columns))
        if unknown and len(unknown) == len(labels):
            raise ValidationError("--labels", f"no label names a column of {path.name}")
    for column in config.exclude:
        if column not in frame.columns:
            raise ValidationError(column, f"--exclude: no such column in {path.name}")
    artefact, report = train_scorecard(
        frame,
        target,
        kind=ModelKind.APPLICATION,
        name=name or f"application-{path.stem}",
        source=path.name,
        created_at=now,
        seed=seed,
        features=features,
        config=config,
        labels=labels,
    )
    return Trained(
        model=_store(conn, artefact),
        artefact=artefact,
        iv=report.iv,
        selected=report.selected,
        dropped=report.dropped,
        rows=frame.height,
        tier_table=report.tier_table,
        warnings=report.warnings,
        excluded=report.excluded,
    )


def binary_outcome(
    frame: pl.DataFrame,
    target: str,
    bad_value: str | None,
    source: str,
    *,
    allow_missing: bool = False,
) -> pl.DataFrame:
    """``target`` as 0/1 (1 = bad): with ``bad_value``, the column must have exactly two
    values and that one is bad; without it, it must already be 0/1. A refusal names the
    values found (at most five), never a row. ``allow_missing`` keeps nulls (outcomes
    not yet matured) instead of refusing them."""
    column = frame.get_column(target)
    text = column.cast(pl.String)
    values = sorted(text.drop_nulls().unique().to_list())
    shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
    if column.null_count() and not allow_missing:
        raise ValidationError(
            target, f"{column.null_count():,} rows of {source} have no value for the target"
        )
    if bad_value is not None:
        if bad_value not in values or len(values) != 2:
            raise ValidationError(
                target,
                f"--bad {bad_value!r} needs a target with exactly two values, one of them "
                f"{bad_value!r}; found {len(values)}: {shown}",
            )
        return frame.with_columns((text == bad_value).cast(pl.Int8).alias(target))
    if not set(values) <= {"0", "1", "true", "false"}:
        raise ValidationError(
            target,
            f"target must be binary 0/1 (1 = bad); found {len(values)} values: {shown}; "
            "give --bad VALUE for a two-valued target",
        )
    return frame.with_columns(
        text.replace_strict({"0": 0, "1": 1, "false": 0, "true": 1}, return_dtype=pl.Int8).alias(
            target
        )
    )


def load_book(
    conn: Connection,
    up_to: date | None = None,
    *,
    schedules: tuple[pl.DataFrame, pl.DataFrame] | None = None,
) -> BookFrames:
    """The ledger's frames of the whole book, loans with ``borrower_id``. ``schedules``:
    the caller's read of every instalment and of the payments up to ``up_to``
    (:func:`~forbear.store.bulk.read_instalments`, :func:`~forbear.store.bulk.read_payments`),
    not read again (``forbear demo`` has them: a few seconds on its book)."""
    loans = bulk.read_loans(conn).join(
        bulk.read_loan_borrowers(conn), on="loan_id", how="left", maintain_order="left"
    )
    instalments, payments = (
        schedules
        if schedules is not None
        else (bulk.read_instalments(conn), bulk.read_payments(conn, up_to=up_to))
    )
    return BookFrames(
        loans.lazy(),
        products_frame(bulk.read_products_terms(conn)).lazy(),
        instalments.lazy(),
        payments.lazy(),
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
    settled: Settled | None = None,
) -> Trained:
    """Train a behaviour or early-warning scorecard, or the propensity model, on the book
    as it stood on ``as_of``, stacked over ``observation_dates`` (default: the last
    ``months`` month ends whose outcome has matured by ``as_of``). ``frames``: the book
    read up to ``as_of`` (:func:`load_book`), when the caller trains several kinds;
    ``settled``: :func:`~forbear.domain.scoring.features.settlements` of those frames at
    ``as_of`` (the ledger run every kind's training set starts from), likewise."""
    from forbear.domain.scoring.scorecard import train_scorecard  # optbinning: training only

    if kind not in BOOK_KINDS:
        raise ValidationError("--kind", f"{kind.value} is trained from a file, not the book")
    if frames is None:
        frames = load_book(conn, up_to=as_of)
    days = window if window is not None else DEFAULT_WINDOW_DAYS[kind]
    dates = list(observation_dates) if observation_dates else month_ends(as_of, months, days)
    data = training_set(frames, kind, dates, as_of, days, settled=settled)
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
    tier_table: pl.DataFrame | None = None
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
        tier_table = report.tier_table
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
        tier_table=tier_table,
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
        top = min(REASONS, len(artefact.features))
        scored = score_frame(
            rows.lazy(), artefact, reasons=top, points=False, reason_list=False
        ).collect()
        # the JSON list from the fixed reason columns: no list per row (feature names are
        # column names of our own feature builder, no quotes or backslashes to escape)
        quoted = [
            pl.format('"{}"', pl.col(f"reason_{j}").cast(pl.String)) for j in range(1, top + 1)
        ]
        return scored.select(
            "loan_id",
            "score",
            "score_int",
            "tier",
            "pd",
            (
                pl.format("[{}]", pl.concat_str(quoted, separator=",", ignore_nulls=True))
                if quoted
                else pl.lit("[]")
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
    """The active non-scorecard book models (propensity) loaded on a thread of their own:
    their arrays (:func:`~forbear.domain.scoring.propensity.load_trees`, a few
    milliseconds), or for an artefact without them the pickled estimator, whose unpickling
    imports scikit-learn and SciPy (about a thousand modules, a second or more of CPU),
    beside the daily run's reading and ledger rather than before them. :meth:`wait` before
    scoring; scoring then finds them in the loaders' caches."""

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
                if load_trees(artefact) is None:  # scored through the estimator
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
    day's ledger run (its settlement history of the contract book): no second ledger run."""
    if ledger.contract_settled is None:
        raise ValueError("the day's ledger was run without the contract book's history")
    frames = BookFrames(
        day.loans.lazy(), day.products.lazy(), day.instalments.lazy(), day.payments.lazy()
    )
    return features_at(frames, ledger.contract_settled, day.as_of)


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


# ---------------------------------------------------------------------------- files


SCORE_FORMATS = ("csv", "parquet")


def resolve_model(conn: Connection, which: str) -> ModelInfo:
    """A model by version id (digits) or the active model of a kind."""
    with _models(conn) as models:
        if which.isdigit():
            return _info(models.require(int(which)))
        try:
            kind = ModelKind(which)
        except ValueError:
            kinds = ", ".join(k.value for k in ModelKind)
            raise ValidationError("model", f"give a version id or one of {kinds}") from None
        row = models.active(kind)
        if row is None:
            raise NotFound("active model of kind", kind.value)
        return _info(row)


@dataclass(frozen=True)
class ScoredFile:
    model: ModelInfo
    path: Path
    rows: int
    tiers: dict[str, int]  # rows per tier


def score_file(
    conn: Connection,
    which: str,
    path: Path,
    to: Path,
    *,
    id_column: str | None = None,
    reasons: int = 4,
) -> ScoredFile:
    """Score every row of a table with a scorecard and write ``score, score_int, tier,
    pd`` and the reason columns (``reason_1`` .. as feature names, ``reason_1_zh`` and
    ``reason_1_en`` in words) to a CSV or Parquet file, after ``id_column`` (else the
    line of the input the row came from). Nothing is written when any row fails."""
    fmt = to.suffix.lower().lstrip(".")
    if fmt not in SCORE_FORMATS:
        raise ValidationError("--to", f"use a .csv or .parquet file, not {to.name!r}")
    if not 0 <= reasons <= 10:
        raise ValidationError("--reasons", "between 0 and 10 reason codes per row")
    info = resolve_model(conn, which)
    artefact = artefact_of(conn, info.id)
    if not artefact.is_scorecard:
        raise ValidationError("model", f"model {info.id} is not a scorecard")
    categorical = [f.name for f in artefact.features if f.dtype == "categorical"]
    present = [c for c in categorical if c in _header(path)]
    frame, lines = read_table(path, present)
    if id_column is not None and id_column not in frame.columns:
        raise ValidationError("--id", f"no column {id_column!r} in {path.name}")
    scored = score_frame(
        frame.lazy(), artefact, reasons=reasons, points=False, reason_list=False
    ).collect()
    top = min(reasons, len(artefact.features))
    labels = {f.name: (f.label_zh, f.label_en) for f in artefact.features}
    names = list(labels)
    zh = [labels[n][0] for n in names]
    en = [labels[n][1] for n in names]
    key: pl.Expr
    if id_column is not None:
        key = pl.col(id_column)
    elif lines is not None:
        key = pl.Series("line", lines, dtype=pl.Int64).alias("line")  # type: ignore[assignment]
    else:
        key = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row")
    reason_cols: list[pl.Expr] = []
    for j in range(1, top + 1):
        code = pl.col(f"reason_{j}").cast(pl.String)
        reason_cols += [
            code.alias(f"reason_{j}"),
            code.replace_strict(names, zh, default=None).alias(f"reason_{j}_zh"),
            code.replace_strict(names, en, default=None).alias(f"reason_{j}_en"),
        ]
    out = scored.select(
        key,
        pl.col("score").round(2),
        "score_int",
        "tier",
        pl.col("pd").round(6),
        *reason_cols,
    )
    to.parent.mkdir(parents=True, exist_ok=True)
    partial = to.with_name(f".{to.name}.partial")
    try:
        if fmt == "csv":
            partial.write_bytes(b"\xef\xbb\xbf" + out.write_csv().encode("utf-8"))
        else:
            out.write_parquet(partial)
        partial.replace(to)
    finally:
        partial.unlink(missing_ok=True)
    counts = dict(out.group_by("tier").len().sort("tier").iter_rows())
    return ScoredFile(info, to, out.height, {str(k): int(v) for k, v in counts.items()})


def _header(path: Path) -> list[str]:
    """The column names of a table (for CSV: its first line), without reading it."""
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return list(pl.read_parquet_schema(path))
        except (pl.exceptions.PolarsError, OSError):
            return []
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            import csv

            return [h.strip() for h in next(csv.reader(fh), [])]
    except OSError:
        return []


def write_training_report(conn: Connection, which: str, path: Path) -> tuple[ModelInfo, Path]:
    """The model report from what training measured (metrics, tiers and their bad
    rates, IV, the score distribution), when no current population is given."""
    from forbear.domain.scoring.report import render_report

    if path.suffix.lower() not in (".html", ".htm"):
        raise ValidationError("--to", "the report is an .html file")
    info = resolve_model(conn, which)
    artefact = artefact_of(conn, info.id)
    html = render_report(
        artefact,
        title=f"模型报告（训练） Model report (training): {info.name} (v{info.version})",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return info, path
