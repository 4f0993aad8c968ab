"""The unmask throttle on the web: its refusal in the user's language.

The use case (scope, the throttle, the audited reveal) is :mod:`forbear.services.unmasking`;
:func:`limits_for` (the user's limits from the settings) is re-exported here for the
routes that call it.
"""

from __future__ import annotations

from forbear.services.unmasking import Limits, UnmaskBlocked, UnmaskThrottled, limits_for
from forbear.web.i18n import Translator

__all__ = ["Limits", "UnmaskBlocked", "UnmaskThrottled", "blocked_message", "limits_for", "message"]


def message(t: Translator, refused: UnmaskThrottled) -> str:
    """The refusal in the user's language."""
    return t(
        "unmask.throttled",
        limit=refused.limit,
        window=t(f"unmask.window.{refused.window}"),
        seconds=refused.retry_after,
    )


def blocked_message(t: Translator, blocked: UnmaskBlocked) -> str:
    """Unmasking to dial refused by the gate, with the gate's reasons."""
    head = t("workbench.unmask_blocked", rules=", ".join(blocked.rule_ids))
    return " ".join([head, *blocked.explanation])
