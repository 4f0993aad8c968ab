"""The outbox in figures: what the operators' metrics (``/metrics`` of the web app and of
``forbear worker``) and the supervisor dashboard's "Outreach by channel" show.

Counts only: no borrower, address or text ever leaves here. Every query is answered from
an index of the outbox (``ix_outbox_status_next_attempt_at`` for the open messages and the
oldest due one, ``ix_outbox_as_of`` for a day or a range of days) and from the runs table,
so a scrape every few seconds or a dashboard request costs milliseconds on a large book.

A message's **day** is its ``as_of``: the business date of the daily run that queued it
(or the day an agent queued it). The columns of a day, by channel:

- ``pending``: ``queued`` or ``sending`` (not handed to the provider yet);
- ``sent``: accepted by the provider (``sent`` or ``delivered``: a delivered message was
  sent);
- ``delivered``: confirmed by a delivery receipt;
- ``failed``: refused for good (``failed``) or given up after the last try (``dead``);
- ``cancelled``: will never go (the gate at the moment of sending, a missing template
  variable, a person).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Literal

import polars as pl
from sqlalchemy import Connection, and_, func, select

from forbear.store.runs import OutboxMessage, OutboxStatus, Run, RunStatus

OPEN = (OutboxStatus.QUEUED.value, OutboxStatus.SENDING.value, OutboxStatus.DEAD.value)
"""Statuses a message may stay in (waiting, claimed, given up): counted over every day."""

DAY_COLUMNS = ("pending", "sent", "delivered", "failed", "cancelled")
_COLUMN_OF_STATUS: dict[str, tuple[str, ...]] = {
    OutboxStatus.QUEUED.value: ("pending",),
    OutboxStatus.SENDING.value: ("pending",),
    OutboxStatus.SENT.value: ("sent",),
    OutboxStatus.DELIVERED.value: ("sent", "delivered"),
    OutboxStatus.FAILED.value: ("failed",),
    OutboxStatus.DEAD.value: ("failed",),
    OutboxStatus.CANCELLED.value: ("cancelled",),
}
BY_DAY_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "channel": pl.String(),
    **{c: pl.Int64() for c in DAY_COLUMNS},
}


@dataclass(frozen=True)
class OutboxFigures:
    """The outbox and the daily run at one moment (see the module docstring)."""

    today: date
    open_messages: dict[tuple[str, str], int]  # (channel, status) -> messages, every day
    today_messages: dict[tuple[str, str], int]  # (channel, status) -> messages of today
    oldest_due_seconds: float  # the oldest queued message past its time; 0 when none
    last_sent_at: datetime | None  # today's latest acceptance by a provider
    last_run_as_of: date | None  # the latest completed daily run
    last_run_finished_at: datetime | None
    last_run_seconds: float | None  # its duration


def _by_channel_status(conn: Connection, *where: object) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(*where)  # type: ignore[arg-type]
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    ).all()
    return {(str(c), str(s)): int(n) for c, s, n in rows}


def outbox_figures(conn: Connection, now: datetime, today: date) -> OutboxFigures:
    """The figures at ``now`` (aware UTC), ``today`` being the lender's business day."""
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    open_messages = _by_channel_status(conn, OutboxMessage.status.in_(OPEN))
    today_messages = _by_channel_status(conn, OutboxMessage.as_of == today)
    oldest = conn.execute(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            and_(
                OutboxMessage.status == OutboxStatus.QUEUED.value,
                OutboxMessage.next_attempt_at <= now,
            )
        )
    ).scalar_one_or_none()
    last_sent = conn.execute(
        select(func.max(OutboxMessage.sent_at)).where(
            and_(
                OutboxMessage.as_of == today,
                OutboxMessage.status.in_((OutboxStatus.SENT.value, OutboxStatus.DELIVERED.value)),
            )
        )
    ).scalar_one_or_none()
    run = conn.execute(
        select(Run.as_of, Run.started_at, Run.finished_at)
        .where(Run.status == RunStatus.COMPLETED.value)
        .order_by(Run.as_of.desc())
        .limit(1)
    ).first()
    seconds = None
    if run is not None and run.finished_at is not None:
        seconds = max(0.0, (run.finished_at - run.started_at).total_seconds())
    return OutboxFigures(
        today=today,
        open_messages=open_messages,
        today_messages=today_messages,
        oldest_due_seconds=0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
        last_sent_at=last_sent,
        last_run_as_of=None if run is None else run.as_of,
        last_run_finished_at=None if run is None else run.finished_at,
        last_run_seconds=seconds,
    )


