"""``forbear explain contact`` / ``forbear contact make`` with ``--purpose`` (issue 17,
item 3): a location contact to the emergency contact is explained before and after the
debtor becomes unreachable, a collect contact to it stays blocked, and a bad purpose is
refused with nothing recorded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clirun import forbear
from factories import csv_text, make_loan_row

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("locate")
    loans = data / "loans.csv"
    loans.write_text(csv_text([make_loan_row()]), encoding="utf-8")
    for args in (
        ("import", "products", str(EXAMPLES / "products.yaml")),
        ("import", "loans", str(loans)),
    ):
        result = forbear(data, *args)
        assert result.returncode == 0, result.stderr
    return data


def _point(data_dir: Path) -> str:
    """One unanswered dial on the debtor's own number (04-19 09:00), and the emergency
    contact's point id: the import stores the debtor's mobile first, then the emergency
    contact (a locate to any other point would be refused as a purpose error)."""
    made = forbear(
        data_dir, "contact", "make", "L0001", "--channel", "call", "--at", "2026-04-19 09:00"
    )
    assert made.returncode == 0, made.stdout + made.stderr
    attempt = re.search(r"attempt (\d+) recorded", made.stdout)
    assert attempt is not None
    assert forbear(data_dir, "contact", "outcome", attempt.group(1), "no_answer").returncode == 0
    return "2"  # imported second, after the debtor's mobile


def test_location_contacts_from_the_command_line(data_dir: Path) -> None:
    point = _point(data_dir)
    base = ("--channel", "call", "--contact-point", point)
    early = forbear(
        data_dir,
        "explain",
        "contact",
        "L0001",
        *base,
        "--at",
        "2026-04-20 10:00",
        "--purpose",
        "locate",
    )
    assert early.returncode == 0, early.stderr
    assert "CN.3P.LOST_CONTACT_GATE" in early.stdout and "债务人尚未失联" in early.stdout
    for hour in ("10", "11"):  # with the 09:00 dial: three failed dials on 04-19
        made = forbear(
            data_dir,
            "contact",
            "make",
            "L0001",
            "--channel",
            "call",
            "--at",
            f"2026-04-19 {hour}:00",
        )
        attempt = re.search(r"attempt (\d+) recorded", made.stdout)
        assert attempt is not None, made.stdout
        assert (
            forbear(data_dir, "contact", "outcome", attempt.group(1), "no_answer").returncode == 0
        )
    collect = forbear(
        data_dir, "contact", "make", "L0001", *base, "--at", "2026-04-20 10:00", "--lang", "en"
    )
    assert collect.returncode != 0
    assert "CN.3P.NO_UNRELATED" in collect.stdout and "location contact" in collect.stdout
    located = forbear(
        data_dir,
        "contact",
        "make",
        "L0001",
        *base,
        "--at",
        "2026-04-20 10:05",
        "--purpose",
        "locate",
    )
    assert located.returncode == 0, located.stdout + located.stderr
    assert "✓ 允许联系" in located.stdout and "locate" in located.stdout
    assert "寻址话术（不披露债务）" in located.stdout and "CN.3P.NO_DISCLOSE" in located.stdout


def test_a_bad_purpose_is_refused_before_anything_is_recorded(data_dir: Path) -> None:
    bad = forbear(
        data_dir, "contact", "make", "L0001", "--channel", "call", "--purpose", "threaten"
    )
    assert bad.returncode != 0
    assert "purpose" in bad.stdout + bad.stderr and "threaten" in bad.stdout + bad.stderr
    assert "recorded" not in bad.stdout
