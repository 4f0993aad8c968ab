"""Key rotation: re-encrypt every stored personal value with the current key version.

``forbear keys rotate`` first adds a new key to the keyring and makes it current (the
key file is replaced atomically before anything is encrypted with the new key), then
calls :func:`reencrypt`. The re-encryption walks each encrypted table in primary-key
order, ``batch_size`` rows at a time, one transaction per batch, so it can be stopped at
any point and run again (``forbear keys reencrypt``): values whose first byte already
names the current version are skipped, the rest are decrypted with their old key and
encrypted again with the current one. Readers keep working throughout, since the vault
reads every version in the keyring.

Blind indexes do not change: their HMAC key is the keyring's ``index`` key, which a
rotation keeps (``forbear.settings`` docstring). Rotating the index key would need every
``*_bidx`` recomputed in one go while lookups pause; it is not offered.

Every encrypted column is listed in :data:`ENCRYPTED`: the borrowers' and contact points'
personal data, the free text people type (complaints, case lessons, hold, promise and plan
reasons, legal notes; migration 0016), the portal's queued sign-in codes and the
assistant's transcripts and form slots (migration 0021). A test checks
that every ``*_enc`` column of the schema is listed, so a new one cannot be forgotten.

The audit event ``keys.rotate`` records the version and the counts, never a key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update

from forbear.store import audit, outreach
from forbear.store.assistant import (
    SENDER_CONTEXT,
    SLOTS_CONTEXT,
    TURN_CONTEXT,
    AssistantConversation,
    AssistantTurn,
)
from forbear.store.complaints import CaseEntry, Complaint
from forbear.store.contacts import Hold
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.hold_cases import (
    DISPUTE_ANSWER,
    EVIDENCE_CONTENT,
    EVIDENCE_NAME,
    RELEASE_REASON,
    DisputeEvidence,
    HoldCase,
)
from forbear.store.legal import LegalCase, LegalCaseEvent
from forbear.store.models import Borrower, ContactPoint
from forbear.store.outreach import InboundMessage
from forbear.store.plans import DECISION_CONTEXT, REASON_CONTEXT, Plan, PlanApproval
from forbear.store.portal import PortalOutbox
from forbear.store.private_files import write_private
from forbear.store.promises import Promise
from forbear.store.runs import OutboxMessage
from forbear.store.workbench import NOTE_CONTEXT, AccountNote

DEFAULT_BATCH = 500

# table -> {encrypted column: encryption context}
ENCRYPTED: dict[Table, dict[str, str]] = {
    Borrower.__table__: {  # type: ignore[dict-item]
        "name_enc": Contexts.BORROWER_NAME,
        "national_id_enc": Contexts.BORROWER_NATIONAL_ID,
        "mobile_enc": Contexts.BORROWER_MOBILE,
        "email_enc": Contexts.BORROWER_EMAIL,
        "address_enc": Contexts.BORROWER_ADDRESS,
    },
    ContactPoint.__table__: {  # type: ignore[dict-item]
        "value_enc": Contexts.CONTACT_VALUE,
        "owner_name_enc": Contexts.CONTACT_OWNER_NAME,
    },
    Complaint.__table__: {  # type: ignore[dict-item]
        "description_enc": Contexts.COMPLAINT_DESCRIPTION,
        "extension_reason_enc": Contexts.COMPLAINT_EXTENSION_REASON,
        "resolution_enc": Contexts.COMPLAINT_RESOLUTION,
    },
    CaseEntry.__table__: {"lesson_enc": Contexts.CASE_LESSON},  # type: ignore[dict-item]
    Hold.__table__: {"reason_enc": Contexts.HOLD_REASON},  # type: ignore[dict-item]
    Promise.__table__: {"cancel_reason_enc": Contexts.PROMISE_CANCEL_REASON},  # type: ignore[dict-item]
    Plan.__table__: {"cancel_reason_enc": Contexts.PLAN_CANCEL_REASON},  # type: ignore[dict-item]
    LegalCase.__table__: {"closed_reason_enc": Contexts.LEGAL_CLOSED_REASON},  # type: ignore[dict-item]
    LegalCaseEvent.__table__: {"notes_enc": Contexts.LEGAL_EVENT_NOTES},  # type: ignore[dict-item]
    PortalOutbox.__table__: {"payload_enc": Contexts.PORTAL_OUTBOX_PAYLOAD},  # type: ignore[dict-item]
    InboundMessage.__table__: {  # type: ignore[dict-item]
        "sender_enc": outreach.SENDER_CONTEXT,
        "body_enc": outreach.BODY_CONTEXT,
    },
    # the text as sent (the dispatcher's, issue 13; services.outreach.correspondence)
    OutboxMessage.__table__: {"body_enc": "outbox.body", "to_enc": "outbox.to"},  # type: ignore[dict-item]
    # the borrower assistant's transcripts and form slots (issue 14)
    AssistantConversation.__table__: {  # type: ignore[dict-item]
        "slots_enc": SLOTS_CONTEXT,
        "sender_enc": SENDER_CONTEXT,
    },
    AssistantTurn.__table__: {"body_enc": TURN_CONTEXT},  # type: ignore[dict-item]
    # the collection floor (issue 15): dispute answers and release reasons, evidence file
    # names, call notes, the reasons of plans submitted for approval and of decisions
    HoldCase.__table__: {"answer_enc": DISPUTE_ANSWER, "reason_enc": RELEASE_REASON},  # type: ignore[dict-item]
    DisputeEvidence.__table__: {"name_enc": EVIDENCE_NAME},  # type: ignore[dict-item]
    AccountNote.__table__: {"text_enc": NOTE_CONTEXT},  # type: ignore[dict-item]
    PlanApproval.__table__: {"reason_enc": REASON_CONTEXT, "decision_reason_enc": DECISION_CONTEXT},  # type: ignore[dict-item]
}


def encrypted_columns(table: str) -> dict[str, str]:
    """``{encrypted column: context}`` of the table named ``table`` (empty if none)."""
    for known, columns in ENCRYPTED.items():
        if known.name == table:
            return columns
    return {}


@dataclass
class TableCount:
    rows_seen: int = 0
    rows_rewritten: int = 0
    values_reencrypted: int = 0


@dataclass
class RotationReport:
    key_version: int
    tables: dict[str, TableCount] = field(default_factory=dict)
    batches: int = 0

    @property
    def values_reencrypted(self) -> int:
        return sum(t.values_reencrypted for t in self.tables.values())

    def as_payload(self) -> dict[str, Any]:
        return {
            "key_version": self.key_version,
            "batches": self.batches,
            "tables": {
                name: {
                    "rows_seen": t.rows_seen,
                    "rows_rewritten": t.rows_rewritten,
                    "values_reencrypted": t.values_reencrypted,
                }
                for name, t in self.tables.items()
            },
        }


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """One transaction per batch: a fresh one on an engine, a savepoint on a connection
    that is already in a transaction (tests, callers composing a larger unit)."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        with bind.begin_nested():
            yield bind


