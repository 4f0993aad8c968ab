"""Catalogue entries: staff management for the admin (issue 15, item 9)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "admin.nav": "员工管理",
}

EN: dict[str, str] = {
    "admin.nav": "Staff",
}
