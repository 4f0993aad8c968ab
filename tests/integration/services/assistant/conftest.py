"""The assistant's tests: the three-loan book imported in the test's transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from factories import import_three_loans
from forbear.store.crypto import PiiVault
from forbear.store.models import Loan


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    """Loan ids by reference, plus ``C0001`` / ``C0002``: the borrowers' ids."""
    ids = import_three_loans(connection, vault, tmp_path)
    borrowers = dict(
        [(r[0], r[1]) for r in connection.execute(select(Loan.external_ref, Loan.borrower_id))]
    )
    return ids | {"C0001": int(borrowers["L0001"]), "C0002": int(borrowers["L0003"])}
