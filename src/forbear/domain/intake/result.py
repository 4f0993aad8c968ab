"""The outcome of validating a frame of imported rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from forbear.domain.errors import RowError

LINE = "_line"


@dataclass(frozen=True)
class Checked:
    """Rows that passed (typed, with ``_line``) and every problem found."""

    valid: pl.DataFrame
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_lines(self) -> set[int]:
        return {e.line for e in self.errors}


def collect_errors(frame: pl.DataFrame, checks: dict[str, pl.Expr]) -> list[RowError]:
    """Evaluate ``{label: reason-or-null expression}`` and list every non-null reason.

    A label is ``"column"`` or ``"column#n"`` when one column has several checks; the
    part before ``#`` is the column reported.
    """
    if frame.height == 0 or not checks:
        return []
    reasons = frame.select(
        pl.col(LINE), *[expr.alias(label) for label, expr in checks.items()]
    ).unpivot(index=LINE, variable_name="label", value_name="reason")
    found = reasons.filter(pl.col("reason").is_not_null()).sort(LINE, "label")
    return [
        RowError(line=int(line), column=str(label).split("#", 1)[0], reason=str(reason))
        for line, label, reason in found.iter_rows()
    ]


def drop_lines(frame: pl.DataFrame, lines: set[int]) -> pl.DataFrame:
    if not lines:
        return frame
    return frame.filter(~pl.col(LINE).is_in(sorted(lines)))
