"""Catalogue entries: the holds and disputes queue (issue 15, item 1)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "holds.nav": "保留与争议",
}

EN: dict[str, str] = {
    "holds.nav": "Holds and disputes",
}
