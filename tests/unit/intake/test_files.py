"""Reading import files: encodings, formats and clear refusals."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from factories import csv_text, make_loan_row
from forbear.services.imports.files import UnreadableFile, detect_encoding, read_table


def test_utf8_with_bom_and_gbk_files_read_the_same(tmp_path: Path) -> None:
    text = csv_text([make_loan_row(), make_loan_row(loan_ref="L2")])
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gbk"))
    a, enc_a = read_table(utf8)
    b, enc_b = read_table(gbk)
    assert (enc_a, enc_b) == ("utf-8-sig", "gb18030")
    assert a.equals(b)
    assert a["name"].to_list() == ["张伟", "张伟"]
    assert a["_line"].to_list() == [2, 3]


def test_a_file_in_neither_encoding_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"loan_ref,name\nL1,\xff\xfe\xfd\n")
    with pytest.raises(UnreadableFile, match="neither UTF-8 nor GBK"):
        read_table(path)


def test_parquet_values_arrive_as_text(tmp_path: Path) -> None:
    path = tmp_path / "loans.parquet"
    pl.DataFrame({"loan_ref": ["L1"], "term_months": [12]}).write_parquet(path)
    frame, encoding = read_table(path)
    assert encoding == "parquet"
    assert frame["term_months"].to_list() == ["12"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("book.xlsx", b"PK", "unsupported format .xlsx"),
        ("empty.csv", b"", "the file is empty"),
        ("broken.parquet", b"not parquet", "not a readable Parquet file"),
    ],
)
def test_unreadable_files_get_one_clear_message(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=message):
        read_table(path)


def test_detect_encoding_prefers_utf8() -> None:
    assert detect_encoding("借据号".encode()) == "utf-8"
    assert detect_encoding("借据号".encode("gbk")) == "gb18030"


def test_a_ragged_csv_is_refused_without_quoting_its_content(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("loan_ref,name\nL1,张伟,13812345678\n", encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_table(path)
    assert "more fields than the header" in str(caught.value)
    assert "13812345678" not in str(caught.value)
