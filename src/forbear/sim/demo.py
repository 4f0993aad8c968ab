"""The demo book (``forbear demo``): a synthetic lender's book pushed through the real
import path, its states, risk models and collection history (:mod:`forbear.sim.history`),
then the daily run."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Connection

from forbear.batch.daily import RunResult, run_day
from forbear.domain import portfolio
from forbear.domain.errors import ValidationError
from forbear.domain.ledger import Settled
from forbear.domain.products import ProductTerms
from forbear.domain.scoring.artefact import ModelKind, ModelStatus
from forbear.domain.scoring.features import BookFrames, book_features, settlements
from forbear.domain.scoring.targets import BOOK_KINDS
from forbear.services import book, models, templates
from forbear.services.dashboard import DEFAULT_RANGE_DAYS
from forbear.services.imports import ImportReport, import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.history import seed_history
from forbear.sim.states import BookRead
from forbear.store import bulk
from forbear.store.crypto import PiiVault

Step = Callable[[str], None]


def month_end_before(day: date) -> date:
    """The last day of the month before ``day``'s month."""
    return day.replace(day=1) - timedelta(days=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@dataclass
class DemoResult:
    as_of: date
    reports: list[ImportReport]
    today: book.StatesResult
    roll_from: date
    roll_to: date
    rolls: pl.DataFrame
    loans_file: Path
    payments_file: Path
    # what happened to each book model: (trained or kept, what to tell the operator)
    models: list[tuple[bool, str]] = field(default_factory=list)
    risk: pl.DataFrame | None = None  # accounts per model and tier, mean probability
    run: RunResult | None = None  # the daily job on the demo book (``with_run``)
    # collection history seeded on a new book: promises, plans, legal cases (counts)
    collection: dict[str, int] = field(default_factory=dict)


def _risk_models(
    conn: Connection, as_of: date, now: datetime, read: BookRead, *, score: bool
) -> tuple[list[tuple[bool, str]], bool]:
    """Train and activate the three book models where none is active; when ``score``,
    score the book (without it, the caller's daily run of ``as_of`` scores it).

    A rerun keeps the active models (the model list does not grow with every demo); the
    date is scored again (here or by the run), which replaces that date's scores. Returns
    what happened to each model and whether any book model is active.
    """
    done: list[tuple[bool, str]] = []
    frames: BookFrames | None = None  # the book is read once for the kinds trained
    schedules = (read.instalments, read.payments)  # and its schedules not read again
    settled: Settled | None = None  # the ledger run the kinds' training sets start from
    active = {m.kind for m in models.list_models(conn) if m.status == ModelStatus.ACTIVE.value}
    for kind in BOOK_KINDS:
        if kind.value in active:
            done.append((True, f"{kind.value}: the active model is kept"))
            continue
        frames = frames or models.load_book(conn, up_to=as_of, schedules=schedules)
        settled = settled or settlements(frames, as_of)
        try:
            trained = models.train_on_book(
                conn, kind, as_of=as_of, now=now, frames=frames, settled=settled
            )
        except ValidationError as exc:  # a tiny book may have too few events to fit
            done.append((False, f"{kind.value}: not trained ({exc})"))
            continue
        active.add(kind.value)
        models.activate(conn, trained.model.id, now=now)
        metrics = trained.artefact.metrics
        done.append(
            (
                True,
                f"{kind.value}: model {trained.model.id} trained on {trained.rows:,} rows and "
                f"activated (test AUC {metrics.auc:.3f}, KS {metrics.ks:.3f})",
            )
        )
    if not active & {k.value for k in BOOK_KINDS}:
        return done, False
    if score:
        frames = frames or models.load_book(conn, up_to=as_of, schedules=schedules)
        features = book_features(frames, as_of)
        models.store_scores(conn, as_of, models.book_scores(conn, as_of, features=features))
    return done, True


def _risk_table(conn: Connection, as_of: date) -> pl.DataFrame:
    """Accounts per book model and tier with their mean probability, from the stored
    scores of ``as_of``."""
    scores = bulk.read_scores(conn, as_of)
    return (
        scores.group_by("kind", pl.col("tier").fill_null("-"))
        .agg(
            pl.len().alias("accounts"),
            pl.when(pl.col("kind") == ModelKind.PROPENSITY.value)
            .then(pl.col("score"))
            .otherwise(pl.col("pd"))
            .mean()
            .alias("mean_probability"),
        )
        .sort("kind", "tier")
    )


def build_demo(
    transaction: Callable[[], AbstractContextManager[Connection]],
    vault: PiiVault,
    *,
    directory: Path,
    products: list[ProductTerms],
    borrowers: int,
    seed: int,
    as_of: date,
    zone: str,
    step: Step = lambda _label: None,
    with_models: bool = True,
    with_run: bool = True,
    with_complaints: bool = False,
    data_dir: Path | None = None,
    now: datetime,
) -> DemoResult:
    """Generate, import, compute states for today and for the last two month ends.

    ``transaction`` opens one database transaction (a context manager yielding a
    Connection); each import runs in its own, so a failure leaves the earlier ones.
    ``now``: the caller's moment (``forbear demo`` passes ``app.now()``), recorded on the
    import batches, templates and models. ``with_complaints``: the month's complaints too
    (:mod:`forbear.sim.history.complaints`; ``forbear demo`` asks for them, test books that
    count their own complaints do not).
    """
    step("generating the synthetic book")
    demo = generate_book(borrowers, as_of, seed, products)
    directory.mkdir(parents=True, exist_ok=True)
    loans_file, payments_file = write_files(demo, directory, fmt="csv")
    reports = []
    step("importing products")
    with transaction() as conn:
        reports.append(import_products(conn, products, "demo products", effective_from=now.date()))
    step("installing the default message templates")
    with transaction() as conn:
        # the shipped strategy's templates, through the content filter (kept on a rerun)
        templates.install_library(conn, now=now)
    step("importing loans")
    with transaction() as conn:
        reports.append(import_loans(conn, vault, loans_file, now=now))
    step("importing payments")
    with transaction() as conn:
        reports.append(import_payments(conn, payments_file, zone=zone, now=now))
    roll_to = month_end_before(as_of)
    roll_from = month_end_before(roll_to)
    step(f"computing account states for {roll_from}, {roll_to} and {as_of}")
    with transaction() as conn:
        read = BookRead.of(conn, as_of)  # once for the three dates (and the plans below)
        first = read.store_states(conn, roll_from)
        last = read.store_states(conn, roll_to)
        today = read.store_states(conn, as_of)
    rolls = portfolio.roll_rates(first.states.lazy(), last.states.lazy(), first.buckets.labels)
    trained: list[tuple[bool, str]] = []
    scored = False  # a book model is active: the day's scores are stored
    if with_models:
        step(
            "training and activating the risk models"
            if with_run
            else "training, activating and running the risk models"
        )
        with transaction() as conn:
            # with the daily run, the run scores the book (after the history, which the
            # scores see): scoring here too was replaced by the run's a minute later
            trained, scored = _risk_models(conn, as_of, now, read, score=not with_run)
    # the supervisor dashboard's default range starts here: its figures are read from
    # this snapshot and today's (after the plans, which change what was due)
    range_start = as_of - timedelta(days=DEFAULT_RANGE_DAYS)
    collection: dict[str, int] = {}
    if reports[1].rows_imported:  # a new book (a rerun imports nothing and seeds nothing)
        step(
            "collection history: promises to pay, repayment plans, legal cases; the "
            "account states the dashboard's default range starts from"
        )
        collection = seed_history(
            transaction,
            as_of,
            seed,
            zone,
            read=read,
            also_states=(range_start,),
            vault=vault if with_complaints else None,
        )
    else:
        step("storing the account states the dashboard's default range starts from")
        with transaction() as conn:
            book.compute_states(conn, range_start)
    run: RunResult | None = None
    if with_run:
        step("running the daily job")
        with transaction() as conn:
            run = run_day(conn, as_of, data_dir=data_dir or directory.parent, now=now)
    risk: pl.DataFrame | None = None
    if scored:
        with transaction() as conn:
            risk = _risk_table(conn, as_of)
    return DemoResult(
        run=run,
        as_of=as_of,
        reports=reports,
        today=today,
        roll_from=roll_from,
        roll_to=roll_to,
        rolls=rolls,
        loans_file=loans_file,
        payments_file=payments_file,
        models=trained,
        risk=risk,
        collection=collection,
    )
