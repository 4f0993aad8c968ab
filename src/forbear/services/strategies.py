"""Strategy use cases: add a version, activate it, the active one, the pre-launch check.

The check runs a strategy against the current book without writing anything (apart
from the ledger snapshot ``states_for`` stores when the date has none): accounts per
segment / treatment / arm, the planned contacts the compliance gate would block and by
which rules, segments nothing reaches, accounts two segments' conditions both claim. It
fails (:class:`StrategyCheckFailed`) when the gate would block more than
``max_blocked_share`` of the planned contacts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, func, insert, select, update

from forbear.domain.access import Actor
from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.domain.compliance.gate import gate
from forbear.domain.compliance.schema import PLANNED, Party
from forbear.domain.errors import Conflict, ForbearError, NotFound
from forbear.domain.strategy import (
    Strategy,
    compile_strategy,
    default_strategy,
    load_strategy,
    parse_strategy,
)
from forbear.domain.strategy.conditions import Always
from forbear.domain.strategy.model import StrategyRejected
from forbear.domain.strategy.schema import NOT_CONTACTS
from forbear.services.accounts import build_accounts
from forbear.store import audit
from forbear.store.contacts import read_flags, read_history, read_holds
from forbear.store.locks import LockSpace, lock
from forbear.store.models import ContactKind, ContactPoint, OwnerType
from forbear.store.strategies import StrategyStatus, StrategyVersion

CONTACT_HOUR = time(10, 0)  # the check plans every contact at 10:00 local on as_of
_CONTACT_KIND = {"sms": "phone", "ai_call": "phone", "call": "phone", "app_push": None,
                 "email": "email", "letter": None, "visit": None}  # fmt: skip


class StrategyCheckFailed(ForbearError):
    """The gate would block more than the allowed share of a strategy's planned contacts."""

    def __init__(self, report: CheckReport, threshold: float) -> None:
        rules = ", ".join(f"{r} ({n})" for r, n in report.blocked_by_rule.iter_rows())
        super().__init__(
            f"strategy {report.name}: the gate would block {report.blocked_share:.0%} of "
            f"{report.planned} planned contacts (limit {threshold:.0%}); rules: {rules}"
        )
        self.report = report


@dataclass(frozen=True)
class StrategyInfo:
    id: int
    name: str
    version: int
    status: str
    sha256: str
    created_at: datetime
    activated_at: datetime | None


@dataclass(frozen=True)
class CheckReport:
    name: str
    as_of: date
    accounts: int
    by_segment: pl.DataFrame  # segment, treatment, arm, accounts
    actions: int  # the day's actions (contacts and internal tasks)
    planned: int  # contacts passed to the gate
    blocked: int
    blocked_by_rule: pl.DataFrame  # rule, contacts
    unreached: list[str]  # segments no account is in
    overlaps: pl.DataFrame  # segment, also_claimed_by, accounts

    @property
    def blocked_share(self) -> float:
        return self.blocked / self.planned if self.planned else 0.0


def _info(r: StrategyVersion) -> StrategyInfo:
    return StrategyInfo(r.id, r.name, r.version, r.status, r.sha256, r.created_at, r.activated_at)


MANAGE = "strategy.manage"
MAX_TEXT = 200_000  # characters of one strategy file


def _who(actor: Actor | str) -> Actor:
    """The acting staff member; a bare name is an operator at the command line (or the
    system), who holds every permission of the role-free tools."""
    return actor if isinstance(actor, Actor) else Actor(actor)


def _known_templates(conn: Connection) -> set[str]:
    from forbear.services.templates import list_templates

    return {t.code for t in list_templates(conn)}


def add_strategy(
    conn: Connection, path: Path, *, actor: Actor | str = "system", now: datetime
) -> StrategyInfo:
    """Validate a strategy file and store it as a new candidate version of its name.

    ``now`` is the caller's moment (the CLI passes ``app.now()``)."""
    who = _who(actor)
    who.require(MANAGE)
    return _store(conn, load_strategy(path, _known_templates(conn)), who, now)


def add_strategy_text(
    conn: Connection,
    text: str,
    *,
    source: str = "strategy.yaml",
    actor: Actor | str,
    now: datetime,
) -> StrategyInfo:
    """Validate a strategy's YAML text (:class:`StrategyRejected` names the line and the
    field) and store it as the next candidate version of its name; nothing is stored on
    refusal. Needs ``strategy.manage``; audited as ``strategy.add``."""
    who = _who(actor)
    who.require(MANAGE)
    if len(text) > MAX_TEXT:
        raise StrategyRejected(source, None, "", f"longer than {MAX_TEXT} characters")
    return _store(conn, parse_strategy(text, source, _known_templates(conn)), who, now)


