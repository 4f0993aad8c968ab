"""Files that hold personal data are created readable by their owner only (issue 11,
finding 4): the import's rejects file (names and ID numbers in clear), the privacy export
and the litigation package go through :mod:`forbear.store.private_files`, which creates
them 0600 from the first byte, also over an existing, wider file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Connection

from clocks import SETUP_AT, SETUP_DAY
from factories import csv_text, make_loan_row, make_product
from forbear.services.imports import import_loans, import_products
from forbear.store.crypto import PiiVault
from forbear.store.private_files import private_file, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> object:
    """The usual umask (group and others may read new files), whatever the runner has."""
    old = os.umask(0o022)
    yield None
    os.umask(old)


def test_the_rejects_file_is_private_even_over_an_older_readable_one(
    connection: Connection, vault: PiiVault, tmp_path: Path, open_umask: object
) -> None:
    import_products(connection, [make_product()], "test", effective_from=SETUP_DAY)
    path = tmp_path / "loans.csv"
    bad = make_loan_row(loan_ref="L0002", customer_ref="C9", name="王小明", mobile="12")
    path.write_text(csv_text([make_loan_row(), bad]), encoding="utf-8")
    older = tmp_path / "loans.csv.rejects.csv"
    older.write_text("an older rejects file\n", encoding="utf-8")
    older.chmod(0o644)
    report = import_loans(connection, vault, path, skip_bad=True, now=SETUP_AT)
    assert report.rejects_file == older
    assert mode(older) == 0o600
    text = older.read_text(encoding="utf-8")
    assert "王小明" in text and "older" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loans.csv", "loans.csv.rejects.csv"]


def test_a_private_file_is_0600_from_its_first_byte_and_a_failed_write_keeps_the_old_one(
    tmp_path: Path, open_umask: object
) -> None:
    target = tmp_path / "export.json"
    with private_file(target) as handle:
        handle.write(b"{")
        (temporary,) = [p for p in tmp_path.iterdir() if p != target]
        assert mode(temporary) == 0o600 and not target.exists()
        handle.write(b"}")
    assert mode(target) == 0o600 and target.read_bytes() == b"{}"
    target.chmod(0o644)
    with pytest.raises(RuntimeError), private_file(target) as handle:
        handle.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"{}" and list(tmp_path.iterdir()) == [target]
    write_private(target, "张三".encode())
    assert mode(target) == 0o600 and target.read_text(encoding="utf-8") == "张三"
