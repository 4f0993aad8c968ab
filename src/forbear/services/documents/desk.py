"""The case documents as the front ends ask for them, with the :class:`Actor` who asks:
``legal.manage`` and the case's scope checked first (a case out of scope answers like an
unknown case: nothing is unmasked or audited), then :func:`.gather.case_documents`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from forbear.domain.access import Actor
from forbear.services.documents.gather import CaseDocuments, case_documents
from forbear.services.documents.names import chinese_name, suffix_of
from forbear.services.legal.cases import get_case
from forbear.services.legal.desk import case_day
from forbear.store.crypto import PiiVault


def documents(
    conn: Connection,
    actor: Actor,
    case_id: int,
    *,
    now: datetime,
    today: date,
    vault: PiiVault,
    only: str | None = None,
) -> CaseDocuments:
    """The case's demand letter and litigation package (unmasking audited); only the file
    with suffix ``only`` when given."""
    day = case_day(conn, actor, case_id, now=now, today=today)
    role = actor.role.value if actor.role is not None else "legal"
    return case_documents(
        conn, vault, case_id, role=role, actor=actor.name, as_of=day, now=now, only=only
    )


@dataclass(frozen=True)
class Download:
    name: str  # the ASCII name it was asked for (case-<id>-<suffix>)
    title: str  # the Chinese file name it is saved under
    content: bytes


def download(
    conn: Connection,
    actor: Actor,
    case_id: int,
    name: str,
    *,
    now: datetime,
    today: date,
    vault: PiiVault,
) -> Download:
    """One document of the case, made alone (the others are not rendered), with the
    Chinese name it is saved under. An unknown name is :class:`NotFound` after the scope
    check, before anything is read or unmasked."""
    case_day(conn, actor, case_id, now=now, today=today)
    suffix = suffix_of(case_id, name)
    made = documents(conn, actor, case_id, now=now, today=today, vault=vault, only=suffix)
    loan_ref = get_case(conn, case_id).loan_ref
    return Download(name, chinese_name(case_id, loan_ref, suffix), made.files[name])
