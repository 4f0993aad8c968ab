"""The demo's risk models: trained once, and the day's book scored once. With the daily
run, the run scores the book (after the collection history) and the demo's risk table is
read from those stored scores; without it, the demo scores the book itself."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from clocks import SETUP_AT
from forbear.bootstrap import bootstrap
from forbear.services import models
from forbear.settings import Settings
from forbear.sim.demo import DemoResult, build_demo
from forbear.sim.products import load_products
from forbear.store import bulk

AS_OF = date(2026, 11, 29)


def _demo(data_dir: Path, *, with_run: bool) -> tuple[DemoResult, pl.DataFrame, set[int]]:
    app = bootstrap(Settings(data_dir=data_dir))
    result = build_demo(
        app.transaction,
        app.vault,
        directory=data_dir / "demo",
        products=load_products(),
        borrowers=1_500,
        seed=20261129,
        as_of=AS_OF,
        zone="Asia/Shanghai",
        with_models=True,
        with_run=with_run,
        data_dir=data_dir,
        now=SETUP_AT,
    )
    with app.transaction() as conn:
        scores = bulk.read_scores(conn, AS_OF)
        active = {m.id for m in models.list_models(conn) if m.status == "active"}
    return result, scores, active


def _accounts_by_kind(frame: pl.DataFrame) -> dict[str, int]:
    return {
        str(row["kind"]): int(row["accounts"])
        for row in frame.group_by("kind").agg(pl.col("accounts").sum()).iter_rows(named=True)
    }


@pytest.mark.parametrize("with_run", [True, False], ids=["run", "no-run"])
def test_the_day_is_scored_by_the_active_models_and_tabled(tmp_path: Path, with_run: bool) -> None:
    result, scores, active = _demo(tmp_path, with_run=with_run)
    assert [ok for ok, _ in result.models] == [True, True, True], result.models
    assert len(active) == 3
    # every stored score of the day is an active model's, each kind scored once per loan
    assert set(scores["model_version_id"].unique().to_list()) == active
    assert scores.group_by("kind", "loan_id").len()["len"].max() == 1
    assert result.risk is not None
    expected = {str(k): n for k, n in scores.group_by("kind").len().iter_rows()}
    assert _accounts_by_kind(result.risk) == expected
    if with_run:
        assert result.run is not None
        # the table counts what the run scored (its notes), after the collection history
        for kind, rows in expected.items():
            assert f"{kind}: {rows:,} accounts scored" in result.run.notes
