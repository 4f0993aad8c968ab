"""Catalogue entries: strategies from the web (issue 15, item 8)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "strategies.nav": "策略",
}

EN: dict[str, str] = {
    "strategies.nav": "Strategies",
}
