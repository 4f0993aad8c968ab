"""Catalogue entries of borrowers' replies and the agents' reply inbox (issue 13)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {}

EN: dict[str, str] = {}
