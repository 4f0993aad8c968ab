"""The strategy lab (issue 16): run collection strategies through the real compiled
strategy, compliance gate and capacity allocation against the borrower simulator
(:mod:`forbear.sim.borrowers`), compare them with intervals across seeds, test the
comparison's sensitivity to the simulator's assumptions, and search for a better
strategy. docs/lab.md explains how to run and read it.

- :mod:`.run`          the day loop (:func:`run_lab`), violations re-checked by the gate
- :mod:`.stats`        intervals across seeds, paired differences
- :mod:`.sensitivity`  one-at-a-time ranges of every parameter, ranking changes
- :mod:`.report`       the offline HTML report (Plotly, inline)
- :mod:`.search`       the search over what a manager allows to move
- :mod:`.strategies`   strategy files or shipped names, validated
"""

from __future__ import annotations

from forbear.sim.lab.run import (
    AGENT_MINUTES,
    LabResult,
    LabStrategy,
    SeedRun,
    StrategyBlocked,
    run_lab,
    run_one,
)

__all__ = [
    "AGENT_MINUTES",
    "LabResult",
    "LabStrategy",
    "SeedRun",
    "StrategyBlocked",
    "run_lab",
    "run_one",
]
