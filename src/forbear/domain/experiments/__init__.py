"""Champion/challenger experiments read out with their uncertainty (issue 16, item 1).

- :mod:`.stats`    intervals (Newcombe, Welch, Poisson) and minimum detectable effects
- :mod:`.readout`  per-arm metrics, comparisons against champion and control, the verdict
"""

from __future__ import annotations

from forbear.domain.experiments.readout import (
    METRICS,
    OUTCOMES,
    ArmSummary,
    Comparison,
    Difference,
    Policy,
    Readout,
    Verdict,
    readout,
)

__all__ = [
    "METRICS",
    "OUTCOMES",
    "ArmSummary",
    "Comparison",
    "Difference",
    "Policy",
    "Readout",
    "Verdict",
    "readout",
]
