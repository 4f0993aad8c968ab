"""Migration 0016 on SQLite and PostgreSQL: free text typed before it existed is encrypted
in the upgrade (no clear copy left), read back through the vault, and decrypted again by
the downgrade; a key that does not open the stored names is refused before anything is
written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, MetaData, Table, inspect, select, text

from databases import fresh_pg
from forbear.domain.errors import ConfigurationError
from forbear.store import migrate
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.db import make_engine

TEST_KEY = bytes(range(32))
OTHER_KEY = bytes(range(50, 82))
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TYPED = {
    "description": "张三说催收员半夜打他的手机13812345678",
    "extension": "需调取录音",
    "resolution": "已致歉",
    "lesson": "住院期间不应联系",
    "hold": "借款人住院，家属电话13900001111",
    "promise": "工资被拖欠",
    "closed": "已全额还款，撤诉",
    "notes": "同意和解",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of its own, not migrated."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    with fresh_pg("forbear_m16") as engine:
        yield engine


def _table(conn: Connection, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=conn)


def seed_at_0015(engine: Engine, vault: PiiVault) -> None:
    """Rows as the release before 0016 wrote them: free text in clear."""
    migrate.upgrade(engine, "0015", vault=vault)
    with engine.begin() as conn:

        def add(name: str, **values: object) -> int:
            table = _table(conn, name)
            return int(
                conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()
            )

        product = add("products", code="P1", version=1, name_zh="产品", name_en="Product", terms={})
        borrower = add(
            "borrowers",
            external_ref="C1",
            name_enc=vault.encrypt("张三", context=Contexts.BORROWER_NAME),
        )
        loan = add(
            "loans",
            external_ref="L1",
            borrower_id=borrower,
            product_id=product,
            principal=100_000,
            term_months=1,
            annual_rate_bp=1_800,
            start_date=date(2026, 1, 1),
            first_due_date=date(2026, 2, 1),
        )
        hold = add(
            "holds",
            borrower_id=borrower,
            kind="cease",
            since=NOW,
            created_by="x",
            reason=TYPED["hold"],
        )
        add(
            "complaints",
            borrower_id=borrower,
            loan_id=loan,
            source="agent",
            category="attitude",
            status="resolved",
            description=TYPED["description"],
            extension_reason=TYPED["extension"],
            resolution=TYPED["resolution"],
            received_at=NOW,
            received_on=date(2026, 3, 2),
            due_on=date(2026, 3, 17),
            filed_by="x",
            hold_id=hold,
        )
        for reason in (TYPED["promise"], "superseded"):
            add(
                "promises",
                loan_id=loan,
                borrower_id=borrower,
                amount=1_000,
                promised_on=date(2026, 3, 9),
                source="agent",
                status="cancelled",
                taken_by="x",
                taken_at=NOW,
                taken_on=date(2026, 3, 2),
                resolved_on=date(2026, 3, 2),
                cancel_reason=reason,
            )
        entry = add(
            "legal_queue",
            loan_id=loan,
            queued_on=date(2026, 3, 2),
            status="case_opened",
            reasons="[]",
            created_by="x",
        )
        case = add(
            "legal_cases",
            loan_id=loan,
            queue_entry_id=entry,
            stage="closed",
            opened_on=date(2026, 3, 2),
            stage_on=date(2026, 3, 2),
            opened_by="x",
            closed_reason=TYPED["closed"],
        )
        add(
            "legal_case_events",
            case_id=case,
            stage="closed",
            stage_on=date(2026, 3, 2),
            created_by="x",
            notes=TYPED["notes"],
        )
        add(
            "case_library",
            loan_id=loan,
            outcome="success",
            category="legal",
            lesson=TYPED["lesson"],
            written_by="x",
            written_on=date(2026, 3, 2),
        )


def one(engine: Engine, table: str, column: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT {column} FROM {table} ORDER BY id")).scalars().first()


def everything_as_text(engine: Engine) -> str:
    parts = []
    with engine.connect() as conn:
        for name in inspect(engine).get_table_names():
            for row in conn.execute(select(_table(conn, name))):
                parts.extend(
                    bytes(v).hex() if isinstance(v, (bytes, memoryview)) else str(v) for v in row
                )
    return "\n".join(parts)


def test_the_upgrade_encrypts_existing_free_text_and_the_downgrade_restores_it(
    empty: Engine,
) -> None:
    vault = PiiVault(TEST_KEY)
    seed_at_0015(empty, vault)
    migrate.upgrade(empty, vault=vault)
    assert migrate.is_up_to_date(empty)
    stored = everything_as_text(empty)
    assert [t for t in TYPED.values() if t in stored] == []
    columns = {c["name"] for c in inspect(empty).get_columns("complaints")}
    assert "description" not in columns and "description_enc" in columns

    def sealed(table: str, column: str, context: str) -> str:
        blob = one(empty, table, column)
        assert blob is not None
        return vault.decrypt(bytes(blob), context=context)  # type: ignore[arg-type]

    assert (
        sealed("complaints", "description_enc", Contexts.COMPLAINT_DESCRIPTION)
        == TYPED["description"]
    )
    assert (
        sealed("complaints", "extension_reason_enc", Contexts.COMPLAINT_EXTENSION_REASON)
        == TYPED["extension"]
    )
    assert (
        sealed("complaints", "resolution_enc", Contexts.COMPLAINT_RESOLUTION) == TYPED["resolution"]
    )
    assert sealed("case_library", "lesson_enc", Contexts.CASE_LESSON) == TYPED["lesson"]
    assert sealed("holds", "reason_enc", Contexts.HOLD_REASON) == TYPED["hold"]
    assert (
        sealed("promises", "cancel_reason_enc", Contexts.PROMISE_CANCEL_REASON) == TYPED["promise"]
    )
    assert (
        sealed("legal_cases", "closed_reason_enc", Contexts.LEGAL_CLOSED_REASON) == TYPED["closed"]
    )
    assert sealed("legal_case_events", "notes_enc", Contexts.LEGAL_EVENT_NOTES) == TYPED["notes"]
    with empty.connect() as conn:
        codes = conn.execute(text("SELECT cancel_reason FROM promises ORDER BY id")).scalars().all()
    assert codes == ["cancelled", "superseded"]

    migrate.downgrade(empty, "0015", vault=vault)
    assert one(empty, "complaints", "description") == TYPED["description"]
    assert one(empty, "holds", "reason") == TYPED["hold"]
    assert one(empty, "legal_case_events", "notes") == TYPED["notes"]
    assert one(empty, "case_library", "lesson") == TYPED["lesson"]
    assert one(empty, "promises", "cancel_reason") == TYPED["promise"]


def test_a_key_that_does_not_open_the_stored_names_is_refused_and_nothing_changes(
    empty: Engine,
) -> None:
    seed_at_0015(empty, PiiVault(TEST_KEY))
    with pytest.raises(ConfigurationError, match="does not decrypt the stored borrower names"):
        migrate.upgrade(empty, vault=PiiVault(OTHER_KEY))
    assert migrate.current_revision(empty) == "0015"
    assert one(empty, "complaints", "description") == TYPED["description"]
