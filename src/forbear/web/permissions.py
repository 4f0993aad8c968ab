"""Which permission each area of the web app needs (permissions of
``forbear/domain/access_roles.yaml``; the roles file stays the one source of who holds
what).

Read-only management views (daily runs, strategies, models) have no permission of their
own in the roles file; they are open to the roles that steer the operation: supervisors
(``plan.approve``), compliance officers (``compliance.view``) and administrators
(``model.manage``, ``config.change``). Agents and agency agents work accounts and do not
see them (least privilege).
"""

from __future__ import annotations

ACCOUNT_VIEW = ("account.view",)
CONTACT = ("contact.make",)
UNMASK = ("pii.unmask",)
MANAGEMENT_VIEW = ("plan.approve", "compliance.view", "model.manage", "config.change")

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL: a larger one is unknown anyway
