"""Provider signatures: a good one passes, every kind of bad one is refused with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from forbear.domain.signatures import SignatureRefused, sign, verify

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SECRET = b"provider-secret"
BODY = b'{"message_id": "abc", "status": "delivered"}'


def test_a_fresh_signature_over_the_body_passes() -> None:
    assert (
        verify(SECRET, timestamp=str(T), signature=sign(SECRET, T, BODY), body=BODY, now=NOW) == T
    )


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "reason"),
    [
        (None, sign(SECRET, T, BODY), BODY, "missing"),
        (str(T), None, BODY, "missing"),
        ("yesterday", sign(SECRET, T, BODY), BODY, "malformed"),
        (str(T), "zz" * 32, BODY, "malformed"),
        (str(T), sign(SECRET, T, BODY)[:-2], BODY, "malformed"),
        (str(T - 301), sign(SECRET, T - 301, BODY), BODY, "stale"),
        (str(T + 301), sign(SECRET, T + 301, BODY), BODY, "stale"),
        (str(T), sign(SECRET, T, BODY), BODY + b" ", "mismatch"),
        (str(T), sign(b"another", T, BODY), BODY, "mismatch"),
        (str(T - 1), sign(SECRET, T, BODY), BODY, "mismatch"),
    ],
)
def test_bad_signatures_are_refused_with_their_reason(
    timestamp: str | None, signature: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(SignatureRefused) as refused:
        verify(SECRET, timestamp=timestamp, signature=signature, body=body, now=NOW)
    assert refused.value.reason == reason
    assert "provider-secret" not in str(refused.value)


def test_the_window_is_configurable_and_an_empty_secret_signs_nothing() -> None:
    late = T - 600
    sig = sign(SECRET, late, BODY)
    verify(
        SECRET, timestamp=str(late), signature=sig, body=BODY, now=NOW, window=timedelta(hours=1)
    )
    with pytest.raises(ValueError, match="empty secret"):
        sign(b"", T, BODY)
