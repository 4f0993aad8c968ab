"""The borrower behaviour simulator (issue 16, item 2; docs/simulation.md).

- :func:`load_parameters` / :class:`Parameters`: the one versioned parameter file, every
  value with its range and source (:class:`ParameterError` refuses a bad one);
- :class:`Population`: one row per loan, from the book (:meth:`Population.from_book`) or
  made up (:meth:`Population.synthetic`);
- :class:`World`: the kernel's inputs for a day (:meth:`World.frames`), the borrowers'
  answers to the day's delivered contacts (:meth:`World.step`), :meth:`World.totals`.
"""

from forbear.sim.borrowers.parameters import (
    DEFAULT_PATH,
    Parameter,
    ParameterError,
    Parameters,
    load_parameters,
)
from forbear.sim.borrowers.population import Population
from forbear.sim.borrowers.world import EVENTS, World

__all__ = [
    "DEFAULT_PATH",
    "EVENTS",
    "Parameter",
    "ParameterError",
    "Parameters",
    "Population",
    "World",
    "load_parameters",
]
