"""Catalogue entries of composing and sending a message from the workbench (issue 13)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {}

EN: dict[str, str] = {}
