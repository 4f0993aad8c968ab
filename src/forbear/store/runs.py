"""The daily run's tables: run records, decisions, agent work queues and the outbox.

- ``runs``: one row per run of a business date; at most one ``completed`` run per date
  (a partial unique index). A rerun marks the previous one ``superseded``.
- ``decisions``: every planned action of a date with the strategy version, segment, arm,
  treatment, scores, reason codes, the compliance gate's answer and the capacity plan;
  primary key ``(as_of, loan_id, action_index)``; a rerun replaces the date's rows.
- ``work_queue``: the agents' ordered work of a date (allowed and scheduled agent work).
- ``outbox``: messages to send; ``dedupe_key`` (sha256 of
  ``as_of|loan_id|action_index|channel|template`` for the run's messages, of the request
  for an agent's) is unique, so a rerun never queues a message twice and rows already sent
  stay as they are. It is also the message's stable id: the idempotency key given to the
  provider (client reference, Message-ID). The dispatcher (``forbear dispatch``) claims due
  rows (``status`` queued and ``next_attempt_at`` passed) under a lease, asks the gate
  again, sends and records the outcome (:class:`OutboxStatus`).

JSON lists (``reason_codes``, ``blocked_by``) are stored as text, as in ``contact_attempts``.
Bulk reads and writes go through :mod:`forbear.store.bulk`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import polars as pl
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Connection,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from forbear.store.models import Base, UTCDateTime


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    SUPERSEDED = "superseded"


class OutboxStatus(StrEnum):
    """Where a message is. ``queued`` waits for ``next_attempt_at`` (a retry after a
    transient failure, or a reschedule to the earliest allowed time, stays queued);
    ``sending`` is claimed by a dispatcher until ``lease_until``; ``sent`` was accepted by
    the provider; ``delivered`` confirmed by a receipt; ``failed`` refused for good (an
    invalid number, a bounced address, a receipt saying undelivered); ``dead`` gave up after
    the last try (visible, retryable); ``cancelled`` will never go (the gate's rule ids, a
    missing template variable or a person, in ``reason_rules``)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


class OutboxOrigin(StrEnum):
    """Who queued a message: the daily run, an agent from the workbench, or Forbear itself
    (the one confirmation of an opt-out)."""

    RUN = "run"
    AGENT = "agent"
    SYSTEM = "system"
    ASSISTANT = "assistant"  # the borrower assistant's answer to a borrower who wrote first


OUTBOX_STATUS_CHECK = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OutboxStatus))


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'superseded')", name="status"),
        Index(
            "ux_runs_one_completed_per_date",
            "as_of",
            unique=True,
            sqlite_where=text("status = 'completed'"),
            postgresql_where=text("status = 'completed'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    strategy_version_id: Mapped[int | None] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_run_id", "run_id"),)

    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    loan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    strategy_version_id: Mapped[int | None] = mapped_column(Integer)
    borrower_id: Mapped[int] = mapped_column(Integer)
    segment: Mapped[str | None] = mapped_column(String(100))
    arm: Mapped[str | None] = mapped_column(String(100))
    treatment: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(32))
    # the point the contact was planned for (a location contact: the emergency contact's)
    contact_point_id: Mapped[int | None] = mapped_column(Integer)
    is_demand: Mapped[bool | None] = mapped_column(Boolean)
    priority: Mapped[int | None] = mapped_column(Integer)
    behaviour_tier: Mapped[str | None] = mapped_column(String(16))
    ew_pd: Mapped[float | None] = mapped_column(Float)
    propensity: Mapped[float | None] = mapped_column(Float)
    reason_codes: Mapped[str] = mapped_column(Text)  # JSON list
    allowed: Mapped[bool | None] = mapped_column(Boolean)
    blocked_by: Mapped[str] = mapped_column(Text)  # JSON list of rule ids
    earliest_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scheduled: Mapped[bool] = mapped_column(Boolean)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(64))
    carried: Mapped[bool] = mapped_column(Boolean)


