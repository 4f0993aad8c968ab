"""The print house's letter batch: letters spooled at send, rendered at flush into one PDF
each (Chinese text extractable, so the CJK font is embedded) and one manifest row each,
in the lender's day; never twice for one message id, across flushes, restarts and two
workers flushing at once; an incomplete address refused by name."""

from __future__ import annotations

import csv
import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from forbear.channels.base import OutgoingMessage, PermanentFailure
from forbear.channels.letters import LetterBatchAdapter
from forbear.domain.errors import ConfigurationError
from integration.channels.standins import clean_of

# 2026-12-06 17:30 UTC is 2026-12-07 01:30 in Shanghai: the letters belong to the 7th.
MOMENT = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)
ADDRESS = "王小明\n上海市浦东新区世纪大道100号\n环球金融中心20楼\n200120"
BODY = "王小明先生：\n\n您的借款已逾期30天，应还金额12,345.67元。\n\n请于15日内联系我们。"


def letter(message_id: str = "msg-0001", **extra: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "channel": "letter",
        "to": ADDRESS,
        "body": BODY,
        "subject": "逾期还款通知",
        "loan_ref": "HT-2026-0042",
    }
    fields.update(extra)
    return OutgoingMessage(message_id=message_id, **fields)  # type: ignore[arg-type]


def batch(data_dir: Path, moment: datetime = MOMENT, **options: object) -> LetterBatchAdapter:
    adapter = LetterBatchAdapter.from_options(
        "print-house",
        {"sender": ["某某消费金融有限公司", "上海市黄浦区中山东一路1号"], **options},
        data_dir=data_dir,
        secrets={},
    )
    adapter._clock = lambda: moment
    return adapter


