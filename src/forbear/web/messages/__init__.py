"""Catalogue entries of the web app's areas, one module per area (``ZH`` and ``EN``
dicts), merged into :data:`forbear.web.i18n.CATALOGUE` at import. An area owns its own
keys (prefix them with the area, e.g. ``complaints.``); a key defined twice is an error.
"""

from __future__ import annotations

from forbear.web.messages import (
    admin,
    approvals,
    assistant,
    collection,
    complaints,
    dashboard,
    experiments,
    holds,
    legal,
    outbox,
    outreach,
    portal,
    replies,
    requests,
    security,
    situation,
    strategies,
    workbench,
)

AREAS = (
    admin,
    approvals,
    assistant,
    collection,
    complaints,
    dashboard,
    experiments,
    holds,
    legal,
    outbox,
    outreach,
    portal,
    replies,
    requests,
    security,
    situation,
    strategies,
    workbench,
)
