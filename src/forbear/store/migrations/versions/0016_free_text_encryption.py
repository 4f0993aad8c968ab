"""Free text encrypted at rest (issue 11, finding 4).

What borrowers and staff type may hold anything (an ID number, a phone, an illness), so it
is encrypted with the PII vault like the structured personal data
(:class:`forbear.store.crypto.Contexts`, one context per column):

- ``complaints``: ``description``, ``extension_reason``, ``resolution`` become
  ``description_enc``, ``extension_reason_enc``, ``resolution_enc``;
- ``case_library``: ``lesson`` becomes ``lesson_enc``;
- ``legal_cases.closed_reason`` and ``legal_case_events.notes`` become ``closed_reason_enc``
  and ``notes_enc``;
- ``holds`` and ``promises`` keep their clear ``reason`` / ``cancel_reason`` for the codes
  Forbear itself writes (``CN.3P.REFUSAL: ...``, ``superseded``) and gain ``reason_enc`` /
  ``cancel_reason_enc`` for what a person typed. Existing hold reasons are all moved to
  ``reason_enc`` (a stored reason cannot tell who wrote it); existing promise reasons
  other than the codes ``cancelled`` and ``superseded`` are moved to ``cancel_reason_enc``
  and the code becomes ``cancelled``;
- ``plans`` gain ``cancel_reason_enc`` (the reason used to go to the audit payload).

Existing rows are encrypted in this migration, in its one transaction, so no clear text is
left behind once it commits. The key: ``forbear.store.migrate.upgrade(..., vault=...)``
passes the vault; otherwise it is built the way every entry point builds it, from the
settings (``FORBEAR_ENCRYPTION_KEYS`` / ``FORBEAR_ENCRYPTION_KEY`` / the development key
file, :func:`forbear.bootstrap.vault_from`). It is only needed when there are rows to
encrypt, and before anything is written the vault must decrypt an existing borrower name:
a wrong key is refused instead of sealing text under a key nobody holds. The downgrade
decrypts the text back into clear columns (it needs the key too).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, clear column, encrypted column, nullable): the clear column is dropped.
MOVED: tuple[tuple[str, str, str, bool], ...] = (
    ("complaints", "description", "description_enc", False),
    ("complaints", "extension_reason", "extension_reason_enc", True),
    ("complaints", "resolution", "resolution_enc", True),
    ("case_library", "lesson", "lesson_enc", False),
    ("legal_cases", "closed_reason", "closed_reason_enc", True),
    ("legal_case_events", "notes", "notes_enc", True),
)
# (table, encrypted column) added next to a clear column that stays for codes.
ADDED: tuple[tuple[str, str], ...] = (
    ("holds", "reason_enc"),
    ("promises", "cancel_reason_enc"),
    ("plans", "cancel_reason_enc"),
)
PROMISE_CODES = ("cancelled", "superseded")


def _context(table: str, clear: str) -> str:
    """The vault context of a column (``Contexts``: ``"table.column"``)."""
    return f"{table}.{clear}"


class _Keys:
    """The vault, built on first use (a database without such rows needs no key)."""

    def __init__(self) -> None:
        self._vault: Any = None

    def vault(self, conn: sa.Connection) -> Any:
        if self._vault is None:
            vault = context.config.attributes.get("vault")
            if vault is None:
                from forbear.bootstrap import load_settings, vault_from

                vault = vault_from(load_settings().load_keyring())
            _check_key(conn, vault)
            self._vault = vault
        return self._vault


def _check_key(conn: sa.Connection, vault: Any) -> None:
    from forbear.domain.errors import ConfigurationError
    from forbear.store.crypto import Contexts, DecryptionFailed

    blob = conn.execute(sa.text("SELECT name_enc FROM borrowers LIMIT 1")).scalar()
    if blob is None:
        return
    try:
        vault.decrypt(bytes(blob), context=Contexts.BORROWER_NAME)
    except DecryptionFailed:
        raise ConfigurationError(
            "migration 0016 encrypts free text with the vault, but the encryption key in "
            "the settings does not decrypt the stored borrower names: set "
            "FORBEAR_ENCRYPTION_KEYS or FORBEAR_ENCRYPTION_KEY to the key of this database"
        ) from None


def _rows(conn: sa.Connection, table: str, column: str) -> list[Any]:
    query = f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id"
    return list(conn.execute(sa.text(query)))


def _encrypt(keys: _Keys, table: str, clear: str, sealed: str) -> None:
    conn = op.get_bind()
    rows = _rows(conn, table, clear)
    if not rows:
        return
    vault = keys.vault(conn)
    context_ = _context(table, clear)
    statement = sa.text(f"UPDATE {table} SET {sealed} = :blob WHERE id = :id")
    conn.execute(
        statement,
        [{"id": r[0], "blob": vault.encrypt(str(r[1]), context=context_)} for r in rows],
    )


def _decrypt(keys: _Keys, table: str, clear: str, sealed: str) -> None:
    conn = op.get_bind()
    rows = _rows(conn, table, sealed)
    if not rows:
        return
    vault = keys.vault(conn)
    context_ = _context(table, clear)
    statement = sa.text(f"UPDATE {table} SET {clear} = :text WHERE id = :id")
    conn.execute(
        statement,
        [{"id": r[0], "text": vault.decrypt(bytes(r[1]), context=context_)} for r in rows],
    )


def upgrade() -> None:
    keys = _Keys()
    for table, column in ADDED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.LargeBinary(), nullable=True))
    for table, _clear, sealed, _nullable in MOVED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(sealed, sa.LargeBinary(), nullable=True))
    for table, clear, sealed, _nullable in MOVED:
        _encrypt(keys, table, clear, sealed)
    _encrypt(keys, "holds", "reason", "reason_enc")
    op.execute("UPDATE holds SET reason = NULL WHERE reason_enc IS NOT NULL")
    conn = op.get_bind()
    typed = list(
        conn.execute(
            sa.text(
                "SELECT id, cancel_reason FROM promises WHERE cancel_reason IS NOT NULL "
                "AND cancel_reason NOT IN ('cancelled', 'superseded') ORDER BY id"
            )
        )
    )
    if typed:
        vault = keys.vault(conn)
        conn.execute(
            sa.text(
                "UPDATE promises SET cancel_reason_enc = :blob, cancel_reason = 'cancelled' "
                "WHERE id = :id"
            ),
            [
                {"id": r[0], "blob": vault.encrypt(str(r[1]), context="promises.cancel_reason")}
                for r in typed
            ],
        )
    for table, clear, sealed, nullable in MOVED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(clear)
            if not nullable:
                batch.alter_column(sealed, existing_type=sa.LargeBinary(), nullable=False)


def downgrade() -> None:
    keys = _Keys()
    for table, clear, _sealed, _nullable in MOVED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(clear, sa.Text(), nullable=True))
    for table, clear, sealed, _nullable in MOVED:
        _decrypt(keys, table, clear, sealed)
    conn = op.get_bind()
    held = _rows(conn, "holds", "reason_enc")
    if held:
        vault = keys.vault(conn)
        conn.execute(
            sa.text("UPDATE holds SET reason = :text WHERE id = :id"),
            [
                {"id": r[0], "text": vault.decrypt(bytes(r[1]), context="holds.reason")}
                for r in held
            ],
        )
    typed = _rows(conn, "promises", "cancel_reason_enc")
    if typed:
        vault = keys.vault(conn)
        conn.execute(
            sa.text("UPDATE promises SET cancel_reason = :text WHERE id = :id"),
            [
                {
                    "id": r[0],
                    "text": vault.decrypt(bytes(r[1]), context="promises.cancel_reason")[:200],
                }
                for r in typed
            ],
        )
    for table, clear, sealed, nullable in MOVED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(sealed)
            if not nullable:
                batch.alter_column(clear, existing_type=sa.Text(), nullable=False)
    for table, column in reversed(ADDED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
