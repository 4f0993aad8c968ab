"""The daily run's decision kernel: one bucket of borrowers in, their decided actions out.

Steps 4 and 6 of the daily run (segments, arms, treatments, the day's actions and the
compliance gate) need nothing outside a borrower: every gate counter is per debtor
(CN.FREQ.CROSSPARTY) and a borrower's loans stay together. So the book is cut into
buckets by ``borrower_id % buckets`` and :func:`decide` runs on each bucket alone; the
engines only differ in how buckets are fed:

- ``local`` (:mod:`forbear.batch.daily`): the whole book from the database as one bucket,
  or :func:`decide_parquet` bucket by bucket from a Parquet export (bounded memory);
- ``spark`` (:mod:`forbear.batch.spark_engine`): the same :func:`decide` per bucket in
  PySpark workers, reading the same Parquet export.

Capacity allocation (step 5) needs the whole day's allowed work and runs once, on the
driver, over what :func:`decide` returns.

The frames (:class:`DayFrames`) and their columns:

- ``accounts``: ACCOUNT (:mod:`forbear.domain.strategy.schema`) plus ``reason_codes``
  (JSON text, null when unscored);
- ``carried``: yesterday's carried actions (:data:`ACTIONS`);
- ``points``: the debtor's primary contact point per kind (:data:`POINTS`);
- ``zones``: the borrower's IANA time zone (:data:`ZONES`);
- ``history``, ``flags``, ``holds``: the gate's HISTORY, FLAGS and HOLDS;
- ``emergency``: the emergency contact points a location contact may go to
  (:data:`~forbear.domain.compliance.locate.CANDIDATES`);
- ``scripts`` (not bucketed: a few template codes): the templates a location message may
  use without disclosing the debt (:data:`~forbear.batch.contacts.SCRIPTS`).

When the strategy reads them (:attr:`~forbear.domain.strategy.CompiledStrategy.reads_locate`),
:func:`decide` fills the ACCOUNT frame's ``debtor_unreachable`` and ``emergency_contact``
with the gate's own answers at the day's moment
(:func:`~forbear.domain.compliance.locate.locate_facts`), and location actions
go to the point chosen there.

History is what happened before :func:`day_window`'s start and flags are read at its end;
both are fixed per day from the time zones alone, so every bucket and every engine sees
the same inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl

from forbear.batch.contacts import SCRIPTS, decide_contacts, local_moment, plan
from forbear.domain.compliance import schema as gate_schema
from forbear.domain.compliance.locate import CANDIDATES, LOCATE_FACTS, locate_facts
from forbear.domain.strategy.schema import ACCOUNT, LOCATE_ACCOUNT

DEFAULT_BUCKETS = 32

ACTIONS: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "segment": pl.String(),
    "arm": pl.String(),
    "treatment": pl.String(),
    "action_index": pl.Int64(),
    "channel": pl.String(),
    "template": pl.String(),
    "purpose": pl.String(),
    "is_demand": pl.Boolean(),
    "priority": pl.Int64(),
}
ACCOUNTS: dict[str, pl.DataType] = {**ACCOUNT, **LOCATE_ACCOUNT, "reason_codes": pl.String()}
POINTS: dict[str, pl.DataType] = {
    "borrower_id": pl.Int64(),
    "kind": pl.String(),
    "contact_point_id": pl.Int64(),
    "provenance": pl.String(),
}
ZONES: dict[str, pl.DataType] = {"borrower_id": pl.Int64(), "timezone": pl.String()}

# The frames of a day, by name, with their columns (the Parquet export's layout too).
TABLES: dict[str, dict[str, pl.DataType]] = {
    "accounts": ACCOUNTS,
    "carried": ACTIONS,
    "points": POINTS,
    "zones": ZONES,
    "history": gate_schema.HISTORY,
    "flags": gate_schema.FLAGS,
    "holds": gate_schema.HOLDS,
    "emergency": CANDIDATES,
}
SCRIPTS_FILE = "scripts.parquet"  # the export's one frame that is not cut into buckets

# What :func:`decide` returns per account (the driver's capacity step, the decisions'
# score columns and the run summary read these).
ASSIGNED_OUT: dict[str, pl.DataType] = {
    "loan_id": pl.Int64(),
    "borrower_id": pl.Int64(),
    "segment": pl.String(),
    "arm": pl.String(),
    "treatment": pl.String(),
    "overdue_total": pl.Int64(),
    "propensity": pl.Float64(),
    "hardship": pl.Boolean(),
    "behaviour_tier": pl.String(),
    "ew_pd": pl.Float64(),
    "reason_codes": pl.String(),
}
# What :func:`decide` returns per action: ACTIONS plus the gate's answer.
GATED_OUT: dict[str, pl.DataType] = {
    **ACTIONS,
    "contact_point_id": pl.Int64(),
    "allowed": pl.Boolean(),  # null for actions that are not contacts (legal review)
    "blocked_by": pl.List(pl.String()),
    "earliest_allowed_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class DayFrames:
    accounts: pl.DataFrame
    carried: pl.DataFrame
    points: pl.DataFrame
    zones: pl.DataFrame
    history: pl.DataFrame
    flags: pl.DataFrame
    holds: pl.DataFrame
    emergency: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CANDIDATES))
    scripts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SCRIPTS))

    def conformed(self) -> DayFrames:
        """Every frame with exactly its :data:`TABLES` columns and types."""
        return DayFrames(
            **{name: _conform(getattr(self, name), cols) for name, cols in TABLES.items()},
            scripts=_conform(self.scripts, SCRIPTS),
        )


@dataclass(frozen=True)
class Decided:
    assigned: pl.DataFrame  # ASSIGNED_OUT, one row per account
    gated: pl.DataFrame  # GATED_OUT, one row per action


def _conform(frame: pl.DataFrame, cols: dict[str, pl.DataType]) -> pl.DataFrame:
    # A projection with casts that are mostly no-ops: the in-memory engine returns the
    # same columns without copying them, where the default streaming engine copies every
    # value (tens of ms per bucket of 625,000 accounts).
    return (
        frame.lazy()
        .select(
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in cols.items()
        )
        .collect(engine="in-memory")
    )


# The export's partition column: a borrower bucket (``borrower_id % buckets``). Not
# ``bucket``: the accounts already have a column of that name (C, M1 ... M7+).
PART = "part"


def bucket_expr(column: str, buckets: int) -> pl.Expr:
    """The bucket of a row: ``column % buckets`` (``column`` is ``borrower_id``), as
    the :data:`PART` column."""
    return (pl.col(column) % buckets).cast(pl.Int32).alias(PART)


def day_window(timezones: list[str], as_of: date, hour: time) -> tuple[datetime, datetime]:
    """The UTC instants of ``hour`` local time on ``as_of`` in the earliest and the
    latest of ``timezones``: history is read before the first, flags at the last."""
    from zoneinfo import ZoneInfo

    zones = sorted(set(timezones)) or ["UTC"]
    moments = [datetime.combine(as_of, hour, ZoneInfo(z)) for z in zones]
    first, last = min(moments), max(moments)
    return first.astimezone(UTC), last.astimezone(UTC)


def decide(frames: DayFrames, compiled: Any, rules: Any, as_of: date, hour: time) -> Decided:
    """Steps 4 and 6 for one bucket: assign segments, arms and treatments, today's
    actions (yesterday's carried ones re-enter unless today repeats them), and the gate's
    answer for every planned contact. Pure: frames in, frames out."""
    f = frames.conformed()
    accounts, locate_points = f.accounts, None
    if compiled.reads_locate:
        accounts, locate_points = _with_locate_facts(f, rules, as_of, hour)
    assigned = compiled.assign(accounts.lazy()).collect()
    today = compiled.actions_for(assigned.lazy(), as_of).collect()
    carried = f.carried.join(today, on=["loan_id", "action_index"], how="anti")
    # carried work of accounts still in the book: look the few carried loans up among the
    # accounts (a semi join would hash every account of the bucket)
    loan_ids = assigned.get_column("loan_id")
    known = loan_ids.filter(loan_ids.is_in(carried.get_column("loan_id").implode()))
    actions = pl.concat(
        [
            today.select([pl.col(n).cast(t) for n, t in ACTIONS.items()]),
            carried.filter(pl.col("loan_id").is_in(known.implode())),
        ]
    ).sort("loan_id", "action_index")
    # Only the debtors with work today matter to the plan and the gate: every gate input is
    # joined by the planned contact's borrower or loan. Cutting the inputs to those first
    # (order kept) gives identical answers for a fraction of the work: most accounts have
    # nothing to do on a given day.
    who = actions["borrower_id"].unique().implode()
    loans = actions["loan_id"].unique().implode()
    mine = pl.col("borrower_id").is_in(who)
    planned = plan(
        actions,
        f.points.filter(mine),
        f.zones.filter(mine),
        as_of,
        hour,
        locate_points=locate_points,
        scripts=f.scripts,
    )
    gated = decide_contacts(
        actions,
        planned,
        f.history.filter(mine | pl.col("loan_id").is_in(loans)),
        f.flags.filter(pl.col("loan_id").is_in(loans)),
        f.holds.filter(mine),
        rules,
    )
    return Decided(
        assigned=_conform(assigned, ASSIGNED_OUT),
        gated=_conform(gated, GATED_OUT),
    )


def _with_locate_facts(
    f: DayFrames, rules: Any, as_of: date, hour: time
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The accounts with ``debtor_unreachable`` and ``emergency_contact`` as the gate
    answers them for a location contact at ``hour`` local time on ``as_of`` (the moment
    :func:`plan` plans every contact for), and the point each loan's location contact
    goes to. Only active, overdue accounts are asked (the others stay null: no one is
    located for a loan that is not in arrears)."""
    wanted = f.accounts.filter((pl.col("status") == "active") & (pl.col("dpd") >= 1)).select(
        "loan_id", "borrower_id"
    )
    debtors = wanted.join(f.zones, on="borrower_id", how="left").with_columns(
        pl.col("timezone").fill_null(rules.timezone_default)
    )
    debtors = debtors.with_columns(at=local_moment(debtors["timezone"], as_of, hour))
    who = debtors["borrower_id"].unique().implode()
    mine = pl.col("borrower_id").is_in(who)
    facts, points = locate_facts(
        debtors,
        f.emergency.filter(mine),
        f.history.filter(mine),
        f.flags.filter(pl.col("loan_id").is_in(debtors["loan_id"].implode())),
        f.holds.filter(mine),
        rules,
    )
    names = [c for c in LOCATE_FACTS if c != "loan_id"]
    accounts = (
        f.accounts.drop(names)
        .join(facts, on="loan_id", how="left")
        .select(pl.col(c) for c in f.accounts.columns)
    )
    return accounts, points


# --- the Parquet export, bucket by bucket ---------------------------------------------------


def write_parquet(frames: DayFrames, root: Path, buckets: int = DEFAULT_BUCKETS) -> None:
    """Writes each frame to ``root/<table>.parquet`` with a :data:`PART` column (the
    borrower bucket), sorted by it so that a reader's filter on one bucket skips the other
    row groups."""
    root.mkdir(parents=True, exist_ok=True)
    f = frames.conformed()
    for name in TABLES:
        frame = getattr(f, name)
        frame.with_columns(bucket_expr("borrower_id", buckets)).sort(PART).write_parquet(
            root / f"{name}.parquet", row_group_size=64_000, statistics=True
        )
    f.scripts.write_parquet(root / SCRIPTS_FILE)


def read_bucket(root: Path, bucket: int) -> DayFrames:
    """One bucket of a Parquet export (:func:`write_parquet`). The tables are read as one
    batch of queries (``collect_all``), so the smaller ones decode alongside the larger."""
    frames = pl.collect_all(
        [
            pl.scan_parquet(root / f"{name}.parquet").filter(pl.col(PART) == bucket).drop(PART)
            for name in TABLES
        ]
    )
    said = root / SCRIPTS_FILE
    scripts = pl.read_parquet(said) if said.exists() else pl.DataFrame(schema=SCRIPTS)
    return DayFrames(**dict(zip(TABLES, frames, strict=True)), scripts=scripts)


def buckets_in(root: Path) -> list[int]:
    """The buckets an export holds accounts for."""
    frame = pl.scan_parquet(root / "accounts.parquet").select(pl.col(PART).unique()).collect()
    return sorted(int(b) for b in frame[PART].to_list())


def decide_parquet(
    root: Path, compiled: Any, rules: Any, as_of: date, hour: time
) -> Iterator[Decided]:
    """The local engine over a Parquet export: :func:`decide` bucket by bucket, so memory
    holds one bucket's inputs at a time."""
    for b in buckets_in(root):
        yield decide(read_bucket(root, b), compiled, rules, as_of, hour)


def concat(parts: list[Decided]) -> Decided:
    """Buckets' results as one, ordered by ``loan_id`` (and ``action_index``)."""
    return Decided(
        assigned=pl.concat([p.assigned for p in parts] or [pl.DataFrame(schema=ASSIGNED_OUT)]).sort(
            "loan_id"
        ),
        gated=pl.concat([p.gated for p in parts] or [pl.DataFrame(schema=GATED_OUT)]).sort(
            "loan_id", "action_index"
        ),
    )
