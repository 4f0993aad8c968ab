"""Which business day a web reader sees (kept for the routes that still import it from
here; the home is :mod:`forbear.services.days`). The account, queue and run reads that
lived here are use cases now: :mod:`forbear.services.accounts`,
:mod:`forbear.services.queue`, :mod:`forbear.services.runs`."""

from __future__ import annotations

from forbear.services.days import book_date, queue_date

__all__ = ["book_date", "queue_date"]
