"""What the gate's parts share: the moment dtypes, the failed outcomes, the voice channels,
how far the earliest-time search looks."""

from __future__ import annotations

import polars as pl

from forbear.domain.compliance.schema import (
    UNANSWERED,
    VOICE,
    Outcome,
)

_UTC = pl.Datetime("us", "UTC")
_NAIVE = pl.Datetime("us")
_FAILED = sorted({*(o.value for o in UNANSWERED), Outcome.INVALID_NUMBER.value})
_VOICE = sorted(c.value for c in VOICE)
# how many times the earliest-time search skips a holiday / closed window
_ADJUST_STEPS = 3
_ADJUST_STEPS_HOLIDAYS = 14
