"""Catalogue entries: the supervisors' queue of plans beyond an agent's authority (issue 15, item 2)
(see :mod:`forbear.web.messages`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "approvals.nav": "方案审批",
}

EN: dict[str, str] = {
    "approvals.nav": "Plan approvals",
}
