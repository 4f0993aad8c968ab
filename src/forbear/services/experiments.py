"""Experiment use cases (issue 16, item 1): list the experiments, read one out, promote a
challenger. The same functions serve ``forbear experiment``, ``/experiments`` and
``/api/v1/experiments``.

**Who was in which arm.** An account is in an experiment from the first day, in the
window, that a completed daily run put it in the experiment's segment. The run records a
decision only for an action, and a control account gets none (it is measured, not
treated), so decisions alone would see the treated arms and not the hold-out: reading
membership from them would compare "accounts that were contacted" with nobody. Instead
each completed run's day is replayed: the ACCOUNT frame of that day (the stored states,
scores, holds, flags, plans and promises, exactly what the run read) through the run's
own strategy version's ``assign``, which is deterministic (the arm is a hash of the loan
id and the experiment id). The same definition holds for every arm, so the arms stay
comparable. The decisions of the window are read only to check that the replay agrees
with them (a mismatch is reported in ``notes``).

**What happened after** (from the entry day to ``end``, set-wise: one query per table
over the window, joined in Polars): payments (amount recovered); the stored state at
the last stored date up to ``end`` (cured: back to current or paid off; rolled forward:
a worse bucket than at entry, or written off); promises taken (kept: status ``kept``);
allowed contact attempts; complaints (by loan, or by borrower when the complaint names
no loan); opt-out holds.

**Promotion** (``strategy.manage``, audited as ``experiment.promote``) stores a new
candidate version of the active strategy through :func:`strategies.add_strategy_text`
in which the experiment's segment takes the promoted arm's treatment and the experiment
is gone (it has answered its question; a new one can be added). The audit event records
the readout that was shown (the verdict and the promoted arm's differences). When the
evidence is weak (the verdict against the champion is not "better" at the stated
confidence) a reason is required. The version is a candidate: ``strategy check`` and
``strategy activate`` put it in force as for any other.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import yaml
from sqlalchemy import Connection, and_, func, select

from forbear.domain.access import Actor
from forbear.domain.errors import ForbearError, NotFound, PermissionDenied, ValidationError
from forbear.domain.experiments import OUTCOMES, Policy, Readout, readout
from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.domain.strategy import (
    Strategy,
    compile_strategy,
    default_strategy,
    default_text,
    parse_strategy,
)
from forbear.domain.strategy.model import ExperimentSpec
from forbear.domain.strategy.schema import CONTROL_ARM
from forbear.services import strategies
from forbear.store import audit
from forbear.store.complaints import Complaint
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.locks import LockSpace, lock
from forbear.store.models import AccountState, Payment
from forbear.store.promises import Promise
from forbear.store.runs import Decision, Run, RunStatus
from forbear.store.strategies import StrategyStatus, StrategyVersion

READ = ("strategy.manage", "plan.approve")  # who may read a readout
PROMOTE = "strategy.manage"
MAX_REASON = 500
MAX_WINDOW_DAYS = 400
ZONE = "Asia/Shanghai"  # the business dates of contacts and holds (lender zone default)
_BUCKET = {b: i for i, b in enumerate(DEFAULT_BUCKETS.labels)}


class ReasonRequired(ValidationError):
    """The evidence for a promotion is weak and no reason was given."""

    def __init__(self, verdict_en: str) -> None:
        super().__init__(
            "reason",
            f"the readout does not show the arm better than the champion ({verdict_en}): "
            "give a reason to promote it anyway",
        )
        self.verdict_en = verdict_en


@dataclass(frozen=True)
class Arm:
    name: str
    treatment: str
    share: float


@dataclass(frozen=True)
class ExperimentInfo:
    id: str
    segment: str
    segment_treatment: str  # the segment's own treatment (the champion's)
    arms: tuple[Arm, ...]
    champion: str | None
    control: str
    version: strategies.StrategyInfo | None  # where it is defined; None = shipped default
    active: bool  # defined in the strategy in force

    @property
    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms]


@dataclass(frozen=True)
class Report:
    experiment: ExperimentInfo
    start: date | None  # the window read (None: no run in it)
    end: date | None
    days: int  # run days replayed
    readout: Readout
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        x = self.experiment
        return {
            "experiment": x.id,
            "segment": x.segment,
            "strategy_version_id": x.version.id if x.version else None,
            "active": x.active,
            "arms": [{"name": a.name, "treatment": a.treatment, "share": a.share} for a in x.arms],
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "run_days": self.days,
            "notes": self.notes,
            "readout": self.readout.to_dict(),
        }


@dataclass(frozen=True)
class Promotion:
    strategy: strategies.StrategyInfo  # the new candidate version
    experiment: str
    arm: str
    treatment: str
    verdict: str  # the verdict's kind against the champion
    weak: bool


def _who(actor: Actor | str) -> Actor:
    return actor if isinstance(actor, Actor) else Actor(actor)


def _may_read(actor: Actor | str) -> Actor:
    who = _who(actor)
    if not any(who.may(p) for p in READ):
        raise PermissionDenied(str(who.role), READ[0])
    return who


# --------------------------------------------------------------------------- experiments


def _info(spec: ExperimentSpec, strategy: Strategy, version: Any, active: bool) -> ExperimentInfo:
    own = next(s.treatment for s in strategy.spec.segments if s.id == spec.segment)
    arms = tuple(Arm(a.name, a.treatment, a.share) for a in spec.arms)
    treated = [a for a in arms if a.name != CONTROL_ARM]
    champion = next((a.name for a in treated if a.treatment == own), None)
    if champion is None and any(a.name == "champion" for a in treated):
        champion = "champion"
    return ExperimentInfo(spec.id, spec.segment, own, arms, champion, CONTROL_ARM, version, active)


def _defined(conn: Connection) -> list[ExperimentInfo]:
    """Every experiment id, from where it is defined: the active strategy first, then the
    newest stored version that has it, then the shipped default."""
    found: dict[str, ExperimentInfo] = {}
    active, active_info = strategies.active_strategy(conn)
    for x in active.spec.experiments:
        found[x.id] = _info(x, active, active_info, True)
    t = StrategyVersion.__table__
    infos = {i.id: i for i in strategies.list_strategies(conn)}
    for r in conn.execute(select(t.c.id, t.c.yaml).order_by(t.c.id.desc())):
        if "experiments" not in r.yaml:
            continue
        try:
            s = parse_strategy(r.yaml, f"strategy version {r.id}")
        except ForbearError:
            continue  # a version that no longer parses defines nothing readable
        for x in s.spec.experiments:
            if x.id not in found:
                found[x.id] = _info(x, s, infos.get(r.id), False)
    default = default_strategy()
    for x in default.spec.experiments:
        if x.id not in found:
            found[x.id] = _info(x, default, None, active_info is None)
    return list(found.values())


def experiments(conn: Connection, actor: Actor | str) -> list[ExperimentInfo]:
    """The experiments Forbear knows (the active strategy's first). Needs
    ``strategy.manage`` or ``plan.approve``."""
    _may_read(actor)
    return _defined(conn)


def experiment(conn: Connection, experiment_id: str, actor: Actor | str) -> ExperimentInfo:
    _may_read(actor)
    return _find(conn, experiment_id)


def _find(conn: Connection, experiment_id: str) -> ExperimentInfo:
    for x in _defined(conn):
        if x.id == experiment_id:
            return x
    raise NotFound("experiment", experiment_id)


# --------------------------------------------------------------------------- the readout


def _runs(conn: Connection, start: date | None, end: date | None) -> list[tuple[date, int | None]]:
    r = Run.__table__
    stmt = select(r.c.as_of, r.c.strategy_version_id).where(r.c.status == RunStatus.COMPLETED.value)
    if start is not None:
        stmt = stmt.where(r.c.as_of >= start)
    if end is not None:
        stmt = stmt.where(r.c.as_of <= end)
    return [(row.as_of, row.strategy_version_id) for row in conn.execute(stmt.order_by(r.c.as_of))]


def _strategy_of(conn: Connection, version_id: int | None, cache: dict[Any, Strategy]) -> Strategy:
    if version_id not in cache:
        if version_id is None:
            cache[None] = default_strategy()
        else:
            t = StrategyVersion.__table__
            text = conn.execute(select(t.c.yaml).where(t.c.id == version_id)).scalar()
            cache[version_id] = (
                parse_strategy(text, f"strategy version {version_id}")
                if text is not None
                else default_strategy()
            )
    return cache[version_id]


def members(
    conn: Connection, experiment_id: str, start: date | None, end: date | None
) -> tuple[pl.DataFrame, list[date]]:
    """``loan_id, borrower_id, arm, entered, entry_bucket`` of every account the completed
    runs of the window put in the experiment (its first day there), and the run days
    replayed."""
    from forbear.services.accounts import build_accounts, day_facts
    from forbear.store import bulk

    cache: dict[Any, Strategy] = {}
    borrowers = bulk.read_loan_borrowers(conn)
    frames: list[pl.DataFrame] = []
    days: list[date] = []
    for day, version_id in _runs(conn, start, end):
        strategy = _strategy_of(conn, version_id, cache)
        spec = next((x for x in strategy.spec.experiments if x.id == experiment_id), None)
        if spec is None:
            continue
        days.append(day)
        accounts = build_accounts(conn, day, facts=day_facts(conn, day, borrowers=borrowers))
        assigned = compile_strategy(strategy).assign(accounts.lazy().filter(True))
        frames.append(
            assigned.filter(pl.col("segment") == spec.segment)
            .select(
                pl.col("loan_id").cast(pl.Int64),
                pl.col("borrower_id").cast(pl.Int64),
                pl.col("arm"),
                pl.lit(day).alias("entered"),
                pl.col("bucket").alias("entry_bucket"),
            )
            .collect()
        )
    schema = {"loan_id": pl.Int64(), "borrower_id": pl.Int64(), "arm": pl.String(),
              "entered": pl.Date(), "entry_bucket": pl.String()}  # fmt: skip
    if not frames:
        return pl.DataFrame(schema=schema), days
    return (
        pl.concat(frames).sort("entered").unique("loan_id", keep="first").sort("loan_id"),
        days,
    )


def _window(start: date | None, end: date | None) -> None:
    if start is not None and end is not None:
        if start > end:
            raise ValidationError("from", f"{start} is after --to {end}")
        if (end - start).days > MAX_WINDOW_DAYS:
            raise ValidationError("from", f"the window is longer than {MAX_WINDOW_DAYS} days")


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(ZONE)).astimezone(UTC)


def outcomes(conn: Connection, who: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """What happened to the accounts ``who`` (from :func:`members`) from their entry day
    to ``end``, as the readout's OUTCOMES. One query per table over the window."""
    entered = who.select("loan_id", "borrower_id", "entered")
    lo, hi = _utc(start), _utc(end + timedelta(days=1))

    def per_loan(rows: list[Any], cols: list[str], when: str) -> pl.DataFrame:
        frame = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], orient="row",
                             schema={c: None for c in cols}, infer_schema_length=None)  # fmt: skip
        if frame.height == 0:
            return frame.with_columns(pl.lit(None, pl.Int64).alias("loan_id")).head(0)
        return frame.join(entered, on="loan_id", how="inner").filter(
            pl.col(when) >= pl.col("entered")
        )

    p = Payment.__table__
    paid = per_loan(
        list(conn.execute(select(p.c.loan_id, p.c.paid_on, p.c.amount).where(
            p.c.paid_on >= start, p.c.paid_on <= end))),
        ["loan_id", "paid_on", "amount"], "paid_on",
    )  # fmt: skip
    recovered = (
        paid.group_by("loan_id").agg(pl.col("amount").sum().alias("recovered"))
        if paid.height
        else pl.DataFrame(schema={"loan_id": pl.Int64(), "recovered": pl.Int64()})
    )

    s = AccountState.__table__
    last = conn.execute(select(func.max(s.c.as_of)).where(s.c.as_of <= end)).scalar()
    ends = pl.DataFrame(
        [dict(r._mapping) for r in conn.execute(
            select(s.c.loan_id, s.c.status, s.c.dpd, s.c.bucket.label("end_bucket")).where(
                s.c.as_of == last))] if last is not None else [],
        schema={"loan_id": pl.Int64(), "status": pl.String(), "dpd": pl.Int64(),
                "end_bucket": pl.String()},
    )  # fmt: skip

    pr = Promise.__table__
    promised = per_loan(
        list(conn.execute(select(pr.c.loan_id, pr.c.taken_on, pr.c.status).where(
            pr.c.taken_on >= start, pr.c.taken_on <= end))),
        ["loan_id", "taken_on", "status"], "taken_on",
    )  # fmt: skip
    promises = (
        promised.group_by("loan_id").agg(
            pl.len().cast(pl.Int32).alias("promises"),
            (pl.col("status") == "kept").sum().cast(pl.Int32).alias("promises_kept"),
        )
        if promised.height
        else pl.DataFrame(
            schema={"loan_id": pl.Int64(), "promises": pl.Int32(), "promises_kept": pl.Int32()}
        )
    )

    ca = ContactAttempt.__table__
    attempts = pl.DataFrame(
        [{"loan_id": r.loan_id, "day": r.at.astimezone(ZoneInfo(ZONE)).date()}
         for r in conn.execute(select(ca.c.loan_id, ca.c.at).where(
             ca.c.allowed.is_(True), ca.c.at >= lo, ca.c.at < hi))],
        schema={"loan_id": pl.Int64(), "day": pl.Date()},
    )  # fmt: skip
    attempts = attempts.join(entered, on="loan_id", how="inner").filter(
        pl.col("day") >= pl.col("entered")
    )
    contacts = attempts.group_by("loan_id").agg(pl.len().cast(pl.Int32).alias("contacts"))

    c = Complaint.__table__
    filed = pl.DataFrame(
        [dict(r._mapping) for r in conn.execute(select(
            c.c.borrower_id, c.c.loan_id.label("complaint_loan"), c.c.received_on).where(
            c.c.received_on >= start, c.c.received_on <= end))],
        schema={"borrower_id": pl.Int64(), "complaint_loan": pl.Int64(),
                "received_on": pl.Date()},
    )  # fmt: skip
    complaints = (
        filed.join(entered, on="borrower_id", how="inner")
        .filter(
            (pl.col("complaint_loan").is_null() | (pl.col("complaint_loan") == pl.col("loan_id")))
            & (pl.col("received_on") >= pl.col("entered"))
        )
        .group_by("loan_id")
        .agg(pl.len().cast(pl.Int32).alias("complaints"))
    )

    h = Hold.__table__
    held = pl.DataFrame(
        [{"borrower_id": r.borrower_id, "hold_loan": r.loan_id,
          "day": r.since.astimezone(ZoneInfo(ZONE)).date()}
         for r in conn.execute(select(h.c.borrower_id, h.c.loan_id, h.c.since).where(
             and_(h.c.kind == "opt_out", h.c.since >= lo, h.c.since < hi)))],
        schema={"borrower_id": pl.Int64(), "hold_loan": pl.Int64(), "day": pl.Date()},
    )  # fmt: skip
    opted = (
        held.join(entered, on="borrower_id", how="inner")
        .filter(
            (pl.col("hold_loan").is_null() | (pl.col("hold_loan") == pl.col("loan_id")))
            & (pl.col("day") >= pl.col("entered"))
        )
        .select("loan_id")
        .unique()
        .with_columns(pl.lit(True).alias("opted_out"))
    )

    bucket_index = pl.col("end_bucket").replace_strict(_BUCKET, default=None, return_dtype=pl.Int32)
    entry_index = pl.col("entry_bucket").replace_strict(
        _BUCKET, default=None, return_dtype=pl.Int32
    )
    frame = (
        who.join(recovered, on="loan_id", how="left")
        .join(ends.select("loan_id", "status", "dpd", "end_bucket"), on="loan_id", how="left")
        .join(promises, on="loan_id", how="left")
        .join(contacts, on="loan_id", how="left")
        .join(complaints, on="loan_id", how="left")
        .join(opted, on="loan_id", how="left")
        .with_columns(
            (
                (pl.col("status") == "paid_off")
                | ((pl.col("status") == "active") & (pl.col("dpd") == 0))
            )
            .fill_null(False)
            .alias("cured"),
            ((pl.col("status") == "written_off") | (bucket_index > entry_index))
            .fill_null(False)
            .alias("rolled"),
        )
    )
    return frame.select(
        pl.col(k).cast(t)
        if t == pl.String()
        else pl.col(k).cast(t).fill_null(False if t == pl.Boolean() else 0)
        for k, t in OUTCOMES.items()
    )


