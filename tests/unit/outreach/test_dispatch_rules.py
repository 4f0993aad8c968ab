"""Pure parts of the dispatcher: the situation checks at the moment of sending, the retry
backoff, the signed portal links and the masking of a text as sent."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forbear.services.outreach import checks
from forbear.services.outreach.dispatch import RetryPolicy
from forbear.services.outreach.outbox import mask_text
from forbear.services.portal import links
from forbear.store.crypto import PiiVault

DAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def loan(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "status": "active",
        "overdue_total": 50_000,
        "next_due_amount": 100_000,
        "last_payment_date": None,
        "active_plan": False,
        "active_promise": False,
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("row", "origin", "purpose", "treatment", "expected"),
    [
        (loan(), "run", "remind", "m1_gentle", None),
        (loan(status="paid_off"), "run", "remind", "m1_gentle", checks.NOTHING_OWED),
        (None, "run", "remind", "m1_gentle", checks.NOTHING_OWED),
        (loan(overdue_total=0, next_due_amount=0), "agent", None, None, checks.NOTHING_OWED),
        (loan(overdue_total=0, last_payment_date=DAY), "run", "remind", "m1", checks.PAID),
        (
            loan(overdue_total=0, last_payment_date=DAY - timedelta(days=9)),
            "run",
            "remind",
            "predue",
            None,
        ),
        (loan(overdue_total=0, last_payment_date=DAY), "run", "educate", "m1", checks.PAID),
        (loan(active_promise=True), "run", "remind", "m1", checks.PROMISE),
        (loan(active_plan=True), "run", "remind", "m1", checks.PLAN),
        (loan(active_plan=True), "run", "educate", "m1", None),
        (loan(active_plan=True), "run", "remind", "builtin.plan_reminder", None),
        (loan(active_plan=False), "run", "remind", "builtin.plan_reminder", checks.PLAN_ENDED),
        (loan(active_promise=True), "agent", None, None, None),
        (None, "system", None, None, None),
    ],
)
def test_the_situation_at_the_moment_of_sending(
    row: dict[str, object] | None,
    origin: str,
    purpose: str | None,
    treatment: str | None,
    expected: str | None,
) -> None:
    found = checks.situation_block(
        origin=origin, planned_on=DAY, loan=row, treatment=treatment, purpose=purpose
    )
    assert found == expected


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32))
def test_backoff_grows_with_jitter_within_its_bounds(tries: int, seed: int) -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=30), max_delay=timedelta(hours=2))
    wait = policy.delay(tries, random.Random(seed))
    full = min(timedelta(seconds=30) * 2 ** min(tries - 1, 30), timedelta(hours=2))
    assert full / 2 <= wait <= full


def test_backoff_honours_the_providers_retry_after() -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=1))
    assert policy.delay(1, random.Random(1), retry_after=600) >= timedelta(minutes=10)


VAULT = PiiVault(bytes(range(32)))


def test_a_portal_link_verifies_for_its_borrower_until_it_expires() -> None:
    url = links.link(VAULT, "https://lender.example/", 42, now=NOW)
    assert url.startswith("https://lender.example/portal/sign-in?t=42.")
    token = url.split("t=", 1)[1]
    assert links.verify(VAULT, token, now=NOW + timedelta(days=6)) == 42
    with pytest.raises(links.LinkRefused, match="expired"):
        links.verify(VAULT, token, now=NOW + links.LINK_TTL)


@pytest.mark.parametrize("change", ["borrower", "expiry", "mac", "junk", "key"])
def test_a_tampered_or_foreign_link_is_refused(change: str) -> None:
    token = links.sign(VAULT, 42, now=NOW)
    borrower, expires, mac = token.split(".")
    forged = {
        "borrower": f"43.{expires}.{mac}",
        "expiry": f"{borrower}.{int(expires) + 86400}.{mac}",
        "mac": f"{borrower}.{expires}.{'0' * 32}",
        "junk": "not a token",
        "key": token,
    }[change]
    key = PiiVault(bytes(range(1, 33))) if change == "key" else VAULT
    with pytest.raises(links.LinkRefused) as caught:
        links.verify(key, forged, now=NOW)
    assert forged not in str(caught.value)


def test_a_masked_text_keeps_no_digits_links_or_full_name() -> None:
    text = (
        "【还款提醒】张伟您好，您的现金贷本期1,234.56元尚未还清，详见 https://x.example/p?t=1.2.3"
    )
    masked = mask_text(text)
    assert not any(ch.isdigit() for ch in masked)
    assert "https://" not in masked and "张*您好" in masked and "张伟" not in masked
