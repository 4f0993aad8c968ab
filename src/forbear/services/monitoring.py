"""Model monitoring and the model report: is the model still fit for the book?

PSI of the score and of each feature compares training with the latest population (the
book as of a date, or a new application table); KS/AUC/Gini and bad rates by band are
computed on the latest cohort whose outcome has matured. The thresholds and warnings are
the domain's (:mod:`forbear.domain.scoring.monitoring`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Connection

from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.scoring.artefact import Artefact, ModelKind, ModelStatus
from forbear.domain.scoring.compiled import score_frame
from forbear.domain.scoring.features import book_features
from forbear.domain.scoring.monitoring import MonitoringResult, monitor
from forbear.domain.scoring.propensity import predict_propensity
from forbear.domain.scoring.report import render_report
from forbear.domain.scoring.targets import (
    BOOK_KINDS,
    DEFAULT_WINDOW_DAYS,
    TARGET,
    month_ends,
    scoring_segment,
    training_set,
)
from forbear.services.models import (
    ModelInfo,
    artefact_of,
    binary_outcome,
    list_models,
    load_book,
    read_application_table,
)


@dataclass(frozen=True)
class MonitorRun:
    model: ModelInfo
    artefact: Artefact
    result: MonitoringResult
    population: str  # what the PSI compared training with
    matured_on: date | None  # observation date of the cohort behind the performance
    matured_scores: pl.Series | None
    matured_outcomes: pl.Series | None


def find_model(conn: Connection, which: str) -> ModelInfo:
    """A model by version id (digits) or the active model of a kind."""
    models = list_models(conn)
    if which.isdigit():
        for model in models:
            if model.id == int(which):
                return model
        raise NotFound("model version", which)
    try:
        kind = ModelKind(which)
    except ValueError:
        kinds = ", ".join(k.value for k in ModelKind)
        raise ValidationError("model", f"give a version id or one of {kinds}") from None
    for model in models:
        if model.kind == kind.value and model.status == ModelStatus.ACTIVE.value:
            return model
    raise NotFound("active model of kind", kind.value)


def model_output(artefact: Artefact, frame: pl.DataFrame) -> pl.Series:
    """Points for a scorecard, the probability for a propensity model."""
    if artefact.is_scorecard:
        return score_frame(frame.lazy(), artefact, reasons=0).collect().get_column("score")
    return predict_propensity(frame, artefact)


def monitor_model(
    conn: Connection,
    which: str,
    as_of: date,
    *,
    table: Path | None = None,
    target: str | None = None,
    bad_value: str | None = None,
) -> MonitorRun:
    """Monitor a model against the book as of ``as_of`` (book models) or a table."""
    info = find_model(conn, which)
    artefact = artefact_of(conn, info.id)
    kind = ModelKind(info.kind)
    if table is not None:
        frame = read_application_table(table)
        if target is not None and target not in frame.columns:
            raise ValidationError(target, f"no such column in {table.name}")
        outcomes = frame.get_column(target) if target is not None else None
        if target is not None and bad_value is not None:
            outcomes = binary_outcome(
                frame, target, bad_value, table.name, allow_missing=True
            ).get_column(target)
        scores = model_output(artefact, frame)
        result = monitor(artefact, frame, scores=scores, outcomes=outcomes)
        return MonitorRun(info, artefact, result, table.name, None, scores, outcomes)
    if kind not in BOOK_KINDS:
        raise ValidationError(
            "--file", f"a {kind.value} model is monitored on a table: give --file"
        )

    frames = load_book(conn, up_to=as_of)
    latest = book_features(frames, as_of).filter(scoring_segment(kind))
    if latest.height == 0:
        raise ValidationError("--as-of", f"no accounts in the {kind.value} segment on {as_of}")
    drift = monitor(artefact, latest, scores=model_output(artefact, latest))

    window = artefact.training.performance_window_days or DEFAULT_WINDOW_DAYS[kind]
    observed = month_ends(as_of, 1, window)[0]
    cohort = training_set(frames, kind, [observed], as_of, window).frame
    if cohort.height == 0:
        return MonitorRun(info, artefact, drift, f"book {as_of}", None, None, None)
    scores = model_output(artefact, cohort)
    outcomes = cohort.get_column(TARGET)
    matured = monitor(artefact, cohort, scores=scores, outcomes=outcomes)
    result = replace(
        drift,
        performance=matured.performance,
        bad_rates=matured.bad_rates,
        warnings=drift.warnings + tuple(w for w in matured.warnings if w.code == "auc_drop"),
    )
    return MonitorRun(info, artefact, result, f"book {as_of}", observed, scores, outcomes)


def write_report(run: MonitorRun, path: Path) -> Path:
    """The self-contained HTML report (opens offline) for a monitoring run."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValidationError("--to", "the report is an .html file")
    html = render_report(
        run.artefact,
        scores=run.matured_scores,
        outcomes=run.matured_outcomes,
        monitoring=run.result,
        title=f"模型报告 Model report: {run.model.name} (v{run.model.version})",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
