"""Trained model versions: the queries of ``forbear.services.models``.

A :class:`ModelVersionRepository` works on an ORM session joined to the use case's
transaction (``Session(bind=conn)``, see ``forbear.services.models``) and never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forbear.domain.errors import Conflict, NotFound
from forbear.domain.scoring.artefact import Artefact, ModelKind, ModelStatus
from forbear.store.models import ModelVersion


class ModelVersionRepository:
    """Trained model versions. Activation rules live in ``forbear.services.models``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, id_: Any) -> ModelVersion | None:
        return self.session.get(ModelVersion, id_)

    def require(self, id_: Any) -> ModelVersion:
        found = self.get(id_)
        if found is None:
            raise NotFound("model version", str(id_))
        return found

    def _one(self, stmt: Select[ModelVersion]) -> ModelVersion | None:
        return self.session.scalars(stmt).one_or_none()

    def _all(self, stmt: Select[ModelVersion]) -> list[ModelVersion]:
        return list(self.session.scalars(stmt).all())

    def add_model(self, obj: ModelVersion) -> ModelVersion:
        """Add and flush, so the id is known and a duplicate is a :class:`Conflict` now."""
        self.session.add(obj)
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"conflicts with a stored model version ({type(exc.orig).__name__})"
            ) from None
        return obj

    def add(self, artefact: Artefact) -> ModelVersion:
        """Store ``artefact`` as the next version of its kind, a candidate."""
        latest = self.session.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.kind == artefact.kind.value)
        )
        body = artefact.to_json()
        return self.add_model(
            ModelVersion(
                kind=artefact.kind.value,
                name=artefact.name,
                version=(latest or 0) + 1,
                status=ModelStatus.CANDIDATE.value,
                artefact=body,
                artefact_sha256=artefact.digest(),
                fingerprint=artefact.training.fingerprint,
                metrics=artefact.metrics.model_dump(mode="json"),
                created_at=artefact.created_at,
            )
        )

    def active(self, kind: ModelKind) -> ModelVersion | None:
        return self._one(
            select(ModelVersion).where(
                ModelVersion.kind == kind.value, ModelVersion.status == ModelStatus.ACTIVE.value
            )
        )

    def all_active(self) -> list[ModelVersion]:
        return self._all(
            select(ModelVersion)
            .where(ModelVersion.status == ModelStatus.ACTIVE.value)
            .order_by(ModelVersion.kind)
        )

    def history(self, kind: ModelKind) -> list[ModelVersion]:
        """Every version of ``kind``, newest first."""
        return self._all(
            select(ModelVersion)
            .where(ModelVersion.kind == kind.value)
            .order_by(ModelVersion.version.desc())
        )

    def latest_retired(self, kind: ModelKind) -> ModelVersion | None:
        """The retired version of ``kind`` that was active most recently."""
        return self._one(
            select(ModelVersion)
            .where(
                ModelVersion.kind == kind.value, ModelVersion.status == ModelStatus.RETIRED.value
            )
            .order_by(ModelVersion.retired_at.desc().nulls_last(), ModelVersion.version.desc())
            .limit(1)
        )

    def all(self) -> list[ModelVersion]:
        return self._all(select(ModelVersion).order_by(ModelVersion.kind, ModelVersion.version))