def _store(conn: Connection, strategy: Strategy, who: Actor, now: datetime) -> StrategyInfo:
    lock(conn, LockSpace.KEY, f"strategy.version:{strategy.name}")  # one number per version
    last = conn.execute(
        select(func.max(StrategyVersion.version)).where(StrategyVersion.name == strategy.name)
    ).scalar()
    row = {
        "name": strategy.name,
        "version": (last or 0) + 1,
        "status": StrategyStatus.CANDIDATE.value,
        "yaml": strategy.text,
        "sha256": hashlib.sha256(strategy.text.encode()).hexdigest(),
        "created_at": now,
    }
    new_id = conn.execute(
        insert(StrategyVersion).values(**row).returning(StrategyVersion.id)
    ).scalar_one()
    audit.record(
        conn, action="strategy.add", actor=who.name, subject_type="strategy", subject_id=new_id,
        payload={"name": strategy.name, "version": row["version"], "sha256": row["sha256"]},
        at=now,
    )  # fmt: skip
    return _get(conn, new_id)


def _get(conn: Connection, strategy_id: int) -> StrategyInfo:
    t = StrategyVersion.__table__
    r = conn.execute(select(t).where(t.c.id == strategy_id)).first()
    if r is None:
        raise NotFound("strategy version", str(strategy_id))
    return StrategyInfo(r.id, r.name, r.version, r.status, r.sha256, r.created_at, r.activated_at)


def list_strategies(conn: Connection) -> list[StrategyInfo]:
    t = StrategyVersion.__table__
    ids = conn.execute(select(t.c.id).order_by(t.c.name, t.c.version)).scalars().all()
    return [_get(conn, i) for i in ids]


def activate(
    conn: Connection, strategy_id: int, actor: Actor | str = "system", *, now: datetime
) -> StrategyInfo:
    """Make a version the active strategy; the previous active one is retired.
    Needs ``strategy.manage``; audited as ``strategy.activate``. Concurrent activations
    are serialised: exactly one version is active after them (the last to commit)."""
    who = _who(actor)
    who.require(MANAGE)
    t = StrategyVersion.__table__
    lock(conn, LockSpace.KEY, "strategy.activate")  # before reading which one is active
    chosen = _get(conn, strategy_id)
    if chosen.status == StrategyStatus.ACTIVE.value:
        return chosen
    stored = conn.execute(select(t.c.yaml, t.c.sha256).where(t.c.id == strategy_id)).one()
    if hashlib.sha256(stored.yaml.encode()).hexdigest() != stored.sha256:
        raise Conflict(f"strategy version {strategy_id} fails its checksum")
    previous = conn.execute(
        select(t.c.id).where(t.c.status == StrategyStatus.ACTIVE.value)
    ).scalar()
    # retire first: the partial unique index allows one active row at any moment
    conn.execute(
        update(StrategyVersion)
        .where(t.c.status == StrategyStatus.ACTIVE.value)
        .values(status=StrategyStatus.RETIRED.value)
    )
    conn.execute(
        update(StrategyVersion)
        .where(t.c.id == strategy_id)
        .values(status=StrategyStatus.ACTIVE.value, activated_at=now)
    )
    audit.record(
        conn, action="strategy.activate", actor=who.name, subject_type="strategy",
        subject_id=strategy_id,
        payload={"name": chosen.name, "version": chosen.version, "sha256": chosen.sha256,
                 "retired": previous},
        at=now,
    )  # fmt: skip
    return _get(conn, strategy_id)


def version(
    conn: Connection, strategy_id: int, actor: Actor | str
) -> tuple[StrategyInfo, Strategy]:
    """A stored version and its parsed strategy (checksum verified). Needs
    ``strategy.manage``."""
    _who(actor).require(MANAGE)
    t = StrategyVersion.__table__
    r = conn.execute(select(t.c.yaml, t.c.sha256).where(t.c.id == strategy_id)).first()
    if r is None:
        raise NotFound("strategy version", str(strategy_id))
    if hashlib.sha256(r.yaml.encode()).hexdigest() != r.sha256:
        raise ForbearError(f"strategy version {strategy_id} fails its checksum")
    return _get(conn, strategy_id), parse_strategy(r.yaml, f"strategy version {strategy_id}")


def versions(conn: Connection, actor: Actor | str) -> list[StrategyInfo]:
    """Every stored version (by name, then version). Needs ``strategy.manage``."""
    _who(actor).require(MANAGE)
    return list_strategies(conn)


def active_strategy(conn: Connection) -> tuple[Strategy, StrategyInfo | None]:
    """The active strategy and its stored version; the shipped default (and None) when no
    version is active."""
    t = StrategyVersion.__table__
    r = conn.execute(select(t).where(t.c.status == StrategyStatus.ACTIVE.value)).first()
    if r is None:
        return default_strategy(), None
    text = r.yaml
    if hashlib.sha256(text.encode()).hexdigest() != r.sha256:
        raise ForbearError(f"strategy version {r.id} fails its checksum")
    return parse_strategy(text, f"strategy version {r.id}"), _get(conn, r.id)


