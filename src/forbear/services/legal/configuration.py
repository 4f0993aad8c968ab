"""The legal configuration in force: eligibility rules and letter settings, stored as
audited versions."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from forbear.domain.legal.config import LegalConfig, default_config, load_config
from forbear.services.legal.common import _actor
from forbear.store import audit
from forbear.store.legal import (
    LegalConfigVersion,
)

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


def set_config(conn: Connection, text: str, *, source: str, actor: str, now: datetime) -> int:
    """Validate (no looser than the defaults) and store a new version; audited as
    ``legal.config``. Returns the version number."""
    _actor(actor)
    load_config(text, source=source)
    t = LegalConfigVersion
    version = int(conn.execute(select(func.coalesce(func.max(t.version), 0))).scalar_one()) + 1
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
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
