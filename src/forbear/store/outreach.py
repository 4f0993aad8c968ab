"""What comes back from the channels (issue 13): the signed callbacks accepted, and the
borrowers' replies.

- ``channel_callbacks``: one row per accepted signed callback (receipt, reply, payment).
  ``signature_sha256`` (the sha256 of the provider and the signature as sent) is unique:
  the same signed request twice is a replay and is refused. ``event_key`` (the provider's
  event id: a message id and status, a transaction id) is unique per provider and kind
  while set: a second, freshly signed delivery of the same event is stored with a null
  ``event_key`` and ``result`` ``duplicate``, and changes nothing else. Rows hold no
  personal data (ids and digests only) and may be purged after the signature window has
  long passed (:func:`purge_callbacks`); event keys of payments are also held by
  ``payments.external_ref``, so a purge never lets a payment in twice.
- ``inbound_messages``: what a borrower (or an unknown sender) wrote back. The sender's
  address is encrypted with its blind index (to find the sender's other replies), the text
  encrypted (``Contexts``-style label :data:`BODY_CONTEXT`), never logged or audited.
  ``borrower_id`` / ``contact_point_id`` are set when the sender matched a contact point of
  the file; ``classification`` is what Forbear made of it (``opt_out``, ``other``);
  ``routed_to`` who answers it (``agent`` until the borrower assistant of issue 14 exists);
  ``handled_at`` / ``handled_by`` when a person dealt with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import NullType

from forbear.store.models import Base, UTCDateTime, _one_of

try:  # the PostgreSQL driver (installed with Forbear; absent, SQLite alone is used)
    import psycopg
    from psycopg.types.array import ListBinaryDumper
except ImportError:  # pragma: no cover
    psycopg = None  # type: ignore[assignment]

# The associated-data labels of the encrypted columns (``"table.column"``, as
# :class:`forbear.store.crypto.Contexts`).
BODY_CONTEXT = "inbound_messages.body"
SENDER_CONTEXT = "inbound_messages.sender"


class CallbackKind(StrEnum):
    RECEIPT = "receipt"
    REPLY = "reply"
    PAYMENT = "payment"


class CallbackResult(StrEnum):
    APPLIED = "applied"  # the event took effect
    DUPLICATE = "duplicate"  # the same event was already applied: nothing changed


class ReplyClass(StrEnum):
    OPT_OUT = "opt_out"  # 退订 / TD / STOP ...: an opt-out hold for that medium
    OTHER = "other"  # anything else: a person (or the assistant) reads it


class RoutedTo(StrEnum):
    AGENT = "agent"
    ASSISTANT = "assistant"  # the borrower assistant (issue 14), once it exists
    NONE = "none"  # nothing to answer (an opt-out, confirmed by Forbear itself)


class ChannelCallback(Base):
    __tablename__ = "channel_callbacks"
    __table_args__ = (
        UniqueConstraint("provider", "kind", "event_key"),
        CheckConstraint(_one_of("kind", CallbackKind), name="kind"),
        CheckConstraint(_one_of("result", CallbackResult), name="result"),
        Index("ix_channel_callbacks_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    signature_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    event_key: Mapped[str | None] = mapped_column(String(160))
    result: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the callback's timestamp
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        CheckConstraint(_one_of("classification", ReplyClass), name="classification"),
        CheckConstraint(_one_of("routed_to", RoutedTo), name="routed_to"),
        Index("ix_inbound_messages_borrower_id_received_at", "borrower_id", "received_at"),
        Index("ix_inbound_messages_routed_to_handled_at", "routed_to", "handled_at"),
        Index("ix_inbound_messages_sender_bidx", "sender_bidx"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("channel_callbacks.id"))
    channel: Mapped[str] = mapped_column(String(16))  # sms | email
    provider: Mapped[str] = mapped_column(String(32))
    sender_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sender_bidx: Mapped[str] = mapped_column(String(64))
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("borrowers.id"))
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_points.id"))
    outbox_id: Mapped[int | None] = mapped_column(Integer)  # the message it answers, if known
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # as the provider says
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    classification: Mapped[str] = mapped_column(String(16))
    routed_to: Mapped[str] = mapped_column(String(16))
    hold_id: Mapped[int | None] = mapped_column(Integer)  # the opt-out hold it placed
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by: Mapped[str | None] = mapped_column(String(100))


def purge_callbacks(conn: Connection, before: datetime) -> int:
    """Delete the callback records received before ``before`` (keep them well past the
    providers' retry horizon: a purged record no longer makes a late retry a duplicate; a
    replay is refused anyway by the signature window). Replies keep no link to them."""
    old = select(ChannelCallback.id).where(ChannelCallback.received_at < before)
    conn.execute(
        update(InboundMessage).where(InboundMessage.callback_id.in_(old)).values(callback_id=None)
    )
    return int(
        conn.execute(delete(ChannelCallback).where(ChannelCallback.received_at < before)).rowcount
    )


def purge_unmatched(conn: Connection, before: datetime) -> int:
    """Delete the replies from senders on no file received before ``before`` (a stranger's
    words and number: nothing to keep them for once read)."""
    return int(
        conn.execute(
            delete(InboundMessage).where(
                InboundMessage.borrower_id.is_(None), InboundMessage.received_at < before
            )
        ).rowcount
    )


def in_ints(conn: Connection, column: Any, values: Iterable[int]) -> ColumnElement[bool]:
    """``column IN values`` for a batch of integer ids. On PostgreSQL ``column =
    ANY(:array)``: one bind parameter whatever the number of ids, so the statement's text
    is the same for every batch (an expanded ``IN`` of 2,000 parameters is a new text per
    size, parsed again by the driver and never prepared). Elsewhere an ``IN``."""
    ids = [int(v) for v in values]
    if conn.dialect.name == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(None, ids, type_=ARRAY(Integer))))
    return cast(ColumnElement[bool], column.in_(ids))


class _BinaryArray(list[Any]):
    """A list psycopg sends to PostgreSQL as a **binary** array. psycopg sends a list in the
    text format by default, quoting and escaping every element in Python: for a JSON text
    about 12 microseconds an element, for a time stamp or bytes about 3, against 0.2-0.3 in
    the binary format; on a batch of 2,000 audit events that was a fifth of the dispatcher's
    main thread. Elements are the values the column's own type makes of them (its bind
    processor); an array of nulls alone goes untyped, as before, and the statement casts
    every array to the column's type either way."""


