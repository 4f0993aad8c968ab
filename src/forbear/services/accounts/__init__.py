"""Accounts, split by what is asked of them:

- :mod:`.frame`: the strategy's ACCOUNT frame built from the book (the daily run and the
  strategy pre-launch check);
- :mod:`.views`: the search list and one account as a staff member sees them;
- :mod:`.history`: the timeline, the repayment curve, the daily run's decisions, one
  contact attempt, complaints and legal cases of an account.

The work queue is :mod:`forbear.services.queue`; daily runs :mod:`forbear.services.runs`.
"""

from forbear.services.accounts.frame import (
    DEFAULT_LIMITATION_YEARS,
    DayFacts,
    assemble_accounts,
    build_accounts,
    day_end,
    day_facts,
    limitation_years,
)

__all__ = [
    "DEFAULT_LIMITATION_YEARS",
    "DayFacts",
    "assemble_accounts",
    "build_accounts",
    "day_end",
    "day_facts",
    "limitation_years",
]