def by_channel_per_day(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """``day, channel, pending, sent, delivered, failed, cancelled`` for the messages of
    the days ``start..end`` (both included; :data:`BY_DAY_SCHEMA`), ordered by day and
    channel; days without messages have no row. One grouped query on ``ix_outbox_as_of``."""
    if end < start:
        raise ValueError("end must not be before start")
    rows = conn.execute(
        select(OutboxMessage.as_of, OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(and_(OutboxMessage.as_of >= start, OutboxMessage.as_of <= end))
        .group_by(OutboxMessage.as_of, OutboxMessage.channel, OutboxMessage.status)
    ).all()
    table: dict[tuple[date, str], dict[str, int]] = {}
    for day, channel, status, n in rows:
        counts = table.setdefault((day, str(channel)), dict.fromkeys(DAY_COLUMNS, 0))
        for column in _COLUMN_OF_STATUS.get(str(status), ()):
            counts[column] += int(n)
    records = [{"day": d, "channel": c, **counts} for (d, c), counts in sorted(table.items())]
    return pl.DataFrame(records, schema=BY_DAY_SCHEMA)


def channel_totals(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of :func:`by_channel_per_day` added up per channel (ordered by channel)."""
    if frame.height == 0:
        return pl.DataFrame(schema={k: v for k, v in BY_DAY_SCHEMA.items() if k != "day"})
    return frame.group_by("channel").agg(pl.col(c).sum() for c in DAY_COLUMNS).sort("channel")


# --- the figures as metric series, for the Prometheus collectors of the front ends ----


@dataclass(frozen=True)
class Series:
    """One metric family in plain data: each front end's collector turns it into
    Prometheus families (``forbear.web.metrics``, ``forbear.channels.metrics``)."""

    name: str
    help: str
    kind: Literal["gauge"] = "gauge"
    labels: tuple[str, ...] = ()
    samples: Sequence[tuple[tuple[str, ...], float]] = field(default_factory=list)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def series(figures: OutboxFigures) -> list[Series]:
    """The metric families of ``figures`` (names ``forbear_*``; no personal data)."""
    day_start = (
        datetime.combine(figures.last_run_as_of, time(), UTC) if figures.last_run_as_of else None
    )
    out = [
        Series(
            "forbear_outbox_open_messages",
            "Outbox messages waiting (queued), claimed (sending) or given up (dead), every day",
            labels=("channel", "status"),
            samples=[((c, s), float(n)) for (c, s), n in sorted(figures.open_messages.items())],
        ),
        Series(
            "forbear_outbox_today_messages",
            "Outbox messages of today's business date by channel and status",
            labels=("channel", "status"),
            samples=[((c, s), float(n)) for (c, s), n in sorted(figures.today_messages.items())],
        ),
        Series(
            "forbear_outbox_oldest_due_seconds",
            "Age of the oldest queued message past its time (0 when none)",
            samples=[((), figures.oldest_due_seconds)],
        ),
    ]
    optional = (
        (
            "forbear_outbox_last_sent_timestamp_seconds",
            "When a provider last accepted a message of today (Unix time)",
            _epoch(figures.last_sent_at),
        ),
        (
            "forbear_run_last_completed_date_timestamp_seconds",
            "Business date of the latest completed daily run (Unix time of its midnight UTC)",
            _epoch(day_start),
        ),
        (
            "forbear_run_last_completed_finished_timestamp_seconds",
            "When the latest completed daily run finished (Unix time)",
            _epoch(figures.last_run_finished_at),
        ),
        (
            "forbear_run_last_completed_duration_seconds",
            "Duration of the latest completed daily run",
            figures.last_run_seconds,
        ),
    )
    for name, text, value in optional:
        out.append(Series(name, text, samples=[] if value is None else [((), float(value))]))
    return out
