"""What a risk analyst needs from the scorecard (issue 17, item 2): reading CSV files
honestly, categorical codes, protected attributes, labels, tier bad rates, monitoring
refusals and the fixed reason columns. Small data: a few thousand rows at most."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import Artefact, BinKind, ModelKind
from forbear.domain.scoring.compiled import RankTable, reason_column, score_frame
from forbear.domain.scoring.config import ScorecardConfig
from forbear.domain.scoring.labels import parse_labels_csv, parse_labels_yaml
from forbear.domain.scoring.monitoring import monitor
from forbear.domain.scoring.protected import protected_attribute, protected_candidates
from forbear.domain.scoring.reasons import explain
from forbear.domain.scoring.scorecard import TrainingReport, train_scorecard
from forbear.services.imports.files import UnreadableFile
from forbear.services.models import binary_outcome, read_application_table, read_table

from .conftest import CREATED


def cards(n: int = 3000, seed: int = 7) -> pl.DataFrame:
    """A small card book like the public 30,000-row set: integer-coded SEX, EDUCATION and
    MARRIAGE, a limit, an age, a repayment status; the default depends on the status,
    the limit and (non-monotonically) on EDUCATION's codes."""
    rng = np.random.default_rng(seed)
    education = rng.integers(1, 5, n)
    status = rng.integers(-1, 4, n)
    limit = rng.integers(1, 50, n) * 10_000
    logit = -1.6 + 0.7 * status - limit / 400_000 + np.where(education == 3, 0.9, -0.3)
    bad = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pl.DataFrame(
        {
            "default": bad,
            "LIMIT_BAL": limit,
            "SEX": rng.integers(1, 3, n),
            "EDUCATION": education,
            "MARRIAGE": rng.integers(1, 4, n),
            "AGE": rng.integers(21, 70, n),
            "PAY_0": status,
        }
    )


def _train(frame: pl.DataFrame, **config: object) -> tuple[Artefact, TrainingReport]:
    return train_scorecard(
        frame,
        "default",
        kind=ModelKind.APPLICATION,
        name="cards",
        source="cards.csv",
        created_at=CREATED,
        config=ScorecardConfig(**config),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def card_book() -> pl.DataFrame:
    return cards()


@pytest.fixture(scope="module")
def card_model(card_book: pl.DataFrame) -> tuple[Artefact, TrainingReport]:
    return _train(card_book, categorical=("EDUCATION", "MARRIAGE"), exclude=("SEX",))


# ------------------------------------------------------------------------ reading CSV


def _write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_number_in_e_notation_past_the_first_ten_thousand_rows_is_a_number(
    tmp_path: Path,
) -> None:
    lines = [f"{i % 2},{20_000 + i}" for i in range(13_449)] + ["1,1.00E+05", "0,30000"]
    frame = read_application_table(_write(tmp_path / "t.csv", "default,LIMIT_BAL", lines))
    assert frame.schema["LIMIT_BAL"] == pl.Float64
    assert frame["LIMIT_BAL"][13_449] == 100_000.0
    assert frame.schema["default"] == pl.Int64


def test_a_bad_value_in_a_column_of_numbers_names_its_line_and_column(tmp_path: Path) -> None:
    lines = [f"{i % 2},{1000 + i}" for i in range(500)]
    lines[300] = "1,12O00"  # a letter O typed for a zero
    path = _write(tmp_path / "t.csv", "default,LIMIT_BAL", lines)
    with pytest.raises(UnreadableFile) as err:
        read_application_table(path)
    message = str(err.value)
    assert "t.csv line 302, column 'LIMIT_BAL'" in message and "not a number" in message
    assert "12O00" not in message  # the value itself may be personal data


@pytest.mark.parametrize(
    ("broken", "fields"),
    [("1,5000", 2), ("0,5000,30,7", 4), ("1", 1)],
    ids=["short", "long", "target-only"],
)
def test_a_line_with_the_wrong_number_of_fields_is_refused_with_its_line(
    tmp_path: Path, broken: str, fields: int
) -> None:
    # the target first: a short line would otherwise be a row with missing features
    lines = [f"{i % 2},{1000 + i},{20 + i % 40}" for i in range(200)]
    lines.insert(120, broken)
    path = _write(tmp_path / "t.csv", "default,LIMIT_BAL,AGE", lines)
    with pytest.raises(UnreadableFile) as err:
        read_application_table(path)
    assert f"t.csv line 122: {fields} fields where the header has 3" in str(err.value)


def test_an_empty_line_inside_the_table_is_refused_and_one_at_the_end_is_not(
    tmp_path: Path,
) -> None:
    lines = ["1,2", "0,3", "", "1,4"]
    with pytest.raises(UnreadableFile, match="line 4: empty line inside the table"):
        read_application_table(_write(tmp_path / "a.csv", "default,x", lines))
    assert read_application_table(_write(tmp_path / "b.csv", "default,x", ["1,2", "0,3", ""]))[
        "x"
    ].to_list() == [2, 3]


def test_gb18030_text_is_read_and_missing_markers_are_null(tmp_path: Path) -> None:
    path = tmp_path / "gb.csv"
    path.write_bytes("default,城市,收入\n1,北京,NA\n0,上海,8000\n0,?,9000\n".encode("gb18030"))
    frame, lines = read_table(path)
    assert frame["城市"].to_list() == ["北京", "上海", None]
    assert frame["收入"].to_list() == [None, 8000, 9000]
    assert lines == [2, 3, 4]


def test_declared_categorical_columns_stay_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "default,EDUCATION", ["1,1", "0,2", "0,3"])
    assert read_application_table(path).schema["EDUCATION"] == pl.Int64
    assert read_application_table(path, ["EDUCATION"])["EDUCATION"].to_list() == ["1", "2", "3"]
    with pytest.raises(ValidationError, match="no such column"):
        read_application_table(path, ["SEX"])


