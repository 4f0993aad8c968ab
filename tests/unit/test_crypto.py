from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forbear.domain.errors import ConfigurationError, ForbearError
from forbear.store.crypto import DecryptionFailed, PiiVault, normalise

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


@pytest.fixture
def vault() -> PiiVault:
    return PiiVault(KEY)


@given(st.text(max_size=200))
def test_encryption_round_trips_any_text(plain: str) -> None:
    vault = PiiVault(KEY)
    assert (
        vault.decrypt(vault.encrypt(plain, context="borrowers.name"), context="borrowers.name")
        == plain
    )


def test_a_ciphertext_carries_a_key_version_and_a_fresh_nonce(vault: PiiVault) -> None:
    first = vault.encrypt("13812345678", context="borrowers.mobile")
    second = vault.encrypt("13812345678", context="borrowers.mobile")
    assert first[0] == second[0] == 1
    assert first[1:13] != second[1:13]
    assert first != second
    assert b"13812345678" not in first


def test_a_value_moved_to_another_column_does_not_decrypt(vault: PiiVault) -> None:
    blob = vault.encrypt("13812345678", context="borrowers.mobile")
    with pytest.raises(DecryptionFailed):
        vault.decrypt(blob, context="contact_points.value")


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),  # tampered tag
        lambda blob: blob[:20] + bytes([blob[20] ^ 1]) + blob[21:],  # tampered ciphertext
        lambda blob: bytes([9]) + blob[1:],  # unknown key version
        lambda blob: blob[:10],  # truncated
    ],
)
def test_damaged_values_fail_without_revealing_anything(
    vault: PiiVault, damage: Callable[[bytes], bytes]
) -> None:
    blob = vault.encrypt("410105199001011234", context="borrowers.national_id")
    with pytest.raises(ForbearError) as caught:
        vault.decrypt(damage(blob), context="borrowers.national_id")
    message = str(caught.value)
    assert isinstance(caught.value, DecryptionFailed)
    assert "410105199001011234" not in message
    assert blob.hex()[:16] not in message


def test_another_key_cannot_decrypt(vault: PiiVault) -> None:
    blob = vault.encrypt("张三", context="borrowers.name")
    with pytest.raises(DecryptionFailed):
        PiiVault(OTHER_KEY).decrypt(blob, context="borrowers.name")


def test_values_written_before_a_key_rotation_still_decrypt() -> None:
    old = PiiVault(KEY)
    blob = old.encrypt("张三", context="borrowers.name")
    rotated = PiiVault(OTHER_KEY, key_version=2, previous_keys={1: KEY})
    assert rotated.decrypt(blob, context="borrowers.name") == "张三"
    assert rotated.encrypt("张三", context="borrowers.name")[0] == 2


@pytest.mark.parametrize("key", [b"", b"short", bytes(31), bytes(33)])
def test_a_key_of_the_wrong_size_is_refused(key: bytes) -> None:
    with pytest.raises(ConfigurationError):
        PiiVault(key)


def test_the_vault_never_shows_its_key(vault: PiiVault) -> None:
    assert KEY.hex() not in repr(vault)


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("phone", "13812345678", "+86 138-1234-5678"),
        ("phone", "13812345678", "0086 138 1234 5678"),
        ("phone", "13812345678", "８６１３８１２３４５６７８"),  # full-width digits
        ("national_id", "11010519491231002X", " 11010519491231002x "),
        ("email", "zhangsan@example.com", " ZhangSan@Example.COM "),
    ],
)
def test_blind_indexes_match_across_formats_of_the_same_value(
    vault: PiiVault, kind: str, a: str, b: str
) -> None:
    assert vault.blind_index(kind, a) == vault.blind_index(kind, b)


def test_blind_indexes_distinguish_values_kinds_and_keys(vault: PiiVault) -> None:
    index = vault.blind_index("phone", "13812345678")
    assert len(index) == 64 and int(index, 16) >= 0
    assert index != vault.blind_index("phone", "13812345679")
    assert index != vault.blind_index("national_id", "13812345678")
    assert index != PiiVault(OTHER_KEY).blind_index("phone", "13812345678")


def test_the_index_key_is_derived_not_the_master_key(vault: PiiVault) -> None:
    message = b"phone\x0013812345678"
    assert (
        vault.blind_index("phone", "13812345678")
        != hmac.new(KEY, message, hashlib.sha256).hexdigest()
    )


def test_a_short_number_keeps_its_86() -> None:
    # only an 11-digit mainland mobile loses the country code
    assert normalise("phone", "86-10-1234") == "86101234"
    assert normalise("phone", "8613812345678") == "13812345678"
