"""Personal data on screen and on request: masked views, purpose-bound unmasking, and the
PIPL access-request export (PIPL arts. 44-45; DESIGN.md "Data and units").

- :func:`masked_view`: a borrower as a role sees it, every personal field masked per role.
- :func:`reveal`: one field in clear, only when the role may unmask that field for the
  stated purpose (``forbear.domain.access``); every success is an audit event
  ``pii.unmask`` naming actor, role, borrower, field and purpose, never the value.
- :func:`export_borrower`: everything Forbear holds about one borrower, decrypted, for a
  privacy request; audited as ``privacy.export`` (counts only).

Each function works inside the caller's transaction (``conn``) and never commits, so the
audit event and the read stand or fall together.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from forbear.domain.access import PiiField, Purpose, Role, can, mask_for, may_unmask
from forbear.domain.errors import NotFound, PermissionDenied
from forbear.services.keys import encrypted_columns
from forbear.store import audit
from forbear.store.crypto import Contexts
from forbear.store.crypto import PiiVault as PiiVault  # re-exported: front ends type the vault
from forbear.store.models import Base, Borrower, ContactKind, ContactPoint, Loan, OwnerType

BORROWERS: Table = Borrower.__table__  # type: ignore[assignment]
CONTACTS: Table = ContactPoint.__table__  # type: ignore[assignment]
LOANS: Table = Loan.__table__  # type: ignore[assignment]

# field -> (encrypted column, encryption context)
FIELDS: dict[PiiField, tuple[str, str]] = {
    PiiField.NAME: ("name_enc", Contexts.BORROWER_NAME),
    PiiField.NATIONAL_ID: ("national_id_enc", Contexts.BORROWER_NATIONAL_ID),
    PiiField.MOBILE: ("mobile_enc", Contexts.BORROWER_MOBILE),
    PiiField.EMAIL: ("email_enc", Contexts.BORROWER_EMAIL),
    PiiField.ADDRESS: ("address_enc", Contexts.BORROWER_ADDRESS),
}
CONTACT_FIELD = {
    ContactKind.PHONE.value: PiiField.MOBILE,
    ContactKind.EMAIL.value: PiiField.EMAIL,
    ContactKind.ADDRESS.value: PiiField.ADDRESS,
}


def _borrower(conn: Connection, borrower_id: int) -> Any:
    row = conn.execute(select(BORROWERS).where(BORROWERS.c.id == borrower_id)).first()
    if row is None:
        raise NotFound("borrower", str(borrower_id))
    return row


def _field(field: PiiField | str) -> PiiField:
    try:
        return PiiField(field)
    except ValueError:
        raise NotFound("personal field", str(field)) from None


def reveal(
    conn: Connection,
    vault: PiiVault,
    *,
    actor: str,
    role: Role | str,
    borrower_id: int,
    field: PiiField | str,
    purpose: Purpose | str,
) -> str:
    """``field`` of the borrower in clear, if ``role`` may unmask it for ``purpose``.

    Raises :class:`PermissionDenied` otherwise (nothing is read or recorded), and
    :class:`NotFound` for an unknown borrower or a field it does not have (never given,
    or erased by retention).
    """
    wanted = _field(field)
    if not may_unmask(role, wanted, str(purpose)):
        raise PermissionDenied(str(role), f"unmask {wanted.value}", str(purpose))
    row = _borrower(conn, borrower_id)
    column, context = FIELDS[wanted]
    blob = row._mapping[column]
    if blob is None:
        raise NotFound(f"borrower {wanted.value}", str(borrower_id))
    value = vault.decrypt(blob, context=context)
    audit.record(
        conn,
        action="pii.unmask",
        actor=actor,
        subject_type="borrower",
        subject_id=borrower_id,
        payload={"role": str(role), "field": wanted.value, "purpose": str(purpose)},
    )
    return value


def masked_view(
    conn: Connection, vault: PiiVault, role: Role | str, borrower_id: int
) -> dict[str, Any]:
    """The borrower and its contact points with every personal field masked for ``role``.

    Needs ``pii.view_masked``. Erased fields (retention) come back as ``None``.
    """
    if not can(role, "pii.view_masked"):
        raise PermissionDenied(str(role), "pii.view_masked")
    row = _borrower(conn, borrower_id)
    view: dict[str, Any] = {
        "id": row.id,
        "external_ref": row.external_ref,
        "province": row.province,
        "city": row.city,
        "timezone": row.timezone,
        "anonymised": row.anonymised_at is not None,
    }
    for pii, (column, context) in FIELDS.items():
        text = vault.decrypt_optional(row._mapping[column], context=context)
        view[pii.value] = None if text is None else mask_for(role, pii, text)
    contacts = conn.execute(
        select(CONTACTS).where(CONTACTS.c.borrower_id == borrower_id).order_by(CONTACTS.c.id)
    )
    view["contact_points"] = [
        {
            "id": c.id,
            "kind": c.kind,
            "owner_type": c.owner_type,
            "relation": c.relation,
            "provenance": c.provenance,
            "is_primary": c.is_primary,
            "value": mask_for(
                role,
                CONTACT_FIELD[c.kind],
                vault.decrypt(c.value_enc, context=Contexts.CONTACT_VALUE),
            ),
            "owner_name": None
            if c.owner_name_enc is None
            else mask_for(
                role,
                PiiField.NAME,
                vault.decrypt(c.owner_name_enc, context=Contexts.CONTACT_OWNER_NAME),
            ),
        }
        for c in contacts
    ]
    return view


# ---------------------------------------------------------------- PIPL access request


# Columns that are our secrets or keyed hashes, not the person's data: a blind index or
# keyed hash (``*_bidx``, ``phone_key``, ``client_key``) lets whoever holds it test guesses
# against our key; a token hash, a CSRF token or a code hash would help take over a live
# session or sign-in. Left out of the export by name.
SECRET_SUFFIXES = ("_bidx", "_key", "_hash", "_sha256", "csrf_token")
SECRET_COLUMNS = frozenset({("portal_outbox", "payload_enc")})  # the one-time sign-in code


def _secret(table: str, column: str) -> bool:
    return column.endswith(SECRET_SUFFIXES) or (table, column) in SECRET_COLUMNS


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return None  # an encrypted column without a known context: never exported raw
    return value


def _exported(vault: PiiVault, table: Table, row: Any) -> dict[str, Any]:
    """One row for the export: secrets left out, encrypted free text decrypted under the
    column's plain name (``description_enc`` -> ``description``)."""
    sealed = encrypted_columns(table.name)
    out: dict[str, Any] = {}
    for name, value in row._mapping.items():
        if _secret(table.name, name):
            continue
        if name in sealed:
            blob = None if value is None else bytes(value)
            plain = name.removesuffix("_enc")
            # holds.reason / promises.cancel_reason keep Forbear's code in clear next to
            # what a person typed (``reason_enc``): the typed text is ``reason_typed``
            key = f"{plain}_typed" if plain in table.c else plain
            out[key] = vault.decrypt_optional(blob, context=sealed[name])
        else:
            out[name] = _plain(value)
    return out


