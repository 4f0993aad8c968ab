"""Catalogue entries of the outbox and sent-messages pages (issue 13)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {}

EN: dict[str, str] = {}
