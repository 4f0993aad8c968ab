"""Catalogue entries of the portal pages and API (see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {}
EN: dict[str, str] = {}
