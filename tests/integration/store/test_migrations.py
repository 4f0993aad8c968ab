from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import forbear.domain.ledger.schema as contracts
from forbear.domain.errors import StorageUnavailable
from forbear.store import migrate
from forbear.store.db import make_engine
from forbear.store.models import AccountState, Base


def test_after_upgrade_the_models_and_the_database_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_a_migrated_database_is_at_head(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.is_up_to_date(engine)
    migrate.require_up_to_date(engine)


def test_upgrade_downgrade_upgrade_from_a_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    try:
        assert migrate.current_revision(engine) is None
        assert not migrate.is_up_to_date(engine)
        with pytest.raises(StorageUnavailable, match=f"expected '{migrate.head_revision()}'"):
            migrate.require_up_to_date(engine)
        migrate.upgrade(url)
        assert migrate.is_up_to_date(engine)
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.is_up_to_date(engine)
    finally:
        engine.dispose()


def test_account_states_hold_every_column_of_the_states_contract() -> None:
    assert set(contracts.STATES) <= set(AccountState.__table__.columns.keys())