def _batch(
    conn: Connection, vault: PiiVault, table: Table, columns: dict[str, str], after: int, size: int
) -> tuple[list[Any], int, int]:
    """Re-encrypt one batch; returns (rows read, rows rewritten, values re-encrypted)."""
    pk = table.c.id
    rows = list(
        conn.execute(
            select(pk, *(table.c[c] for c in columns)).where(pk > after).order_by(pk).limit(size)
        )
    )
    rewritten = values = 0
    current = vault.key_version
    for row in rows:
        changes: dict[str, bytes] = {}
        for column, context in columns.items():
            blob = row._mapping[column]
            if blob is None or blob[0] == current:
                continue
            changes[column] = vault.encrypt(vault.decrypt(blob, context=context), context=context)
        if changes:
            conn.execute(update(table).where(pk == row.id).values(**changes))
            rewritten += 1
            values += len(changes)
    return rows, rewritten, values


EVIDENCE_FILES = "dispute_evidence (files)"  # the report's line for the sealed files


def _evidence_files(bind: Engine | Connection, data_dir: Path) -> list[Path]:
    with _transaction(bind) as conn:
        paths = conn.execute(select(DisputeEvidence.path).order_by(DisputeEvidence.id)).scalars()
        return [data_dir / p for p in paths if (data_dir / p).exists()]


def _reencrypt_files(
    bind: Engine | Connection, vault: PiiVault, data_dir: Path, count: TableCount
) -> None:
    """The borrowers' dispute evidence, sealed in files under ``data_dir``: each file not
    yet at the current version is written anew beside itself and moved into its place (a
    rotation killed half-way leaves every file whole, at one version or the other)."""
    for path in _evidence_files(bind, data_dir):
        count.rows_seen += 1
        blob = path.read_bytes()
        if not blob or blob[0] == vault.key_version:
            continue
        text = vault.decrypt(blob, context=EVIDENCE_CONTENT)
        fresh = path.with_name(path.name + ".rotating")
        write_private(fresh, vault.encrypt(text, context=EVIDENCE_CONTENT))
        os.replace(fresh, path)
        count.rows_rewritten += 1
        count.values_reencrypted += 1


def reencrypt(
    bind: Engine | Connection,
    vault: PiiVault,
    *,
    actor: str,
    batch_size: int = DEFAULT_BATCH,
    data_dir: Path | None = None,
) -> RotationReport:
    """Bring every encrypted value to ``vault.key_version``; resumable (module docstring).
    With ``data_dir``, the sealed files under it too (the borrowers' dispute evidence)."""
    report = RotationReport(key_version=vault.key_version)
    for table, columns in ENCRYPTED.items():
        count = report.tables.setdefault(table.name, TableCount())
        after = 0
        while True:
            with _transaction(bind) as conn:
                rows, rewritten, values = _batch(conn, vault, table, columns, after, batch_size)
            if not rows:
                break
            report.batches += 1
            count.rows_seen += len(rows)
            count.rows_rewritten += rewritten
            count.values_reencrypted += values
            after = int(rows[-1].id)
    if data_dir is not None:
        _reencrypt_files(
            bind, vault, data_dir, report.tables.setdefault(EVIDENCE_FILES, TableCount())
        )
    with _transaction(bind) as conn:
        audit.record(
            conn,
            action="keys.rotate",
            actor=actor,
            subject_type="keyring",
            subject_id=vault.key_version,
            payload=report.as_payload(),
        )
    return report


def versions_in_use(bind: Engine | Connection, data_dir: Path | None = None) -> dict[int, int]:
    """How many stored values each key version encrypts (``forbear keys status``); with
    ``data_dir``, the sealed evidence files under it count too."""
    counts: dict[int, int] = {}
    for path in _evidence_files(bind, data_dir) if data_dir is not None else []:
        blob = path.read_bytes()
        if blob:
            counts[blob[0]] = counts.get(blob[0], 0) + 1
    with _transaction(bind) as conn:
        for table, columns in ENCRYPTED.items():
            query = select(*(table.c[c] for c in columns))
            for row in conn.execute(query):
                for blob in row:
                    if blob is not None:
                        counts[blob[0]] = counts.get(blob[0], 0) + 1
    return dict(sorted(counts.items()))
