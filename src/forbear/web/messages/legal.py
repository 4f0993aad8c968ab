"""Catalogue entries: the legal console's pages (issue 15, item 7)
(see :mod:`forbear.web.messages`). Earlier legal keys live in ``collection``."""

from __future__ import annotations

ZH: dict[str, str] = {}

EN: dict[str, str] = {}
