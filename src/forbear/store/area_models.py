"""Imports every model module of the other areas, so that ``Base.metadata`` is complete.

Each area adds one import line here (audit, access, contacts, templates, ...).
"""

from forbear.store import (
    assistant,  # noqa: F401
    audit,  # noqa: F401
    complaints,  # noqa: F401
    contacts,  # noqa: F401
    contracts,  # noqa: F401
    hold_cases,  # noqa: F401
    legal,  # noqa: F401
    lender_config,  # noqa: F401
    outreach,  # noqa: F401
    plans,  # noqa: F401
    portal,  # noqa: F401
    promises,  # noqa: F401
    runs,  # noqa: F401
    strategies,  # noqa: F401
    templates,  # noqa: F401
    web,  # noqa: F401
    workbench,  # noqa: F401
)
