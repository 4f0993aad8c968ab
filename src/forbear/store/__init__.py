"""Persistence: SQLAlchemy 2 models, queries by business noun, bulk Arrow I/O, migrations.

A use case takes the ``Connection`` of ``Forbear.transaction()`` (the unit of work: one
transaction, committed by the front end that opened it) and calls the store module of its
noun (``forbear.store.plans``, ``forbear.store.model_versions``, ...).

Public entry points:

- :func:`forbear.store.db.make_engine` -- an engine for SQLite (WAL) or PostgreSQL (psycopg 3)
- :mod:`forbear.store.migrate` -- ``upgrade``, ``current_revision``, ``is_up_to_date``
- :mod:`forbear.store.bulk` -- Polars frames in and out, never row by row through the ORM
- :class:`forbear.store.crypto.PiiVault` -- field encryption and blind indexes
"""

# Models of other areas live in their own modules (one per business noun) on the same
# Base. Importing them with the package puts every table in ``Base.metadata`` for
# Alembic and the tests, whichever store module is imported first (importing them from
# models.py instead made ``import forbear.store.bulk`` circular).
from forbear.store import models  # noqa: F401, I001
from forbear.store import area_models  # noqa: F401