def check(
    conn: Connection,
    path_or_strategy: Path | Strategy | None,
    as_of: date,
    max_blocked_share: float = 0.3,
    rules: CompiledRules | None = None,
) -> CheckReport:
    """Run a strategy (a file, a parsed one, or None = the shipped default) against the
    book as of ``as_of`` without writing decisions; raise StrategyCheckFailed when the
    gate would block more than ``max_blocked_share`` of the planned contacts."""
    rules = rules or default_rules()
    if path_or_strategy is None:
        strategy = default_strategy()
    elif isinstance(path_or_strategy, Strategy):
        strategy = path_or_strategy
    else:
        strategy = load_strategy(Path(path_or_strategy), _known_templates(conn))
    compiled = compile_strategy(strategy)
    accounts = build_accounts(conn, as_of, rules).lazy()
    assigned = compiled.assign(accounts).collect()
    by_segment = (
        assigned.group_by("segment", "treatment", "arm")
        .agg(pl.len().alias("accounts"))
        .sort("segment", "treatment", "arm", nulls_last=True)
    )
    reached = set(assigned["segment"].unique().to_list())
    unreached = [s for s in compiled.segment_ids if s not in reached]
    # a catch-all (``when: always``) overlaps everything by design: left out
    specific = [s for s in compiled.segment_ids if strategy.conditions[s] != Always(True, ())]
    overlaps = _overlaps(compiled.matches(assigned.lazy()).collect(), specific)
    actions = compiled.actions_for(assigned.lazy(), as_of).collect()

    contacts = actions.filter(~pl.col("channel").is_in([c.value for c in NOT_CONTACTS]))
    zone = rules.timezone_default
    at = datetime.combine(as_of, CONTACT_HOUR, ZoneInfo(zone)).astimezone(UTC)
    planned = _planned(conn, contacts, at, zone)
    history = read_history(conn, before=at).lazy()
    flags = read_flags(conn, at=at).lazy()
    holds = read_holds(conn).lazy()
    decided = (
        gate(planned.lazy(), history, flags, holds, rules).collect() if planned.height else None
    )
    blocked = 0
    by_rule = pl.DataFrame(schema={"rule": pl.String(), "contacts": pl.UInt32()})
    if decided is not None:
        no = decided.filter(~pl.col("allowed"))
        blocked = no.height
        by_rule = (
            no.select(pl.col("blocked_by").explode().alias("rule"))
            .group_by("rule")
            .agg(pl.len().alias("contacts"))
            .sort("contacts", "rule", descending=[True, False])
        )
    report = CheckReport(
        name=strategy.name, as_of=as_of, accounts=assigned.height, by_segment=by_segment,
        actions=actions.height, planned=planned.height, blocked=blocked,
        blocked_by_rule=by_rule, unreached=unreached, overlaps=overlaps,
    )  # fmt: skip
    if report.blocked_share > max_blocked_share:
        raise StrategyCheckFailed(report, max_blocked_share)
    return report


def _overlaps(matched: pl.DataFrame, segments: list[str]) -> pl.DataFrame:
    """Accounts whose segment's condition and a later segment's condition both hold."""
    rows: list[dict[str, object]] = []
    for i, a in enumerate(segments):
        for b in segments[i + 1 :]:
            n = matched.filter(pl.col(f"match.{a}") & pl.col(f"match.{b}")).height
            if n:
                rows.append({"segment": a, "also_claimed_by": b, "accounts": n})
    schema = {"segment": pl.String(), "also_claimed_by": pl.String(), "accounts": pl.Int64()}
    return pl.DataFrame(rows, schema=schema)


def _planned(conn: Connection, contacts: pl.DataFrame, at: datetime, zone: str) -> pl.DataFrame:
    """PLANNED rows: the debtor's primary contact point of the channel's kind."""
    cp = ContactPoint
    points = pl.DataFrame(
        [
            {"borrower_id": r.borrower_id, "kind": r.kind, "contact_point_id": r.id,
             "provenance": r.provenance}
            for r in conn.execute(
                select(cp.borrower_id, cp.kind, cp.id, cp.provenance)
                .where(cp.owner_type == OwnerType.DEBTOR.value)
                .order_by(cp.borrower_id, cp.kind, cp.is_primary.desc(), cp.id)
            )
        ],
        schema={"borrower_id": pl.Int64(), "kind": pl.String(),
                "contact_point_id": pl.Int64(), "provenance": pl.String()},
    ).unique(["borrower_id", "kind"], keep="first", maintain_order=True)  # fmt: skip
    kinds = pl.DataFrame(
        {"channel": list(_CONTACT_KIND), "kind": list(_CONTACT_KIND.values())},
        schema={"channel": pl.String(), "kind": pl.String()},
    )
    flags = read_flags(conn, at=at).select("loan_id", "agency_id")
    _ = ContactKind  # kinds above are ContactKind values
    return (
        contacts.join(kinds, on="channel", how="left")
        .join(points, on=["borrower_id", "kind"], how="left")
        .join(flags, on="loan_id", how="left")
        .with_row_index("contact_id")
        .with_columns(
            pl.col("contact_id").cast(pl.Int64),
            pl.lit(Party.DEBTOR.value).alias("party"),
            pl.lit(at).cast(pl.Datetime("us", "UTC")).alias("at"),
            pl.lit(zone).alias("timezone"),
            pl.lit(True).alias("discloses_debt"),
        )
        .select(pl.col(c).cast(t) for c, t in PLANNED.items())
    )