def _agreement(
    conn: Connection, who: pl.DataFrame, segment: str, start: date, end: date
) -> list[str]:
    """Decisions of the window whose recorded arm differs from the replayed one."""
    d = Decision.__table__
    recorded = pl.DataFrame(
        [dict(r._mapping) for r in conn.execute(
            select(d.c.loan_id, d.c.arm.label("recorded")).distinct().where(
                d.c.as_of >= start, d.c.as_of <= end, d.c.segment == segment,
                d.c.arm.is_not(None)))],
        schema={"loan_id": pl.Int64(), "recorded": pl.String()},
    )  # fmt: skip
    off = recorded.join(who.select("loan_id", "arm"), on="loan_id", how="inner").filter(
        pl.col("arm") != pl.col("recorded")
    )
    if off.height:
        return [
            f"{off.height} decisions record another arm than the replay (a changed experiment?)"
        ]
    return []


def report(
    conn: Connection,
    experiment_id: str,
    actor: Actor | str,
    *,
    start: date | None = None,
    end: date | None = None,
    policy: Policy | None = None,
) -> Report:
    """Read an experiment out over the completed runs from ``start`` to ``end`` (default:
    every completed run; outcomes up to ``end`` or the last run day). Needs
    ``strategy.manage`` or ``plan.approve``. Reads only."""
    _may_read(actor)
    _window(start, end)
    info = _find(conn, experiment_id)
    who, days = members(conn, experiment_id, start, end)
    notes: list[str] = []
    if not days:
        notes.append("no completed daily run in the window used this experiment")
        empty = pl.DataFrame(schema=OUTCOMES)
        r = readout(empty, info.arm_names, champion=info.champion, control=info.control,
                    policy=policy)  # fmt: skip
        return Report(info, start, end, 0, r, notes)
    first, last = start or days[0], end or days[-1]
    unknown = sorted(set(who["arm"].drop_nulls().to_list()) - set(info.arm_names))
    if unknown:
        notes.append(f"accounts in arms no longer defined were left out: {', '.join(unknown)}")
        who = who.filter(pl.col("arm").is_in(info.arm_names))
    notes.extend(_agreement(conn, who, info.segment, first, last))
    frame = outcomes(conn, who, first, last)
    r = readout(frame, info.arm_names, champion=info.champion, control=info.control,
                policy=policy)  # fmt: skip
    return Report(info, first, last, len(days), r, notes)


