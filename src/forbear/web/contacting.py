"""The collector's outcome words, kept importable here for the web modules that name
them (:mod:`forbear.web.api.schemas`). Contacting a borrower and recording an outcome are
use cases now: :func:`forbear.services.contacts.contact` and
:func:`forbear.services.contacts.record_collector_outcome` (the one home of which
outcomes put a dispute or vulnerability hold)."""

from __future__ import annotations

from forbear.services.contacts import CollectorOutcome

__all__ = ["CollectorOutcome"]
