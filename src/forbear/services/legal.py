"""Legal escalation (issue 6, part 3): the review queue, cases, demands and limitation.

- **Configuration** (:func:`set_config`, :func:`config_in_force`): the eligibility rules
  and letter settings, stored as audited versions; a lender's copy may only tighten the
  shipped defaults (:mod:`forbear.domain.legal.config`).
- **The queue** (:func:`refresh_queue`, called by the daily run, and :func:`queue`):
  eligible accounts are put in front of the legal team with the criteria that held;
  an account is never sent straight to litigation. Entries that stop being eligible
  (paid, a plan, a hold...) before a case is opened are removed with the reasons.
- **Cases** (:func:`open_case`, :func:`advance`, :func:`add_costs`, :func:`record_demand`):
  opened only from the queue, by a role holding ``legal.manage``; never on an account
  with a dispute hold or whose limitation period has run (CN.LIMITATION). Stages move
  forward only (:mod:`forbear.domain.legal.lifecycle`); a demand letter that is sent is
  logged as a demand (evidence that restarts the limitation period).
- **Limitation** (:func:`limitation_watch`): open cases and queued accounts whose
  limitation date is near or past.
- **Demo** (:func:`seed_demo`).

Documents (the demand letter and the litigation package) are in
:mod:`forbear.services.documents.gather`. Every function works in the caller's
transaction and never commits; every change is audited. Errors: :class:`PermissionDenied`,
:class:`NotFound`, :class:`ValidationError`, :class:`Conflict`, :class:`ConfigurationError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, func, insert, select, update

from forbear.domain.access import Role, can
from forbear.domain.compliance.schema import HoldKind
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.legal import eligibility
from forbear.domain.legal.config import LegalConfig, default_config, load_config
from forbear.domain.legal.lifecycle import FINAL, Stage, check_move, cost_kind, stage
from forbear.domain.legal.limitation import expiring, limitation_date_expr
from forbear.domain.money import parse_yuan
from forbear.services.accounts import DayFacts, assemble_accounts, day_facts
from forbear.services.situation import limitation_years
from forbear.store import audit, bulk
from forbear.store.contacts import Hold, read_flags
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.legal import (
    LegalCase,
    LegalCaseCost,
    LegalCaseEvent,
    LegalConfigVersion,
    LegalQueueEntry,
    QueueStatus,
    read_last_debtor_contact,
)
from forbear.store.models import Loan

PERMISSION = "legal.manage"
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
DEMO_COURT = "上海市浦东新区人民法院"


# ----------------------------------------------------------------------- configuration


def config_in_force(conn: Connection) -> LegalConfig:
    """The newest stored configuration, else the shipped defaults."""
    text = current_config_text(conn)
    if text is None:
        return default_config()
    return load_config(text, source="legal configuration (stored)")


def current_config_text(conn: Connection) -> str | None:
    t = LegalConfigVersion
    newest = select(func.max(t.version)).scalar_subquery()
    return conn.execute(select(t.yaml).where(t.version == newest)).scalar_one_or_none()


def set_config(conn: Connection, text: str, *, source: str, actor: str) -> int:
    """Validate (no looser than the defaults) and store a new version; audited as
    ``legal.config``. Returns the version number."""
    _actor(actor)
    load_config(text, source=source)
    t = LegalConfigVersion
    version = int(conn.execute(select(func.coalesce(func.max(t.version), 0))).scalar_one()) + 1
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    now = datetime.now(UTC)
    conn.execute(
        insert(t).values(
            version=version,
            yaml=text,
            sha256=digest,
            source=source[-500:],
            created_by=actor,
            created_at=now,
        )
    )
    audit.record(
        conn,
        action="legal.config",
        actor=actor,
        subject_type="legal_config",
        subject_id=version,
        payload={"sha256": digest},
        at=now,
    )
    return version


# ----------------------------------------------------------------------- eligibility


def _promise_and_plan_flags(facts: DayFacts) -> pl.DataFrame:
    """``loan_id, broken_promises_90d, active_plan`` from the promises and plans areas
    (what they stored for the date: the daily run updates promises first)."""
    promises = facts.promises.lazy().select("loan_id", "broken_promises_90d")
    plans = facts.plans.lazy().select("loan_id", "active_plan")
    return (
        promises.join(plans, on="loan_id", how="full", coalesce=True)
        .select(
            pl.col("loan_id").cast(pl.Int64),
            pl.col("broken_promises_90d").fill_null(0).cast(pl.Int32),
            pl.col("active_plan").fill_null(False).cast(pl.Boolean),
        )
        .collect()
    )


def legal_accounts(
    conn: Connection, as_of: date, *, loan_id: int | None = None, facts: DayFacts | None = None
) -> pl.DataFrame:
    """``LEGAL_ACCOUNTS`` plus ``limitation_date``, for the whole book or one loan, built
    from the same readers and the same ACCOUNT assembly as the daily run (which hands
    over the day's ``facts`` it read once for both)."""
    at = datetime.combine(as_of, time(23, 59, 59), UTC)
    if loan_id is not None:
        return _one_legal_account(conn, as_of, at, loan_id)
    if facts is None:
        facts = day_facts(conn, as_of)
    states, borrowers, holds, flags = facts.states, facts.borrowers, facts.holds, facts.flags
    years = limitation_years()
    accounts = assemble_accounts(
        states.lazy(),
        borrowers.lazy(),
        pl.DataFrame(schema=bulk.SCORES).lazy(),
        holds.lazy(),
        flags.lazy(),
        as_of,
        years,
    ).drop("active_plan", "broken_promises_90d")
    components = states.lazy().select(
        "loan_id",
        "outstanding_principal",
        "overdue_principal",
        "overdue_interest",
        "overdue_penalty",
        "overdue_fee",
    )
    contact = _days_since_contact(conn, as_of, at)
    limits = flags.lazy().select("loan_id", limitation_date_expr(years))
    return (
        accounts.join(components, on="loan_id", how="left")
        .join(_promise_and_plan_flags(facts).lazy(), on="loan_id", how="left")
        .join(contact, on="loan_id", how="left")
        .join(limits, on="loan_id", how="left")
        .select(*eligibility.LEGAL_ACCOUNTS, "limitation_date")
        .with_columns(
            pl.col("broken_promises_90d").fill_null(0).cast(pl.Int32),
            pl.col("active_plan").fill_null(False),
        )
        .sort("loan_id")
        .collect()
    )


def _days_since_contact(conn: Connection, as_of: date, at: datetime) -> pl.LazyFrame:
    return (
        read_last_debtor_contact(conn, before=at)
        .lazy()
        .group_by("loan_id")
        .agg(pl.col("last_contact_at").max())
        .select(
            "loan_id",
            (pl.lit(as_of) - pl.col("last_contact_at").dt.date())
            .dt.total_days()
            .cast(pl.Int32)
            .alias("days_since_last_contact"),
        )
    )


def _one_legal_account(conn: Connection, as_of: date, at: datetime, loan_id: int) -> pl.DataFrame:
    """``legal_accounts`` of one loan from the borrower situation
    (:mod:`forbear.services.situation`): the amounts, holds, plan, promises and limitation
    as they are now, not as of the last daily run (opening a case the day a plan was
    accepted must see the plan)."""
    from forbear.services import situation

    found, _ = situation.of_loan(conn, loan_id, as_of, at)
    mine = found.loans.filter(pl.col("loan_id") == loan_id)
    if mine.is_empty():
        raise NotFound("account state", f"loan {loan_id} on {as_of}")
    contact = _days_since_contact(conn, as_of, at).filter(pl.col("loan_id") == loan_id)
    return (
        mine.lazy()
        .join(contact, on="loan_id", how="left")
        .select(*eligibility.LEGAL_ACCOUNTS, "limitation_date")
        .collect()
    )


def assess(conn: Connection, as_of: date, *, loan_id: int | None = None) -> pl.DataFrame:
    """Every account (or one) assessed against the configuration in force."""
    rules = config_in_force(conn).eligibility
    frame = legal_accounts(conn, as_of, loan_id=loan_id)
    return eligibility.assess(frame.lazy(), rules).collect().with_columns(frame["limitation_date"])


# ----------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueItem:
    entry_id: int
    loan_id: int
    loan_ref: str
    queued_on: date
    status: str
    reasons: list[dict[str, Any]]
    case_id: int | None
    stage: str | None


def refresh_queue(
    conn: Connection,
    as_of: date,
    actor: str = "system:daily-run",
    *,
    accounts: pl.DataFrame | None = None,
) -> dict[str, int]:
    """Put newly eligible accounts in the legal review queue (never straight to
    litigation) and remove queued entries that are no longer eligible and have no case
    yet. Idempotent per date: a second run for the same date changes nothing. The daily
    run passes the :func:`legal_accounts` it computed on its read snapshot.

    Returns ``eligible`` (accounts eligible today), ``added``, ``removed`` and ``queued``
    (entries waiting for review after the refresh)."""
    _actor(actor)
    rules = config_in_force(conn).eligibility
    if accounts is None:
        accounts = legal_accounts(conn, as_of)
    assessed = eligibility.assess(accounts.lazy(), rules).collect()
    q = LegalQueueEntry
    open_rows = conn.execute(
        select(q.id, q.loan_id, q.status).where(q.status.in_(["queued", "case_opened"]))
    ).all()
    open_loans = {int(r.loan_id) for r in open_rows}
    eligible = assessed.filter(pl.col("eligible"))
    eligible_ids = set(eligible["loan_id"].to_list())
    now = datetime.now(UTC)

    new_rows = [row for row in eligible.iter_rows(named=True) if row["loan_id"] not in open_loans]
    entries: list[audit.Entry] = []
    if new_rows:
        values = []
        for row in new_rows:
            reasons = eligibility.reasons(row, rules)
            values.append(
                {
                    "loan_id": row["loan_id"],
                    "queued_on": as_of,
                    "status": QueueStatus.QUEUED.value,
                    "reasons": json.dumps(reasons, ensure_ascii=False),
                    "created_by": actor,
                    "created_at": now,
                }
            )
            entries.append(
                audit.Entry(
                    "legal.queue.add",
                    actor,
                    "loan",
                    row["loan_id"],
                    {"as_of": as_of.isoformat(), "reasons": reasons},
                    now,
                )
            )
        conn.execute(insert(q), values)

    failed = {
        int(r["loan_id"]): list(r["failed"])
        for r in assessed.select("loan_id", "failed").iter_rows(named=True)
    }
    gone = [
        r
        for r in open_rows
        if r.status == QueueStatus.QUEUED.value and r.loan_id not in eligible_ids
    ]
    for r in gone:
        because = failed.get(int(r.loan_id), ["not_in_book"])
        conn.execute(
            update(q)
            .where(q.id == r.id)
            .values(
                status=QueueStatus.REMOVED.value,
                removed_on=as_of,
                removed_because=json.dumps(because),
            )
        )
        entries.append(
            audit.Entry(
                "legal.queue.remove",
                actor,
                "legal_queue",
                int(r.id),
                {"loan_id": int(r.loan_id), "as_of": as_of.isoformat(), "failed": because},
                now,
            )
        )
    if entries:
        audit.record_many(conn, entries)
    queued = conn.execute(
        select(func.count()).select_from(q).where(q.status == QueueStatus.QUEUED.value)
    ).scalar_one()
    return {
        "eligible": eligible.height,
        "added": len(new_rows),
        "removed": len(gone),
        "queued": int(queued),
    }


def queue(conn: Connection, as_of: date, *, include_cases: bool = True) -> list[QueueItem]:
    """Open queue entries (waiting for review and, with ``include_cases``, those a case
    was opened from) queued on or before ``as_of``, oldest first."""
    q, c = LegalQueueEntry, LegalCase
    statuses = ["queued", "case_opened"] if include_cases else ["queued"]
    rows = conn.execute(
        select(q.id, q.loan_id, Loan.external_ref, q.queued_on, q.status, q.reasons, c.id, c.stage)
        .join(Loan, Loan.id == q.loan_id)
        .outerjoin(c, c.queue_entry_id == q.id)
        .where(q.status.in_(statuses), q.queued_on <= as_of)
        .order_by(q.queued_on, q.id)
    ).all()
    return [
        QueueItem(
            entry_id=int(r[0]),
            loan_id=int(r[1]),
            loan_ref=str(r[2]),
            queued_on=r[3],
            status=str(r[4]),
            reasons=list(json.loads(r[5])),
            case_id=None if r[6] is None else int(r[6]),
            stage=None if r[7] is None else str(r[7]),
        )
        for r in rows
    ]


# ----------------------------------------------------------------------- cases


@dataclass(frozen=True)
class CaseView:
    id: int
    loan_id: int
    loan_ref: str
    stage: Stage
    opened_on: date
    stage_on: date
    court: str | None
    case_number: str | None
    closed_reason: str | None
    costs: int  # fen, all costs so far


def get_case(conn: Connection, case_id: int, *, vault: PiiVault | None = None) -> CaseView:
    """One case. Its closing reason is free text encrypted at rest: it is decrypted with
    ``vault``; without one (callers that only need the stage) it is ``None``."""
    c = LegalCase
    row = conn.execute(
        select(
            c.id,
            c.loan_id,
            Loan.external_ref,
            c.stage,
            c.opened_on,
            c.stage_on,
            c.court,
            c.case_number,
            c.closed_reason_enc,
        )
        .join(Loan, Loan.id == c.loan_id)
        .where(c.id == case_id)
    ).one_or_none()
    if row is None:
        raise NotFound("legal case", str(case_id))
    costs = conn.execute(
        select(func.coalesce(func.sum(LegalCaseCost.amount), 0)).where(
            LegalCaseCost.case_id == case_id
        )
    ).scalar_one()
    return CaseView(
        id=int(row[0]),
        loan_id=int(row[1]),
        loan_ref=str(row[2]),
        stage=Stage(row[3]),
        opened_on=row[4],
        stage_on=row[5],
        court=row[6],
        case_number=row[7],
        closed_reason=None
        if vault is None
        else vault.decrypt_optional(row[8], context=Contexts.LEGAL_CLOSED_REASON),
        costs=int(costs),
    )


def list_cases(
    conn: Connection, *, open_only: bool = False, vault: PiiVault | None = None
) -> list[CaseView]:
    c = LegalCase
    stmt = select(c.id).order_by(c.id)
    if open_only:
        stmt = stmt.where(c.stage.not_in([s.value for s in FINAL]))
    return [get_case(conn, int(i), vault=vault) for i in conn.execute(stmt).scalars()]


def open_case(conn: Connection, loan_id: int, *, role: str, actor: str, on: date) -> CaseView:
    """Open a case (stage ``review``) for a queued account, after checking again that it
    is eligible on ``on``; refused on a dispute hold or an expired limitation period."""
    require_permission(role)
    _actor(actor)
    q = LegalQueueEntry
    entry = conn.execute(
        select(q.id, q.status).where(q.loan_id == loan_id, q.status.in_(["queued", "case_opened"]))
    ).one_or_none()
    if entry is None:
        _borrower_of(conn, loan_id)  # NotFound for an unknown loan
        raise Conflict(
            f"loan {loan_id} is not in the legal review queue: a case is opened only for a "
            "queued (eligible) account (forbear legal queue)"
        )
    if entry.status == QueueStatus.CASE_OPENED.value:
        existing = conn.execute(
            select(LegalCase.id).where(LegalCase.queue_entry_id == entry.id)
        ).scalar_one()
        raise Conflict(f"loan {loan_id} already has legal case {existing}")
    _refuse_if_disputed(conn, loan_id, on)
    row = assess(conn, on, loan_id=loan_id).row(0, named=True)
    if not row["ok_limitation"]:
        raise Conflict(
            f"loan {loan_id}: the limitation period has run (CN.LIMITATION, limitation date "
            f"{row['limitation_date']}); no case may be opened"
        )
    if not row["eligible"]:
        raise Conflict(
            f"loan {loan_id} is no longer eligible on {on.isoformat()} "
            f"(failed: {', '.join(row['failed'])}); the next queue refresh removes it"
        )
    now = datetime.now(UTC)
    case_id = conn.execute(
        insert(LegalCase)
        .values(
            loan_id=loan_id,
            queue_entry_id=entry.id,
            stage=Stage.REVIEW.value,
            opened_on=on,
            stage_on=on,
            opened_by=actor,
            created_at=now,
        )
        .returning(LegalCase.id)
    ).scalar_one()
    conn.execute(
        insert(LegalCaseEvent).values(
            case_id=case_id,
            from_stage=None,
            stage=Stage.REVIEW.value,
            stage_on=on,
            created_by=actor,
            created_at=now,
        )
    )
    conn.execute(update(q).where(q.id == entry.id).values(status=QueueStatus.CASE_OPENED.value))
    audit.record(
        conn,
        action="legal.case.open",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={
            "loan_id": loan_id,
            "queue_entry_id": int(entry.id),
            "on": on.isoformat(),
            "role": role,
        },
        at=now,
    )
    return get_case(conn, int(case_id))


def parse_costs(items: Sequence[str]) -> list[tuple[str, int]]:
    """``kind=yuan`` items (``court_fee=1250.50``) as ``(kind, fen)``; refused with the item."""
    costs = []
    for item in items:
        kind, sep, amount = item.partition("=")
        if not sep:
            raise ValidationError("cost", f"{item!r}: give kind=yuan, e.g. court_fee=1250.50")
        fen = parse_yuan(amount.strip(), field=f"cost {kind.strip()}")
        if fen <= 0:
            raise ValidationError("cost", f"{item!r}: a cost must be positive")
        costs.append((cost_kind(kind.strip()).value, fen))
    return costs


def advance(
    conn: Connection,
    case_id: int,
    to: str,
    *,
    role: str,
    actor: str,
    on: date,
    court: str | None = None,
    case_number: str | None = None,
    costs: Sequence[tuple[str, int]] = (),
    notes: str | None = None,
    reason: str | None = None,
    evidence_ref: str | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
    vault: PiiVault | None = None,
) -> CaseView:
    """Move a case forward to ``to`` on ``on`` (refused backwards, with the reason, and
    nothing changes). Moving to ``demand_letter`` logs the letter as a demand with its
    evidence reference (the letter's tracking number; CN.LIMITATION). Demand letters and
    filing are refused on a disputed or time-barred debt.

    ``notes`` and the closing ``reason`` are free text, stored encrypted with ``vault``
    (required when either is given)."""
    require_permission(role)
    _actor(actor)
    if vault is None and (notes or reason):
        raise TypeError("notes and reasons are encrypted at rest: pass the vault")
    target = stage(to)
    case = get_case(conn, case_id)
    check_move(
        case_id,
        case.stage,
        target,
        on=on,
        last_on=case.stage_on,
        court=court,
        case_number=case_number,
        known_court=case.court,
        known_case_number=case.case_number,
        reason=reason,
    )
    checked_costs = [(cost_kind(kind).value, int(fen)) for kind, fen in costs]
    if any(fen <= 0 for _, fen in checked_costs):
        raise ValidationError("cost", "a cost must be positive")
    if target in (Stage.DEMAND_LETTER, Stage.FILED):
        _refuse_if_disputed(conn, case.loan_id, on)
        row = assess(conn, on, loan_id=case.loan_id).row(0, named=True)
        if not row["ok_limitation"]:
            raise Conflict(
                f"case {case_id}: the limitation period has run (CN.LIMITATION, limitation "
                f"date {row['limitation_date']}); close the case instead"
            )
    now = datetime.now(UTC)
    demand_id = None
    if target is Stage.DEMAND_LETTER:
        from forbear.services.contacts import log_demand

        demand_id = log_demand(
            conn,
            loan_id=case.loan_id,
            at=datetime.combine(on, time(12), zone).astimezone(UTC),
            channel="letter",
            evidence_ref=(evidence_ref or f"legal-case:{case_id}:demand-letter")[:200],
            actor=actor,
        )
    values: dict[str, Any] = {"stage": target.value, "stage_on": on}
    if court:
        values["court"] = court.strip()
    if case_number:
        values["case_number"] = case_number.strip()
    if target is Stage.CLOSED and vault is not None:
        values["closed_reason_enc"] = vault.encrypt(
            (reason or "").strip(), context=Contexts.LEGAL_CLOSED_REASON
        )
    note = notes if target is not Stage.CLOSED else (reason or notes)
    conn.execute(update(LegalCase).where(LegalCase.id == case_id).values(**values))
    conn.execute(
        insert(LegalCaseEvent).values(
            case_id=case_id,
            from_stage=case.stage.value,
            stage=target.value,
            stage_on=on,
            court=court,
            case_number=case_number,
            notes_enc=None
            if not note or vault is None
            else vault.encrypt(note, context=Contexts.LEGAL_EVENT_NOTES),
            demand_id=demand_id,
            created_by=actor,
            created_at=now,
        )
    )
    _insert_costs(conn, case_id, checked_costs, on=on, stage_=target, actor=actor, now=now)
    audit.record(
        conn,
        action="legal.case.advance",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={
            "from": case.stage.value,
            "to": target.value,
            "on": on.isoformat(),
            "court": court,
            "case_number": case_number,
            "costs": [[kind, fen] for kind, fen in checked_costs],
            "demand_id": demand_id,
            "role": role,
        },
        at=now,
    )
    return get_case(conn, case_id, vault=vault)


def add_costs(
    conn: Connection,
    case_id: int,
    costs: Sequence[tuple[str, int]],
    *,
    role: str,
    actor: str,
    on: date,
) -> CaseView:
    """Record costs of a case at its current stage (audited as ``legal.case.cost``)."""
    require_permission(role)
    _actor(actor)
    if not costs:
        raise ValidationError("cost", "give at least one kind=yuan")
    case = get_case(conn, case_id)
    checked = [(cost_kind(kind).value, int(fen)) for kind, fen in costs]
    if any(fen <= 0 for _, fen in checked):
        raise ValidationError("cost", "a cost must be positive")
    now = datetime.now(UTC)
    _insert_costs(conn, case_id, checked, on=on, stage_=case.stage, actor=actor, now=now)
    audit.record(
        conn,
        action="legal.case.cost",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={"on": on.isoformat(), "costs": [[k, f] for k, f in checked]},
        at=now,
    )
    return get_case(conn, case_id)


def record_demand(
    conn: Connection,
    case_id: int,
    *,
    role: str,
    actor: str,
    at: datetime,
    evidence_ref: str,
    channel: str = "letter",
) -> int:
    """Log a further demand on an open case (a second letter, a lawyer's letter served)
    with its proof: it restarts the limitation period (CN.LIMITATION). Returns its id."""
    from forbear.services.contacts import log_demand

    require_permission(role)
    case = get_case(conn, case_id)
    if case.stage.is_final:
        raise Conflict(f"case {case_id} has ended ({case.stage.value})")
    _refuse_if_disputed(conn, case.loan_id, at.date())
    demand_id = log_demand(
        conn,
        loan_id=case.loan_id,
        at=at,
        channel=channel,
        evidence_ref=evidence_ref,
        actor=actor,
    )
    audit.record(
        conn,
        action="legal.case.demand",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={"demand_id": demand_id, "channel": channel},
    )
    return demand_id


# ----------------------------------------------------------------------- limitation


def limitation_watch(conn: Connection, as_of: date, within_days: int | None = None) -> pl.DataFrame:
    """Open cases and queued accounts whose limitation date is within ``within_days``
    (default: the configuration's ``expiring_within_days``) or already past, soonest
    first: ``loan_id, loan_ref, case_id, stage, limitation_date, days_left, expired``."""
    days = (
        within_days
        if within_days is not None
        else config_in_force(conn).eligibility.expiring_within_days
    )
    if days < 0:
        raise ValidationError("within", "a number of days, 0 or more")
    q, c = LegalQueueEntry, LegalCase
    rows = conn.execute(
        select(q.loan_id, Loan.external_ref, c.id, c.stage)
        .join(Loan, Loan.id == q.loan_id)
        .outerjoin(c, (c.queue_entry_id == q.id) & c.stage.not_in([s.value for s in FINAL]))
        .where(q.status.in_(["queued", "case_opened"]))
    ).all()
    watched = pl.DataFrame(
        [(int(r[0]), str(r[1]), r[2], r[3]) for r in rows],
        schema={
            "loan_id": pl.Int64,
            "loan_ref": pl.String,
            "case_id": pl.Int64,
            "stage": pl.String,
        },
        orient="row",
    )
    at = datetime.combine(as_of, time(23, 59, 59), UTC)
    limits = (
        read_flags(conn, at=at).lazy().select("loan_id", limitation_date_expr(limitation_years()))
    )
    return (
        expiring(watched.lazy().join(limits, on="loan_id", how="left"), as_of, days)
        .select(
            "loan_id", "loan_ref", "case_id", "stage", "limitation_date", "days_left", "expired"
        )
        .collect()
    )


# ----------------------------------------------------------------------- plans


def legal_closure(conn: Connection, loan_id: int, as_of: date) -> str | None:
    """Why a loan may not get a repayment plan from collections because of its legal case
    (asked by :func:`forbear.services.plans.offer_plan`): a settlement reached through a
    case fixes the terms, and after a judgment the court's decision governs repayment, so any new
    arrangement goes through the legal team. ``None`` when the legal area has no
    objection (no case, or a case in review, demand or filing, or closed)."""
    c = LegalCase
    row = conn.execute(
        select(c.id, c.stage, c.stage_on)
        .where(
            c.loan_id == loan_id,
            c.stage.in_([Stage.SETTLED.value, Stage.JUDGMENT.value, Stage.ENFORCEMENT.value]),
            c.stage_on <= as_of,
        )
        .order_by(c.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    if row.stage == Stage.SETTLED.value:
        return f"settled through legal case {row.id} on {row.stage_on.isoformat()}"
    return f"legal case {row.id} is at {row.stage} since {row.stage_on.isoformat()}: ask legal"


# ----------------------------------------------------------------------- demo


def seed_demo(conn: Connection, as_of: date, *, actor: str = "system:demo") -> int:
    """Refresh the queue on the demo book and open a few cases at various stages (one
    in review, one with a demand letter sent, one filed with a court fee). Returns the
    number of cases opened (fewer when fewer accounts are eligible); a rerun opens none
    for accounts that already have a case."""
    refresh_queue(conn, as_of, actor)
    waiting = [item for item in queue(conn, as_of, include_cases=False)][:3]
    role = Role.LEGAL.value
    opened = 0
    for index, item in enumerate(waiting):
        try:
            case = open_case(conn, item.loan_id, role=role, actor=actor, on=as_of)
        except Conflict:
            continue
        opened += 1
        if index >= 1:
            advance(
                conn,
                case.id,
                "demand_letter",
                role=role,
                actor=actor,
                on=as_of,
                evidence_ref=f"demo-letter-{case.id}",
            )
        if index >= 2:
            advance(
                conn,
                case.id,
                "filed",
                role=role,
                actor=actor,
                on=as_of,
                court=DEMO_COURT,
                case_number=f"({as_of.year})沪0115民初{10000 + case.id}号",
                costs=[("court_fee", 25_000)],
            )
    return opened


# ----------------------------------------------------------------------- helpers


def _insert_costs(
    conn: Connection,
    case_id: int,
    costs: Sequence[tuple[str, int]],
    *,
    on: date,
    stage_: Stage,
    actor: str,
    now: datetime,
) -> None:
    if costs:
        conn.execute(
            insert(LegalCaseCost),
            [
                {
                    "case_id": case_id,
                    "kind": kind,
                    "amount": fen,
                    "incurred_on": on,
                    "stage": stage_.value,
                    "created_by": actor,
                    "created_at": now,
                }
                for kind, fen in costs
            ],
        )


def _refuse_if_disputed(conn: Connection, loan_id: int, on: date) -> None:
    """A dispute stops legal action until it is resolved (the debtor's dispute must be
    verified first; CBA-2026, US.REGF.DISPUTE in spirit)."""
    at = datetime.combine(on, time(23, 59, 59), UTC)
    borrower_id = _borrower_of(conn, loan_id)
    h = Hold
    disputed = conn.execute(
        select(h.id)
        .where(
            h.borrower_id == borrower_id,
            h.kind == HoldKind.DISPUTE.value,
            (h.loan_id.is_(None)) | (h.loan_id == loan_id),
            h.since <= at,
            (h.until.is_(None)) | (h.until > at),
        )
        .limit(1)
    ).scalar_one_or_none()
    if disputed is not None:
        raise Conflict(
            f"loan {loan_id} has an open dispute hold (hold {disputed}): no legal action "
            "until the dispute is resolved"
        )


def require_permission(role: str) -> None:
    if not role:
        raise PermissionDenied("(none)", PERMISSION)
    if not can(role, PERMISSION):
        raise PermissionDenied(role, PERMISSION)


def _borrower_of(conn: Connection, loan_id: int) -> int:
    found = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one_or_none()
    if found is None:
        raise NotFound("loan", str(loan_id))
    return int(found)


def _actor(actor: str) -> None:
    if not actor.strip():
        raise ValidationError("actor", "every action names who did it")
