from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forbear.domain.masking import (
    mask_address,
    mask_email,
    mask_mobile,
    mask_name,
    mask_national_id,
)


@pytest.mark.parametrize(
    ("masked", "expected"),
    [
        (mask_name("张三丰"), "张**"),
        (mask_name("张三"), "张*"),
        (mask_name("欧阳娜娜"), "欧***"),
        (mask_name("买买提·艾力"), "买*****"),
        (mask_name("Li Lei"), "L* L**"),
        (mask_name("张"), "*"),
        (mask_mobile("13812345678"), "138****5678"),
        (mask_mobile("+86 138-1234-5678"), "138****5678"),
        (mask_mobile("0086 13812345678"), "138****5678"),
        (mask_national_id("410105199001011234"), "4101**********1234"),
        (mask_email("zhangsan@example.com"), "z*******@example.com"),
        (mask_email("z@example.com"), "*@example.com"),
        (mask_address("广东省深圳市南山区科技园1号"), "广东省深圳市********"),
        (mask_address(""), ""),
    ],
)
def test_masks_keep_the_customary_visible_part(masked: str, expected: str) -> None:
    assert masked == expected


# The star is the mask character: an input made of stars is indistinguishable from its mask.
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="*@"),
    min_size=1,
    max_size=40,
)


@given(text)
def test_a_masked_name_never_shows_the_whole_name(name: str) -> None:
    assert name not in mask_name(name)


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_a_masked_mobile_never_shows_the_whole_number(mobile: str) -> None:
    assert mobile not in mask_mobile(mobile)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_a_masked_11_digit_mobile_shows_at_most_seven_digits(mobile: str) -> None:
    masked = mask_mobile(mobile)
    assert masked.count("*") >= 4
    assert masked.endswith(mobile[-4:])


@given(text)
def test_a_masked_national_id_never_shows_the_whole_id(national_id: str) -> None:
    assert national_id not in mask_national_id(national_id)


@given(text, text)
def test_a_masked_email_never_shows_the_local_part(local: str, domain: str) -> None:
    email = f"{local}@{domain}"
    masked = mask_email(email)
    assert email not in masked
    assert masked.endswith("@" + domain)


@given(text)
def test_a_masked_address_never_shows_the_whole_address(address: str) -> None:
    masked = mask_address(address)
    assert address not in masked
    assert len(masked) == len(address)
    if len(address) > 6:
        assert masked.startswith(address[:6])
