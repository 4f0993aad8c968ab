"""Legal escalation (issue 6, part 3): pure code on plain data and Polars frames.

- :mod:`.config`: the eligibility and letter configuration (``legal_default.yaml``),
  validated with pydantic; a lender's copy may only tighten eligibility.
- :mod:`.eligibility`: which accounts go to the legal review queue, and why (one Polars
  function for the whole book and for one account).
- :mod:`.lifecycle`: the stages of a case and the moves allowed between them.
- :mod:`.amounts`: the amounts claimed, by component, from the ledger state.
- :mod:`.limitation`: the limitation date (CN.LIMITATION) and what is expiring.

Nothing here does I/O apart from reading the packaged default configuration.
"""
