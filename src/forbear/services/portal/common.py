"""What the portal's use cases share: its limits and periods, its refusals, the actor name
of a borrower."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import ForbearError, ValidationError

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
WINDOW = timedelta(hours=1)
PER_PHONE = 5
BUSY_CLIENT = 20  # code requests from one address in the window: a soft signal ...
BUSY_CLIENT_PER_PHONE = 2  # ... after which a number gets this many requests from it
PER_CLIENT = 200  # the hard cap of one address (SMS cost)
RESEND_AFTER = timedelta(seconds=60)
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=4)
TOUCH_EVERY = timedelta(minutes=1)
CODE_TEMPLATE = "portal.sign_in_code"
OUTBOX_CONTEXT = "portal_outbox.payload"
MAX_INTENT = 100_000_000_00  # fen: a hundred million yuan, far beyond any consumer loan

# what a borrower may dispute (a code, never free text: holds.reason holds no personal data)
DISPUTE_REASONS = ("amount_wrong", "already_paid", "not_my_loan", "other")
# the channels a borrower may stop from the portal (letters and visits have their own rules)
OPT_OUT_CHANNELS = (Channel.CALL, Channel.AI_CALL, Channel.SMS, Channel.IM, Channel.EMAIL)


class CodeThrottled(ForbearError):
    """Too many code requests for this number or from this client (a 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many code requests: try again in {retry_after} seconds")
        self.retry_after = retry_after


class CodeRefused(ForbearError):
    """A wrong, expired or used code, or a number without a code: one answer for all."""

    def __init__(self) -> None:
        super().__init__("the code is wrong or has expired: ask for a new one")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def actor_of(borrower_id: int) -> str:
    return f"portal:borrower:{borrower_id}"


def _utc(moment: datetime, name: str = "now") -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(name, "must carry a time zone")
    return moment