# --------------------------------------------------------------------------- promotion


def promote(
    conn: Connection,
    experiment_id: str,
    arm: str,
    actor: Actor | str,
    *,
    now: datetime,
    reason: str | None = None,
    start: date | None = None,
    end: date | None = None,
    policy: Policy | None = None,
) -> Promotion:
    """Make ``arm``'s treatment the champion of the experiment's segment in a new
    candidate version of the active strategy (the experiment removed). Needs
    ``strategy.manage``; audited as ``experiment.promote`` with the readout shown. A
    reason is required when the readout does not call the arm better than the champion
    (or, without a champion arm, than the control)."""
    who = _who(actor)
    who.require(PROMOTE)
    _window(start, end)
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise ValidationError("reason", f"at most {MAX_REASON} characters")
    # one promotion of an experiment at a time: the second waits, then finds the first's
    # candidate (below) instead of storing a duplicate
    lock(conn, LockSpace.KEY, f"experiment.promote:{experiment_id}")
    info = _find(conn, experiment_id)
    if not info.active:
        raise ValidationError(
            "experiment", f"experiment {experiment_id!r} is not in the strategy in force"
        )
    chosen = next((a for a in info.arms if a.name == arm), None)
    if chosen is None:
        raise ValidationError(
            "arm",
            f"experiment {experiment_id!r} has no arm {arm!r} (arms: {', '.join(info.arm_names)})",
        )
    if chosen.name == info.control:
        raise ValidationError("arm", "the control arm is the hold-out: it cannot be promoted")
    if chosen.treatment == info.segment_treatment:
        raise ValidationError(
            "arm", f"arm {arm!r} already has the segment's treatment {chosen.treatment!r}"
        )
    shown = report(conn, experiment_id, who, start=start, end=end, policy=policy)
    reference = info.champion or info.control
    comparison = shown.readout.comparison(arm, reference)
    kind = comparison.verdict.kind if comparison else "insufficient"
    weak = kind != "better"
    if weak and not text:
        raise ReasonRequired(comparison.verdict.en if comparison else "no readout")

    base, base_info = strategies.active_strategy(conn)
    raw = yaml.safe_load(base.text or default_text())
    for seg in raw["segments"]:
        if seg["id"] == info.segment:
            seg["treatment"] = chosen.treatment
    raw["experiments"] = [x for x in raw.get("experiments") or [] if x["id"] != experiment_id]
    if not raw["experiments"]:
        del raw["experiments"]
    raw["version_note"] = f"promoted {arm} ({chosen.treatment}) of experiment {experiment_id}"
    new_text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    waiting = conn.execute(
        select(StrategyVersion.version).where(
            StrategyVersion.name == raw["name"],
            StrategyVersion.status == StrategyStatus.CANDIDATE.value,
            StrategyVersion.sha256 == hashlib.sha256(new_text.encode()).hexdigest(),
        )
    ).scalar()
    if waiting is not None:
        raise ValidationError(
            "arm",
            f"arm {arm!r} of experiment {experiment_id!r} is already promoted: candidate "
            f"version {waiting} of {raw['name']!r} waits for approval (nothing stored)",
        )
    stored = strategies.add_strategy_text(
        conn, new_text, source=f"promotion of {experiment_id}", actor=who, now=now
    )
    audit.record(
        conn, action="experiment.promote", actor=who.name, subject_type="strategy",
        subject_id=stored.id,
        payload={
            "experiment": experiment_id, "arm": arm, "treatment": chosen.treatment,
            "segment": info.segment, "base_version": base_info.id if base_info else None,
            "from": str(shown.start) if shown.start else None,
            "to": str(shown.end) if shown.end else None,
            "reference": reference, "verdict": kind,
            "verdict_en": comparison.verdict.en if comparison else None,
            "differences": [
                {"metric": d.metric, "estimate": d.estimate, "low": _finite(d.low),
                 "high": _finite(d.high)}
                for d in (comparison.differences if comparison else ())
            ],
            "weak": weak, "reason": text or None,
        },
        at=now,
    )  # fmt: skip
    return Promotion(stored, experiment_id, arm, chosen.treatment, kind, weak)


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None