def _rows(
    conn: Connection, vault: PiiVault, table: Table, column: str, ids: list[int]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    key = [c for c in table.primary_key.columns] or list(table.columns)[:1]
    query = select(table).where(table.c[column].in_(ids)).order_by(*key)
    return [_exported(vault, table, row) for row in conn.execute(query)]


def export_borrower(
    conn: Connection,
    vault: PiiVault,
    *,
    actor: str,
    role: Role | str,
    borrower_ref: str,
    purpose: Purpose | str,
) -> dict[str, Any]:
    """Everything held about the borrower with external reference ``borrower_ref``.

    Needs ``privacy.export`` and the purpose ``privacy_request``. The borrower's own
    fields and contact points are decrypted; every other table that points at the
    borrower (``borrower_id``) or at one of its loans (``loan_id``) is included row by
    row, so areas added later (contacts, holds, plans, ...) are covered without edits
    here; free text encrypted at rest is decrypted, secrets are left out (module
    docstring). Legal case events, costs and documents come with the borrower's cases;
    the assistant's turns with the borrower's own conversations (not a third party's).
    The audit event ``privacy.export`` holds the row counts per table only.
    """
    if str(purpose) != Purpose.PRIVACY_REQUEST.value:
        raise PermissionDenied(str(role), "privacy.export", str(purpose))
    if not can(role, "privacy.export"):
        raise PermissionDenied(str(role), "privacy.export", str(purpose))
    row = conn.execute(select(BORROWERS).where(BORROWERS.c.external_ref == borrower_ref)).first()
    if row is None:
        raise NotFound("borrower", borrower_ref)
    borrower: dict[str, Any] = {
        "id": row.id,
        "external_ref": row.external_ref,
        "province": row.province,
        "city": row.city,
        "timezone": row.timezone,
        "created_at": _plain(row.created_at),
        "anonymised_at": _plain(row.anonymised_at),
    }
    for pii, (column, context) in FIELDS.items():
        borrower[pii.value] = vault.decrypt_optional(row._mapping[column], context=context)
    contact_points = [
        {
            "id": c.id,
            "kind": c.kind,
            "value": vault.decrypt(c.value_enc, context=Contexts.CONTACT_VALUE),
            "owner_type": c.owner_type,
            "owner_name": vault.decrypt_optional(
                c.owner_name_enc, context=Contexts.CONTACT_OWNER_NAME
            ),
            "relation": c.relation,
            "provenance": c.provenance,
            "is_primary": c.is_primary,
            "created_at": _plain(c.created_at),
        }
        for c in conn.execute(
            select(CONTACTS).where(CONTACTS.c.borrower_id == row.id).order_by(CONTACTS.c.id)
        )
    ]
    loan_ids = [
        int(i)
        for i in conn.execute(select(LOANS.c.id).where(LOANS.c.borrower_id == row.id)).scalars()
    ]
    tables: dict[str, list[dict[str, Any]]] = {
        "loans": _rows(conn, vault, LOANS, "borrower_id", [row.id])
    }
    for name, table in sorted(Base.metadata.tables.items()):
        if name in ("borrowers", "contact_points", "loans", "audit_events"):
            continue
        if "borrower_id" in table.c:
            tables[name] = _rows(conn, vault, table, "borrower_id", [row.id])
        elif "loan_id" in table.c:
            tables[name] = _rows(conn, vault, table, "loan_id", loan_ids)
    case_ids = [int(c["id"]) for c in tables.get("legal_cases", [])]
    for name, table in sorted(Base.metadata.tables.items()):
        if "case_id" in table.c and name not in tables:
            tables[name] = _rows(conn, vault, table, "case_id", case_ids)
    # the assistant's transcripts: the borrower's own conversations (never a third
    # party's, whose words and number are that person's data) with their turns
    conversations = [
        c
        for c in tables.get("assistant_conversations", [])
        if c.get("owner_type") in (None, OwnerType.DEBTOR.value)
    ]
    tables["assistant_conversations"] = conversations
    for name, table in sorted(Base.metadata.tables.items()):
        if "conversation_id" in table.c and name not in tables:
            ids = [int(c["id"]) for c in conversations]
            tables[name] = _rows(conn, vault, table, "conversation_id", ids)
    counts = {"contact_points": len(contact_points)} | {n: len(r) for n, r in tables.items()}
    audit.record(
        conn,
        action="privacy.export",
        actor=actor,
        subject_type="borrower",
        subject_id=row.id,
        payload={"role": str(role), "purpose": str(purpose), "rows": counts},
    )
    return {
        "borrower": borrower,
        "contact_points": contact_points,
        **{name: rows for name, rows in tables.items() if rows or name in _CORE_TABLES},
    }


_CORE_TABLES = frozenset({"loans", "instalments", "payments", "account_states", "account_scores"})
