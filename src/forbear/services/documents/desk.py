"""The case documents as the front ends ask for them, with the :class:`Actor` who asks:
``legal.manage`` and the case's scope checked first (a case out of scope answers like an
unknown case: nothing is unmasked or audited), then :func:`.gather.case_documents`."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection

from forbear.domain.access import Actor
from forbear.services.documents.gather import CaseDocuments, case_documents
from forbear.services.legal.desk import case_day
from forbear.store.crypto import PiiVault


def documents(
    conn: Connection, actor: Actor, case_id: int, *, now: datetime, today: date, vault: PiiVault
) -> CaseDocuments:
    """The case's demand letter and litigation package (unmasking audited)."""
    day = case_day(conn, actor, case_id, now=now, today=today)
    role = actor.role.value if actor.role is not None else "legal"
    return case_documents(conn, vault, case_id, role=role, actor=actor.name, as_of=day, now=now)
