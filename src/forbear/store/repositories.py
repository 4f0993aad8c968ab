"""Kept importable for callers of the old names only.

Use cases take the ``Connection`` of ``Forbear.transaction()``; the queries live in the
store module of their noun. ``chunked`` is in :mod:`forbear.store.chunks`,
``ModelVersionRepository`` in :mod:`forbear.store.model_versions`; the session-based unit
of work and the other repositories, which only the integration tests used, are in
``tests/uow.py``.
"""

from forbear.store.chunks import IN_CHUNK, chunked
from forbear.store.model_versions import ModelVersionRepository

__all__ = ["IN_CHUNK", "ModelVersionRepository", "chunked"]