class WorkQueueItem(Base):
    __tablename__ = "work_queue"
    __table_args__ = (Index("ix_work_queue_as_of_agent_id_rank", "as_of", "agent_id", "rank"),)

    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    loan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    agent_id: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(64))
    borrower_id: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    carried: Mapped[bool] = mapped_column(Boolean)
    contact_point_id: Mapped[int | None] = mapped_column(Integer)  # whom the agent calls


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(OUTBOX_STATUS_CHECK, name="status"),
        CheckConstraint("origin IN ('run', 'agent', 'system', 'assistant')", name="origin"),
        # no borrower and no loan only for the assistant's answer to a sender on no file,
        # whose address is then sealed in to_enc (migration 0022)
        CheckConstraint(
            "(borrower_id IS NOT NULL AND loan_id IS NOT NULL) "
            "OR (origin = 'assistant' AND to_enc IS NOT NULL)",
            name="whose",
        ),
        Index("ix_outbox_as_of", "as_of"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_borrower_id_status", "borrower_id", "status"),
        Index("ix_outbox_as_of_channel_status", "as_of", "channel", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    loan_id: Mapped[int | None] = mapped_column(Integer)
    borrower_id: Mapped[int | None] = mapped_column(Integer)
    action_index: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    contact_point_id: Mapped[int | None] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # issue 13: who queued it, when it is due, and what became of it
    origin: Mapped[str] = mapped_column(String(16), server_default=OutboxOrigin.RUN.value)
    actor: Mapped[str | None] = mapped_column(String(64))  # the agent, for origin agent
    agency_id: Mapped[int | None] = mapped_column(Integer)  # an agency agent's agency
    article: Mapped[str | None] = mapped_column(String(64))  # an education article's code
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the planned moment
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())  # not claimed before
    tries: Mapped[int] = mapped_column(Integer, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # dispatcher's worker id
    provider: Mapped[str | None] = mapped_column(String(32))  # the adapter that took it
    provider_ref: Mapped[str | None] = mapped_column(String(128))  # the provider's id
    last_error: Mapped[str | None] = mapped_column(String(200))  # never personal data
    reason_rules: Mapped[str] = mapped_column(Text, server_default="[]")  # JSON rule ids
    contact_attempt_id: Mapped[int | None] = mapped_column(Integer)
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # the text as sent, encrypted
    # the address of a sender on no file (the assistant's answer), encrypted
    to_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def delete_day(conn: Connection, as_of: date) -> None:
    """Remove the decisions and work queue of ``as_of`` (the outbox is never deleted)."""
    conn.execute(delete(WorkQueueItem).where(WorkQueueItem.as_of == as_of))
    conn.execute(delete(Decision).where(Decision.as_of == as_of))


def outbox_keys(conn: Connection, as_of: date) -> set[str]:
    """The dedupe keys already in the outbox for ``as_of``."""
    rows = conn.execute(select(OutboxMessage.dedupe_key).where(OutboxMessage.as_of == as_of))
    return set(rows.scalars().all())


DECISION_COLUMNS = [c.name for c in Decision.__table__.columns]
WORK_QUEUE_COLUMNS = [c.name for c in WorkQueueItem.__table__.columns]


def read_decisions(conn: Connection, as_of: date) -> pl.DataFrame:
    """The decisions of ``as_of`` ordered by ``(loan_id, action_index)``."""
    rows = conn.execute(
        select(Decision.__table__)
        .where(Decision.as_of == as_of)
        .order_by(Decision.loan_id, Decision.action_index)
    ).mappings()
    return pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)


def read_work_queue(conn: Connection, as_of: date) -> pl.DataFrame:
    """The work queue of ``as_of`` ordered by ``(agent_id, rank)``."""
    rows = conn.execute(
        select(WorkQueueItem.__table__)
        .where(WorkQueueItem.as_of == as_of)
        .order_by(WorkQueueItem.agent_id, WorkQueueItem.rank)
    ).mappings()
    return pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)
