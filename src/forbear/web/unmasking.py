"""The unmask throttle on the web: its refusal in the user's language.

The use case (scope, the throttle, the audited reveal) is :mod:`forbear.services.unmasking`;
:func:`admit` and :func:`limits_for` are kept here for the routes that still call the
throttle step by step with a :class:`Principal`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from forbear.services import unmasking
from forbear.services.unmasking import Limits, UnmaskThrottled, limits_for
from forbear.web.i18n import Translator
from forbear.web.sessions import Principal

__all__ = ["Limits", "UnmaskThrottled", "admit", "limits_for", "message"]


def admit(
    conn: Connection,
    principal: Principal,
    *,
    borrower_id: int,
    field: str,
    purpose: str,
    limits: Limits,
    now: datetime,
) -> UnmaskThrottled | None:
    """:func:`forbear.services.unmasking.admit` for the signed-in principal."""
    return unmasking.admit(
        conn,
        principal.as_actor(),
        borrower_id=borrower_id,
        field=field,
        purpose=purpose,
        limits=limits,
        now=now,
    )


def message(t: Translator, refused: UnmaskThrottled) -> str:
    """The refusal in the user's language."""
    return t(
        "unmask.throttled",
        limit=refused.limit,
        window=t(f"unmask.window.{refused.window}"),
        seconds=refused.retry_after,
    )