def manifest(data_dir: Path, day: str = "2026-12-07") -> list[dict[str, str]]:
    with open(data_dir / "letters" / day / "manifest.csv", encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_flush_writes_one_pdf_per_letter_and_a_manifest_of_the_lenders_day(
    tmp_path: Path,
) -> None:
    letters = batch(tmp_path)
    first = letters.send(letter())
    letters.send(letter("msg-0002", lang="en", subject=None, body="Dear Mr Wang,\n\nPlease pay."))
    assert first.provider_ref == "letter:msg-0001"
    assert not (tmp_path / "letters" / "2026-12-07").exists()  # spooled until the flush
    letters.flush()
    rows = manifest(tmp_path)
    assert [row["message_id"] for row in rows] == ["msg-0001", "msg-0002"]
    row = rows[0]
    assert row["recipient_name"] == "王小明"
    assert [row[f"address_line_{i}"] for i in (1, 2, 3, 4)] == [
        "上海市浦东新区世纪大道100号",
        "环球金融中心20楼",
        "200120",
        "",
    ]
    pdf = (tmp_path / "letters" / "2026-12-07" / row["file"]).read_bytes()
    assert row["sha256"] == hashlib.sha256(pdf).hexdigest()
    document = pdfium.PdfDocument(pdf)
    assert int(row["pages"]) == len(document) >= 1
    text = document[0].get_textpage().get_text_range()
    for wanted in ("王小明", "逾期还款通知", "2026年12月7日", "12,345.67", "HT-2026-0042"):
        assert wanted in text
    english = pdfium.PdfDocument(
        (tmp_path / "letters" / "2026-12-07" / "msg-0002.pdf").read_bytes()
    )
    english_text = english[0].get_textpage().get_text_range()
    assert "Repayment notice" in english_text and "7 December 2026" in english_text
    assert list(letters.spool.glob("*.json")) == []
    assert (tmp_path / "letters" / "2026-12-07" / "manifest.csv").stat().st_mode & 0o077 == 0


def test_a_message_id_is_never_written_twice(tmp_path: Path) -> None:
    letters = batch(tmp_path)
    letters.send(letter())
    letters.send(letter())  # the same message before the flush
    letters.flush()
    letters.send(letter())  # and after it (a retry after a crash)
    letters.flush()
    restarted = batch(tmp_path)  # a new worker, the same directory
    restarted.send(letter())
    restarted.flush()
    assert [row["message_id"] for row in manifest(tmp_path)] == ["msg-0001"]
    assert sorted(p.name for p in (tmp_path / "letters" / "2026-12-07").iterdir()) == [
        "manifest.csv",
        "msg-0001.pdf",
    ]


def test_a_letter_spooled_before_a_crash_is_flushed_by_the_next_worker(tmp_path: Path) -> None:
    batch(tmp_path).send(letter())  # the worker dies before it flushes
    batch(tmp_path).flush()
    assert [row["message_id"] for row in manifest(tmp_path)] == ["msg-0001"]


def test_a_spool_left_after_its_manifest_row_only_goes_away(tmp_path: Path) -> None:
    letters = batch(tmp_path)
    letters.send(letter())
    letters.flush()
    # A crash after the row, before the spool file's removal: put it back.
    stale = letters.spool / "msg-0001.json"
    stale.write_text('{"message_id": "msg-0001", "to": "x\\ny", "body": "b", "lang": "zh"}')
    later = batch(tmp_path, datetime(2026, 12, 8, 2, 0, tzinfo=UTC))  # the next day
    later.flush()
    assert not stale.exists()
    assert not (tmp_path / "letters" / "2026-12-08").exists()
    assert len(manifest(tmp_path)) == 1


def test_two_workers_flushing_at_once_write_each_letter_once(tmp_path: Path) -> None:
    workers = [batch(tmp_path), batch(tmp_path)]
    for n in range(6):
        workers[n % 2].send(letter(f"msg-{n:04d}"))
    threads = [threading.Thread(target=w.flush) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [row["message_id"] for row in manifest(tmp_path)]
    assert sorted(ids) == [f"msg-{n:04d}" for n in range(6)]


def test_an_odd_message_id_becomes_a_safe_file_name(tmp_path: Path) -> None:
    letters = batch(tmp_path)
    letters.send(letter("../../etc/passwd"))
    letters.flush()
    (row,) = manifest(tmp_path)
    assert row["message_id"] == "../../etc/passwd"
    assert row["file"] == hashlib.sha256(b"../../etc/passwd").hexdigest() + ".pdf"
    assert (tmp_path / "letters" / "2026-12-07" / row["file"]).exists()


def test_more_than_four_address_lines_are_joined_into_the_fourth(tmp_path: Path) -> None:
    letters = batch(tmp_path)
    letters.send(letter(to="王小明\n一\n二\n三\n四\n五"))
    letters.flush()
    (row,) = manifest(tmp_path)
    assert [row[f"address_line_{i}"] for i in (1, 2, 3, 4)] == ["一", "二", "三", "四 五"]


@pytest.mark.parametrize("to", ["王小明", "", "\n\n"])
def test_an_incomplete_address_is_refused_and_nothing_spooled(tmp_path: Path, to: str) -> None:
    letters = batch(tmp_path)
    incomplete = letter(to=to)
    with pytest.raises(PermanentFailure) as refused:
        letters.send(incomplete)
    assert refused.value.address_invalid and refused.value.code == "address_incomplete"
    assert list(letters.spool.glob("*")) == []
    clean_of(refused.value, incomplete)


def test_options(tmp_path: Path) -> None:
    absolute = tmp_path / "print"
    adapter = LetterBatchAdapter.from_options(
        "print-house", {"directory": str(absolute)}, data_dir=tmp_path / "data", secrets={}
    )
    assert adapter.directory == absolute and adapter.spool.is_dir()
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        LetterBatchAdapter.from_options(
            "print-house", {"timezone": "Mars/Base"}, data_dir=tmp_path, secrets={}
        )
    with pytest.raises(ConfigurationError, match="'sender' must be lines"):
        LetterBatchAdapter.from_options(
            "print-house", {"sender": "one line"}, data_dir=tmp_path, secrets={}
        )