def test_a_target_that_is_not_binary_is_refused_naming_its_values() -> None:
    frame = pl.DataFrame({"y": [0, 1, 2, 3, 1]})
    with pytest.raises(ValidationError, match="found 4 values: '0', '1', '2', '3'"):
        binary_outcome(frame, "y", None, "t.csv")
    with pytest.raises(ValidationError, match="exactly two values"):
        binary_outcome(frame, "y", "1", "t.csv")
    assert binary_outcome(pl.DataFrame({"y": ["good", "bad"]}), "y", "bad", "t")["y"].to_list() == [
        0,
        1,
    ]


# ------------------------------------------------------------------ categorical codes


def test_integer_codes_declared_categorical_are_binned_as_categories(
    card_model: tuple[Artefact, TrainingReport],
) -> None:
    artefact, _ = card_model
    by_name = {f.name: f for f in artefact.features}
    education = by_name["EDUCATION"]
    assert education.dtype == "categorical"
    cats = {c for b in education.bins if b.kind is BinKind.CATEGORIES for c in b.categories}
    assert cats == {"1", "2", "3", "4"}
    # code 3 is the risky one: it is in a bin of its own, which an ordered binning of
    # 1 < 2 < 3 < 4 cannot make without splitting 1-2 from 4
    three = next(b for b in education.bins if "3" in b.categories)
    assert three.categories == ("3",)
    assert by_name["PAY_0"].dtype == "numerical"
    # scored from integers or text alike
    book = cards(50, seed=3)
    as_int = score_frame(book.lazy(), artefact).collect()["score"]
    as_text = score_frame(
        book.with_columns(pl.col("EDUCATION", "MARRIAGE").cast(pl.String)).lazy(), artefact
    ).collect()["score"]
    assert as_int.to_list() == as_text.to_list()


# ---------------------------------------------------------------- protected attributes


def test_protected_attributes_are_recognised_by_name() -> None:
    assert {n: a.code for n, a in protected_candidates(cards(10).columns).items()} == {
        "SEX": "sex",
        "MARRIAGE": "marital_status",
        "AGE": "age",
    }
    assert protected_attribute("personal_status_and_sex").code == "sex"  # type: ignore[union-attr]
    assert protected_attribute("客户民族").code == "ethnicity"  # type: ignore[union-attr]
    for harmless in ("LIMIT_BAL", "usage_ratio", "page_views", "message_count", "PAY_0"):
        assert protected_attribute(harmless) is None


def test_training_warns_of_protected_candidates_and_excludes_the_configured_ones(
    card_model: tuple[Artefact, TrainingReport],
) -> None:
    artefact, report = card_model
    assert report.excluded == ("SEX",)
    assert "SEX" not in report.iv and "SEX" not in {f.name for f in artefact.features}
    assert set(report.protected) == {"MARRIAGE", "AGE"}
    warned = " ".join(en for _, en in report.warnings)
    assert "MARRIAGE looks like a protected attribute (marital status" in warned
    assert "AGE" in warned and "SEX" not in warned
    assert all("受保护属性" in zh for zh, _ in report.warnings)


def test_an_excluded_column_cannot_be_asked_for_as_a_feature(card_book: pl.DataFrame) -> None:
    with pytest.raises(ValidationError, match="exclusion list"):
        train_scorecard(
            card_book,
            "default",
            kind=ModelKind.APPLICATION,
            name="x",
            source="x",
            created_at=CREATED,
            features=["SEX", "PAY_0"],
            config=ScorecardConfig(exclude=("SEX",)),
        )


# ---------------------------------------------------------------------------- labels


