"""``forbear legal`` as the legal team meets it, on a small demo book: the queue, a case
from review to filing, refusals on one line that change nothing, documents on disk."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from clirun import assert_one_clear_line, forbear

AS_OF = "2026-11-27"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("legal-cli")
    demo = forbear(
        folder, "demo", "--borrowers", "300", "--as-of", AS_OF, "--no-models", "--no-run"
    )
    assert demo.returncode == 0, demo.stderr
    return folder


def queued_refs(output: str) -> list[str]:
    return re.findall(r"│ \d+\s+│ (L\d+)\s+│", output)


def test_a_case_from_the_queue_to_filing_with_documents(data_dir: Path, tmp_path: Path) -> None:
    queue = forbear(data_dir, "legal", "queue", "--as-of", AS_OF)
    assert queue.returncode == 0, queue.stderr
    assert "eligible" in queue.stdout and "dpd" in queue.stdout
    refs = queued_refs(queue.stdout)
    assert refs, queue.stdout
    again = forbear(data_dir, "legal", "queue", "--as-of", AS_OF)
    assert "0 added, 0 removed" in again.stdout  # idempotent for the date

    ref = refs[-1]
    no_role = forbear(data_dir, "legal", "open", ref)
    assert_one_clear_line(no_role, "may not legal.manage")
    agent = forbear(data_dir, "legal", "open", ref, "--role", "agent")
    assert_one_clear_line(agent, "'agent' may not legal.manage")
    opened = forbear(data_dir, "legal", "open", ref, "--role", "legal", "--date", AS_OF)
    assert opened.returncode == 0, opened.stderr
    case_id = re.search(r"case (\d+) opened", opened.stdout)
    assert case_id is not None
    case = case_id.group(1)

    no_proof = forbear(
        data_dir, "legal", "advance", case, "--to", "demand_letter", "--role", "legal",
        "--date", AS_OF, "--evidence", "EMS1234567",
    )  # fmt: skip
    assert_one_clear_line(no_proof, "not a tracking number")
    letter = forbear(
        data_dir, "legal", "advance", case, "--to", "demand_letter", "--role", "legal",
        "--date", AS_OF, "--evidence", "EMS1234567890",
    )  # fmt: skip
    assert letter.returncode == 0, letter.stderr
    back = forbear(data_dir, "legal", "advance", case, "--to", "review", "--role", "legal")
    assert_one_clear_line(back, "cannot move back to 'review'")
    no_court = forbear(
        data_dir, "legal", "advance", case, "--to", "filed", "--role", "legal", "--date", AS_OF
    )
    assert_one_clear_line(no_court, "court: filing needs the court")
    bad_cost = forbear(
        data_dir, "legal", "advance", case, "--to", "filed", "--role", "legal", "--date", AS_OF,
        "--court", "上海市浦东新区人民法院", "--case-number", "(2026)沪0115民初1号",
        "--cost", "court_fee=lots",
    )  # fmt: skip
    assert_one_clear_line(bad_cost, "court_fee")
    cases = forbear(data_dir, "legal", "cases")
    row = next(line for line in cases.stdout.splitlines() if ref in line)
    assert "demand_letter" in row and "filed" not in row  # nothing changed
    filed = forbear(
        data_dir, "legal", "advance", case, "--to", "filed", "--role", "legal", "--date", AS_OF,
        "--court", "上海市浦东新区人民法院", "--case-number", "(2026)沪0115民初1号",
        "--cost", "court_fee=250", "--cost", "lawyer_fee=3000",
    )  # fmt: skip
    assert filed.returncode == 0, filed.stderr
    assert "¥3,250.00" in filed.stdout

    out = tmp_path / "docs"
    docs = forbear(
        data_dir, "legal", "documents", case, "--out", str(out), "--role", "legal",
        "--as-of", AS_OF,
    )  # fmt: skip
    assert docs.returncode == 0, docs.stderr
    letter_pdf = out / f"case-{case}-demand-letter.pdf"
    assert stat.S_IMODE(letter_pdf.stat().st_mode) == 0o600
    text = pdfium.PdfDocument(letter_pdf)[0].get_textpage().get_text_range()
    assert "催告函" in text and "12378" in text
    assert (out / f"case-{case}-litigation-package.pdf").is_file()
    assert (out / f"case-{case}-payments.csv").read_bytes().startswith(b"\xef\xbb\xbf")

    watch = forbear(data_dir, "legal", "limitation", "--as-of", AS_OF, "--within", "5000")
    assert watch.returncode == 0 and ref in watch.stdout


def test_bad_input_gets_one_clear_line(data_dir: Path, tmp_path: Path) -> None:
    assert_one_clear_line(forbear(data_dir, "legal", "queue", "--as-of", "someday"), "--as-of")
    assert_one_clear_line(
        forbear(data_dir, "legal", "open", "NO-SUCH-LOAN", "--role", "legal"), "loan not found"
    )
    assert_one_clear_line(
        forbear(data_dir, "legal", "advance", "999", "--to", "filed", "--role", "legal"),
        "legal case not found: 999",
    )
    assert_one_clear_line(
        forbear(data_dir, "legal", "advance", "999", "--to", "appeal", "--role", "legal"),
        "unknown stage 'appeal'",
    )
    loose = tmp_path / "legal.yaml"
    shown = forbear(data_dir, "legal", "config", "show")
    assert shown.returncode == 0 and "min_dpd: 90" in shown.stdout
    loose.write_text(shown.stdout.replace("min_dpd: 90", "min_dpd: 30"), encoding="utf-8")
    assert_one_clear_line(
        forbear(data_dir, "legal", "config", "set", str(loose)), "eligibility.min_dpd"
    )
