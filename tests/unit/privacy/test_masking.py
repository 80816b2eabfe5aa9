"""Masked display forms: the documented patterns, and totality on any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.privacy.masking import mask_address, mask_email, mask_name, mask_national_id, mask_phone


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("110105194912311234", "110***********1234"),
        ("11010519491231002x", "110***********002x"),
        (" 110105 19491231 1234 ", "110***********1234"),
        ("110105491231123", "110********1123"),  # 15-digit first-generation number
        ("E12345678", "*********"),  # too short for the pattern: nothing shown
        ("", ""),
        (None, ""),
        (12345, "*****"),
    ],
)
def test_mask_national_id(value: object, shown: str) -> None:
    assert mask_national_id(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("13800000001", "138****0001"),
        ("138-0000-0001", "138****0001"),
        ("+86 138 0000 0001", "+86 138****0001"),
        ("+44 20 7946 0958", "+44 ******0958"),
        ("6552 9988", "****9988"),
        ("12345", "*****"),
        ("phone", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(value: object, shown: str) -> None:
    assert mask_phone(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("zhang.wei@example.com", "z***@example.com"),
        ("Z@example.com", "Z***@example.com"),
        ("a@b@example.com", "a***@example.com"),
        ("no-at-sign", "****"),
        ("@example.com", "****"),
        ("user@", "****"),
        ("", ""),
    ],
)
def test_mask_email(value: object, shown: str) -> None:
    assert mask_email(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("张伟", "张*"),
        ("张三丰", "张**"),
        ("欧阳 娜娜", "欧***"),
        ("张", "*"),
        ("Zhang Wei", "Z*** Wei"),
        ("  zhang   wei ", "z*** wei"),
        ("John Ronald Tolkien", "J*** R*** Tolkien"),
        ("Madonna", "M***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(value: object, shown: str) -> None:
    assert mask_name(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("北京市朝阳区建国路88号", "北京市朝阳区****"),
        ("广东省深圳市南山区科技园科苑路15号", "广东省深圳市****"),
        ("新疆维吾尔自治区乌鲁木齐市天山区1号", "新疆维吾尔自治区乌鲁木齐市****"),
        ("朝阳区建国路", "朝阳区****"),
        ("北京市", "北****"),
        ("221B Baker Street, London NW1 6XE", "****, London"),
        ("1600 Pennsylvania Ave NW, Washington, DC 20500", "****, DC"),
        ("Flat 2, 10 Downing St, 12345", "****"),
        ("somewhere", "****"),
        ("", ""),
    ],
)
def test_mask_address(value: object, shown: str) -> None:
    assert mask_address(value) == shown


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


MASKS = [mask_national_id, mask_phone, mask_email, mask_name, mask_address]


@pytest.mark.parametrize("mask", MASKS)
def test_masks_survive_objects_that_cannot_be_printed(mask: object) -> None:
    assert mask(Unprintable()) == ""  # type: ignore[operator]


@given(st.one_of(st.text(), st.integers(), st.none(), st.binary(), st.floats()))
def test_masks_are_total(value: object) -> None:
    for mask in MASKS:
        assert isinstance(mask(value), str)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_masked_mobile_shows_exactly_seven_digits(phone: str) -> None:
    shown = mask_phone(phone)
    assert shown == phone[:3] + "****" + phone[-4:]
    assert sum(ch.isdigit() for ch in shown) == 7


@given(st.text(alphabet="0123456789X", min_size=18, max_size=18))
def test_a_masked_id_shows_exactly_seven_characters(value: str) -> None:
    shown = mask_national_id(value)
    assert len(shown) == 18
    assert shown.count("*") == 11
    assert shown[:3] == value[:3] and shown[-4:] == value[-4:]


@given(st.text(min_size=1))
def test_a_masked_email_shows_one_character_of_the_local_part(local: str) -> None:
    shown = mask_email(local.replace("@", "a") + "@example.com")
    if shown != "****":
        assert shown.endswith("***@example.com")
        assert len(shown) == len("x***@example.com")