def test_labels_from_yaml_and_csv_are_used_in_reasons(card_book: pl.DataFrame) -> None:
    yaml_labels = parse_labels_yaml(
        "PAY_0: {zh: 最近一期还款状态, en: Repayment status last month}\n"
        "LIMIT_BAL: [授信额度, Credit limit]\n",
        "labels.yaml",
    )
    csv_labels = parse_labels_csv(
        "\ufefffeature,label_zh,label_en\nPAY_0,最近一期还款状态,Repayment status last month\n"
        'LIMIT_BAL,授信额度,"Credit limit"\n',
        "labels.csv",
    )
    assert yaml_labels == csv_labels
    artefact, _ = train_scorecard(
        card_book,
        "default",
        kind=ModelKind.APPLICATION,
        name="x",
        source="x",
        created_at=CREATED,
        labels=yaml_labels,
        config=ScorecardConfig(categorical=("EDUCATION", "MARRIAGE")),
    )
    worst = card_book.filter(pl.col("PAY_0") == 3).row(0, named=True)
    reasons = explain(worst, artefact)
    pay = next(r for r in reasons if r.feature == "PAY_0")
    assert (pay.label_zh, pay.label_en) == ("最近一期还款状态", "Repayment status last month")


@pytest.mark.parametrize(
    ("text", "parse", "where"),
    [
        ("PAY_0: {zh: 还款状态}\n", parse_labels_yaml, "labels: PAY_0"),
        ("PAY_0: [a, b, c]\n", parse_labels_yaml, "labels: PAY_0"),
        ("- a\n- b\n", parse_labels_yaml, "labels"),
        ("PAY_0: {zh: [\n", parse_labels_yaml, "labels line"),
        ("feature,label_zh,label_en\nPAY_0,还款状态\n", parse_labels_csv, "labels line 2"),
        ("feature,zh\nPAY_0,还款状态\n", parse_labels_csv, "labels line 1"),
        ("feature,label_zh,label_en\nPAY_0,,Status\n", parse_labels_csv, "labels line 2"),
    ],
)
def test_a_bad_labels_file_is_refused_naming_where(text: str, parse: object, where: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse(text, "labels")  # type: ignore[operator]
    assert err.value.field.startswith(where)


# ---------------------------------------------------------------------- tier figures


def test_tier_bad_rates_and_counts_are_measured_at_training(
    card_model: tuple[Artefact, TrainingReport],
) -> None:
    artefact, report = card_model
    table = report.tier_table
    assert table["tier"].to_list() == ["A", "B", "C", "D", "E"]
    assert table["rows"].sum() == artefact.metrics.rows_train
    assert table["rows_test"].sum() == artefact.metrics.rows_test
    assert table["bads"].sum() + table["bads_test"].sum() == artefact.training.bads
    rates = table["bad_rate"].to_list()
    assert rates[0] < rates[2] < rates[4]  # riskier tiers, more bads
    stored = (artefact.metrics.model_extra or {})["tier_table"]
    assert [r["rows"] for r in stored] == table["rows"].to_list()


def test_monitor_gives_bad_rates_by_tier_and_refuses_a_target_that_is_not_binary(
    card_model: tuple[Artefact, TrainingReport],
) -> None:
    artefact, _ = card_model
    book = cards(800, seed=11)
    scores = score_frame(book.lazy(), artefact, reasons=0).collect()["score"]
    result = monitor(artefact, book, scores=scores, outcomes=book["default"])
    assert result.tier_rates is not None
    assert result.tier_rates["rows"].sum() == 800
    assert result.tier_rates["training_event_rate"].null_count() == 0
    four = book["PAY_0"].alias("PAY_0")  # values -1 .. 3
    with pytest.raises(ValidationError, match="binary outcome") as err:
        monitor(artefact, book, scores=scores, outcomes=four)
    assert "found 5 values" in str(err.value)


# ------------------------------------------------------------------ reason columns


def test_fixed_reason_columns_agree_with_explain(
    card_model: tuple[Artefact, TrainingReport],
) -> None:
    artefact, _ = card_model
    book = cards(400, seed=5).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("AGE")).alias("AGE")
    )
    out = score_frame(book.lazy(), artefact, reasons=3, points=False, reason_list=False).collect()
    assert "reason_codes" not in out.columns
    assert isinstance(out.schema[reason_column(1)], pl.Enum)
    for row, scored in zip(book.iter_rows(named=True), out.iter_rows(named=True), strict=True):
        expected = [r.feature for r in explain(row, artefact, 3)]
        got = [scored[reason_column(j)] for j in (1, 2, 3)]
        assert [g for g in got if g is not None] == expected
    table = RankTable.of(artefact)
    assert len(table.points) == sum(len(f.bins) + 1 for f in artefact.features)
    assert table.dtype == pl.UInt8
