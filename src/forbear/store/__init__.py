"""Persistence: SQLAlchemy 2 models, repositories, unit of work, bulk Arrow I/O, migrations.

Public entry points:

- :func:`forbear.store.db.make_engine` -- an engine for SQLite (WAL) or PostgreSQL (psycopg 3)
- :mod:`forbear.store.migrate` -- ``upgrade``, ``current_revision``, ``is_up_to_date``
- :class:`forbear.store.uow.SqlAlchemyUnitOfWork` -- repositories + one transaction
- :mod:`forbear.store.bulk` -- Polars frames in and out, never row by row through the ORM
- :class:`forbear.store.crypto.PiiVault` -- field encryption and blind indexes
"""