if psycopg is not None:
    psycopg.adapters.register_dumper(_BinaryArray, ListBinaryDumper)


def _array(conn: Connection, column_type: Any, values: Iterable[Any]) -> list[Any]:
    """``values`` as the column's type binds each of them, in a :class:`_BinaryArray`."""
    process = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return _BinaryArray(values if process is None else (process(v) for v in values))


def update_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    values: Mapping[str, Any],
    *,
    key: str = "oid",
) -> None:
    """One UPDATE of many rows of ``table`` (by ``id``): each of ``rows`` carries its id
    under ``key`` and the bind parameters that ``values`` (column -> constant, or
    ``bindparam(name)`` for a value per row) name. Nothing when ``rows`` is empty.

    On PostgreSQL a single statement whatever the number of rows: the per-row values go as
    one array per column and are joined back by ``unnest`` (``UPDATE ... FROM (SELECT
    unnest(...), ...)``), so the statement's text is the same for every batch (psycopg
    prepares it once) and the server applies the rows in one round trip. Elsewhere
    (SQLite) an executemany of the row-by-row UPDATE."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(update(table).where(table.c.id == bindparam(key)).values(**values), rows)
        return
    per_row = {col: v.key for col, v in values.items() if isinstance(v, BindParameter)}
    columns = {key: table.c.id.type, **{name: table.c[col].type for col, name in per_row.items()}}
    v = select(
        *(
            func.unnest(
                sql_cast(
                    bindparam(
                        f"_rows_{name}", _array(conn, t, (r[name] for r in rows)), type_=NullType()
                    ),
                    ARRAY(t),
                )
            ).label(name)
            for name, t in columns.items()
        )
    ).subquery("v")
    assigned = {col: v.c[per_row[col]] if col in per_row else val for col, val in values.items()}
    conn.execute(update(table).where(table.c.id == v.c[key]).values(**assigned))


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning_ids: bool = False,
) -> list[int]:
    """Insert ``rows`` (each a mapping of the same columns) into ``table``; with
    ``returning_ids`` returns the new rows' ``id`` in the order of ``rows``, else ``[]``.

    On PostgreSQL one statement whatever the number of rows: each column's values go as
    one array and are joined back by ``unnest ... WITH ORDINALITY`` (``INSERT ... SELECT
    ... FROM unnest(:a, :b, ...) ORDER BY ordinality RETURNING id``), so the statement's
    text depends only on the columns: psycopg converts and prepares it once, where a
    multi-row ``VALUES`` of N rows is a new text of N x columns parameters per batch size.
    The ids come from the table's sequence in the ``ORDER BY`` order (the way SQLAlchemy's
    own ordered ``insertmanyvalues`` relies on), so sorted they follow ``rows``. Elsewhere
    (SQLite) an executemany, or SQLAlchemy's multi-row ``INSERT ... RETURNING``."""
    if not rows:
        return []
    names = list(rows[0])
    if conn.dialect.name != "postgresql":
        if not returning_ids:
            conn.execute(insert(table), list(rows))
            return []
        if len(rows) == 1:
            return [
                int(
                    conn.execute(insert(table).values(**rows[0]).returning(table.c.id)).scalar_one()
                )
            ]
        found = conn.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(i) for i in found.scalars().all()]
    dialect = conn.dialect
    quote_name = dialect.identifier_preparer.quote
    columns = ", ".join(quote_name(n) for n in names)
    arrays = ", ".join(
        f"CAST(:_ins_{i} AS {table.c[n].type.compile(dialect=dialect)}[])"
        for i, n in enumerate(names)
    )
    statement = text(
        f"INSERT INTO {quote_name(table.name)} ({columns}) "
        f"SELECT {columns} FROM unnest({arrays}) WITH ORDINALITY AS _v({columns}, _ord) "
        "ORDER BY _ord" + (" RETURNING id" if returning_ids else "")
    ).bindparams(
        *(
            bindparam(
                f"_ins_{i}", _array(conn, table.c[n].type, (r[n] for r in rows)), type_=NullType()
            )
            for i, n in enumerate(names)
        )
    )
    result = conn.execute(statement)
    if not returning_ids:
        return []
    return sorted(int(i) for i in result.scalars().all())


__all__ = [
    "BODY_CONTEXT",
    "SENDER_CONTEXT",
    "CallbackKind",
    "CallbackResult",
    "ChannelCallback",
    "InboundMessage",
    "ReplyClass",
    "RoutedTo",
    "in_ints",
    "insert_rows",
    "purge_callbacks",
    "purge_unmatched",
    "update_rows",
]
