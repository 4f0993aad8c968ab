"""The example import files in ``examples/`` are the generator's output for a fixed seed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
# docs/import.md names these: 16 borrowers (21 loans), seed 2026, as of 2026-11-30.
N_BORROWERS, SEED, AS_OF = 16, 2026, date(2026, 11, 30)


def test_example_files_are_the_generator_output(tmp_path: Path) -> None:
    book = generate_book(N_BORROWERS, AS_OF, SEED, load_products())
    loans, payments = write_files(book, tmp_path)
    assert (EXAMPLES / "loans.csv").read_bytes() == loans.read_bytes()
    assert (EXAMPLES / "payments.csv").read_bytes() == payments.read_bytes()
    assert 15 <= book.loans.height <= 25


def test_gbk_example_is_the_same_loans_in_gbk() -> None:
    gbk = (EXAMPLES / "loans_gbk.csv").read_bytes()
    utf8 = (EXAMPLES / "loans.csv").read_text(encoding="utf-8")
    assert gbk.decode("gbk") == utf8
    assert gbk != utf8.encode("utf-8")  # really another encoding (the names are Chinese)
