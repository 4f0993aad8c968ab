"""``forbear contact`` as an operator meets it: the gate asked and the attempt recorded,
an outcome recorded once, a hold put and released (the moment from the CLI's clock)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clirun import forbear
from factories import csv_text, make_loan_row

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("contacts")
    loans = data / "loans.csv"
    loans.write_text(csv_text([make_loan_row()]), encoding="utf-8")
    for args in (
        ("import", "products", str(EXAMPLES / "products.yaml")),
        ("import", "loans", str(loans)),
    ):
        result = forbear(data, *args)
        assert result.returncode == 0, result.stderr
    return data


def test_a_contact_an_outcome_and_a_hold_from_the_command_line(data_dir: Path) -> None:
    made = forbear(
        data_dir, "contact", "make", "L0001", "--channel", "call", "--at", "2026-04-20 10:00"
    )
    assert made.returncode == 0, made.stdout + made.stderr
    found = re.search(r"attempt (\d+) recorded", made.stdout)
    assert found is not None, made.stdout
    attempt = found.group(1)
    first = forbear(data_dir, "contact", "outcome", attempt, "connected")
    assert first.returncode == 0, first.stderr
    again = forbear(data_dir, "contact", "outcome", attempt, "connected")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    held = forbear(data_dir, "contact", "hold", "L0001", "--kind", "dispute")
    assert held.returncode == 0, held.stderr
    hold = re.search(r"hold (\d+) \(dispute\)", held.stdout)
    assert hold is not None, held.stdout
    released = forbear(data_dir, "contact", "release", hold.group(1))
    assert released.returncode == 0, released.stderr
    twice = forbear(data_dir, "contact", "release", hold.group(1))
    assert twice.returncode != 0 and "already released" in twice.stdout + twice.stderr
