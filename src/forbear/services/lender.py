"""The lender's compliance configuration: validated, versioned, audited.

REGULATIONS.md: a lender may tighten a pack's parameters, never loosen them. A new
configuration is validated against its pack before it is stored (nothing is stored when
it is refused), stored as a new version, and recorded in the audit trail as
``config.change``; the newest version is in force for the gate, online and in the batch.
Without a stored version, ``<data_dir>/lender.yaml`` is read if present (a development
convenience, validated the same way), else the default configuration: CN with contact
allowed 08:00–21:00.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, func, insert, select

from forbear.domain.compliance.config import (
    DEFAULT_LENDER,
    CompiledRules,
    compile_config,
    load_pack,
    parse_lender,
)
from forbear.store import audit
from forbear.store.lender_config import LenderConfigVersion

LENDER_FILE = "lender.yaml"


@dataclass(frozen=True)
class LenderConfigInfo:
    version: int
    pack: str
    sha256: str
    source: str
    created_by: str
    created_at: datetime


def compile_text(text: str, source: str) -> CompiledRules:
    """Validate a lender configuration against its pack (ConfigurationError when refused)."""
    lender = parse_lender(text, source=source)
    return compile_config(load_pack(lender.pack), lender, source=source)


def set_config(
    conn: Connection, text: str, *, source: str, actor: str, now: datetime
) -> LenderConfigInfo:
    """Validate and store a new version, with a ``config.change`` audit event, at the
    caller's moment ``now`` (the CLI passes ``app.now()``)."""
    rules = compile_text(text, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    previous = current(conn)
    version = (previous.version if previous else 0) + 1
    conn.execute(
        insert(LenderConfigVersion).values(
            version=version,
            pack=rules.pack,
            yaml=text,
            sha256=digest,
            source=Path(source).name,
            created_by=actor,
            created_at=now,
        )
    )
    audit.record(
        conn,
        action="config.change",
        actor=actor,
        subject_type="lender_config",
        subject_id=version,
        payload={
            "pack": rules.pack,
            "sha256": digest,
            "previous_version": previous.version if previous else None,
            "previous_sha256": previous.sha256 if previous else None,
        },
        at=now,
    )
    return LenderConfigInfo(version, rules.pack, digest, Path(source).name, actor, now)


def current(conn: Connection) -> LenderConfigInfo | None:
    """The version in force, or None when none was ever stored."""
    t = LenderConfigVersion
    newest = select(func.max(t.version)).scalar_subquery()
    row = conn.execute(
        select(t.version, t.pack, t.sha256, t.source, t.created_by, t.created_at).where(
            t.version == newest
        )
    ).one_or_none()
    if row is None:
        return None
    return LenderConfigInfo(row[0], row[1], row[2], row[3], row[4], row[5])


def current_text(conn: Connection) -> str | None:
    t = LenderConfigVersion
    newest = select(func.max(t.version)).scalar_subquery()
    return conn.execute(select(t.yaml).where(t.version == newest)).scalar_one_or_none()


def lender_text(conn: Connection | None, data_dir: Path | None) -> tuple[str, str] | None:
    """The lender configuration in force as ``(text, source)``: the newest stored version
    (when a connection is given), else ``<data_dir>/lender.yaml`` if present (when a
    ``data_dir`` is given), else None (the default configuration). The one home of this
    lookup order: the gate online and in the batch, the Spark export and the complaints'
    business zone all read it."""
    if conn is not None:
        text = current_text(conn)
        if text is not None:
            return text, "lender configuration (stored)"
    if data_dir is not None:
        path = data_dir / LENDER_FILE
        if path.is_file():
            return path.read_text(encoding="utf-8"), str(path)
    return None


def rules_in_force(conn: Connection | None, data_dir: Path | None) -> CompiledRules:
    """The compiled rules the gate uses now (:func:`lender_text`'s order).

    Every contact asks for them, so the compiled result is kept per configuration text
    (parsing and validating the pack took about 100 ms a request); a new stored version
    is new text, so it takes effect at once."""
    found = lender_text(conn, data_dir)
    if found is not None:
        return _compiled(*found)
    return _default_rules()


@functools.lru_cache(maxsize=16)
def _compiled(text: str, source: str) -> CompiledRules:
    # CompiledRules is frozen; a refused text raises and is not cached
    return compile_text(text, source)


@functools.lru_cache(maxsize=1)
def _default_rules() -> CompiledRules:
    return compile_config(load_pack(DEFAULT_LENDER.pack), DEFAULT_LENDER)
