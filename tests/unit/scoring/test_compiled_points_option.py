"""``score_frame(points=False)``: the same totals without the per-feature columns."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from forbear.domain.scoring.artefact import Artefact
from forbear.domain.scoring.compiled import score_frame


def test_without_points_the_totals_and_reasons_are_the_same(
    artefact: Artefact, german_credit: pl.DataFrame
) -> None:
    full = score_frame(german_credit.lazy(), artefact, reasons=4).collect()
    lean = score_frame(german_credit.lazy(), artefact, reasons=4, points=False).collect()
    bare = score_frame(german_credit.lazy(), artefact, reasons=0, points=False).collect()
    assert not [c for c in lean.columns if c.startswith("pts_")]
    totals = ["score", "score_int", "tier", "pd"]
    assert_frame_equal(full.select(*totals, "reason_codes"), lean.select(*totals, "reason_codes"))
    assert_frame_equal(full.select(totals), bare.select(totals))
