"""The contact gate: one vectorised function from a plan to a decision per contact.

``gate(planned, history, flags, holds, rules)`` returns PLANNED's columns plus DECISION's
(schema.py). The daily run passes the whole day's plan; a service passes a one-row plan
built at the moment of contact: the same function (DESIGN.md, "The one idea").

How it counts (REGULATIONS.md):

- every counter is per debtor (``borrower_id``) across the lender and all agencies
  (CN.FREQ.CROSSPARTY), AI calls count as calls (CN.AI.COUNTS), history rows with outcome
  ``blocked`` never count; a history row with no outcome yet (pending) counts as a
  possible unanswered dial *and* a possible conversation, as a planned dial does;
- days are the debtor's local calendar days;
- planned contacts count against each other in plan order (``contact_id`` within a
  borrower): a planned dial counts as a possible unanswered dial and a possible
  conversation, so the first N pass and the rest are blocked with the cap's id. Only
  planned contacts that no other (non-frequency) rule blocks are counted. US.REGF.7IN7
  counts history and earlier planned calls within the window on *either* side of the
  contact, which guarantees no 7-day window ever holds more than the cap whatever order
  the calls are made in. A planned call is not assumed to become a conversation: the
  moment-of-contact check (DESIGN.md, "Online paths") sees the real outcome;
- ``earliest_allowed_at`` is null when allowed or when a rule that time does not lift
  blocks (a hold, a refusal, scope, provenance, ...); otherwise it is the first instant at or
  after every temporal block lifts (next day for daily caps, after the window for 7-in-7,
  the notice time) moved into the next allowed local window and past public holidays.
- unknown ``is_demand`` / ``discloses_debt`` count as true (compliance first).
"""

from __future__ import annotations

from forbear.domain.compliance.gate.deciding import gate
from forbear.domain.compliance.gate.explain import explain

__all__ = ["explain", "gate"]
