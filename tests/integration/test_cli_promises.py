"""``forbear promise`` as an operator meets it: amounts in yuan, one clear line for every
refusal with nothing stored, no personal data printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import assert_one_clear_line, forbear
from factories import VALID_IDS, csv_text, make_loan_row

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DAY = "2026-04-20"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("promises")
    loans = data / "loans.csv"
    loans.write_text(
        csv_text(
            [
                make_loan_row(),
                make_loan_row(loan_ref="L0002"),
                make_loan_row(
                    loan_ref="L0003", customer_ref="C0002", national_id=VALID_IDS[2], name="李娜"
                ),
            ]
        ),
        encoding="utf-8",
    )
    for args in (
        ("import", "products", str(EXAMPLES / "products.yaml")),
        ("import", "loans", str(loans)),
    ):
        result = forbear(data, *args)
        assert result.returncode == 0, result.stderr
    return data


def listed(data_dir: Path, *args: str) -> str:
    result = forbear(data_dir, "promise", "list", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_promise_is_added_in_yuan_and_listed_without_personal_data(data_dir: Path) -> None:
    added = forbear(
        data_dir,
        "promise",
        "add",
        "L0001",
        "--amount",
        "1,234.56",
        "--date",
        "2026-04-25",
        "--as-of",
        DAY,
    )
    assert added.returncode == 0, added.stderr
    assert "L0001: ¥1,234.56 by 2026-04-25 (agent)" in added.stdout
    shown = listed(data_dir, "--loan", "L0001")
    assert "¥1,234.56" in shown and "open" in shown and "cli:" in shown
    for personal in ("张伟", "13812345678", VALID_IDS[1]):
        assert personal not in added.stdout + shown


BAD_INPUT = [
    (("--amount", "12.345", "--date", "2026-04-25"), ("--amount", "at most 2 decimals")),
    (("--amount", "-5", "--date", "2026-04-25"), ("--amount", "more than zero")),
    (("--amount", "100", "--date", "2026-04-19"), ("--date", "in the past")),
    (("--amount", "100", "--date", "2026-06-01"), ("--date", "more than 30 days")),
    (("--amount", "100", "--date", "25/04/2026"), ("--date", "not a date")),
    (("--amount", "100000", "--date", "2026-04-25"), ("--amount", "more than the loan can owe")),
    (("--amount", "100", "--date", "2026-04-25", "--source", "web"), ("--source", "web")),
]


def test_bad_input_is_one_clear_line_and_stores_nothing(data_dir: Path) -> None:
    for args, fragments in BAD_INPUT:
        result = forbear(data_dir, "promise", "add", "L0003", *args, "--as-of", DAY)
        assert_one_clear_line(result, *fragments)
    assert "L0003" not in listed(data_dir)


def test_an_unknown_loan_or_status_is_one_line(data_dir: Path) -> None:
    assert_one_clear_line(
        forbear(data_dir, "promise", "add", "NOPE", "--amount", "1", "--date", DAY, "--as-of", DAY),
        "loan not found: NOPE",
    )
    assert_one_clear_line(forbear(data_dir, "promise", "list", "--status", "maybe"), "status")
    assert_one_clear_line(forbear(data_dir, "promise", "cancel", "9999"), "promise not found")


def test_a_second_promise_needs_replace_and_cancel_works_once(data_dir: Path) -> None:
    def add(*extra: str) -> object:
        return forbear(
            data_dir,
            "promise",
            "add",
            "L0002",
            "--amount",
            "500",
            "--date",
            "2026-04-27",
            "--as-of",
            DAY,
            *extra,
        )

    first = add()
    assert first.returncode == 0, first.stderr
    assert_one_clear_line(add(), "already has open promise")
    second = add("--replace", "--source", "portal")
    assert second.returncode == 0, second.stderr
    shown = listed(data_dir, "--loan", "L0002")
    assert "cancelled" in shown and "replaces" in shown and "portal" in shown
    new_id = second.stdout.split("promise ")[1].split()[0]
    cancelled = forbear(data_dir, "promise", "cancel", new_id, "--as-of", DAY)
    assert cancelled.returncode == 0, cancelled.stderr
    assert_one_clear_line(
        forbear(data_dir, "promise", "cancel", new_id, "--as-of", DAY), "only an open promise"
    )


def test_update_decides_due_promises_and_rates_summarise_them(data_dir: Path) -> None:
    added = forbear(
        data_dir,
        "promise",
        "add",
        "L0003",
        "--amount",
        "300",
        "--date",
        "2026-05-02",
        "--as-of",
        "2026-05-01",
    )
    assert added.returncode == 0, added.stderr
    update = forbear(data_dir, "promise", "update", "--as-of", "2026-05-10")
    assert update.returncode == 0, update.stderr
    assert "broken" in update.stdout
    assert "broken" in listed(data_dir, "--loan", "L0003", "--status", "broken")
    again = forbear(data_dir, "promise", "update", "--as-of", "2026-05-10")
    assert "0 kept, 0 partly kept, 0 broken" in again.stdout
    rates = forbear(data_dir, "promise", "rates", "--from", "2026-05-01", "--to", "2026-05-31")
    assert rates.returncode == 0, rates.stderr
    assert "Promise-kept rate" in rates.stdout and "all" in rates.stdout
