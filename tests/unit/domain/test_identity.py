"""Identity validation: GB 11643 ID numbers, E.164 phone numbers, email addresses."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.identity import (
    cn_national_id_check_digit,
    is_valid_cn_national_id,
    is_valid_email,
    normalise_phone,
    validate_cn_national_id,
)
from arrears.errors import ValidationError

# The worked example of GB 11643—1999 Appendix A, whose check character is X.
STANDARD_EXAMPLE = "11010519491231002X"


def test_check_digit_of_the_standard_example() -> None:
    assert cn_national_id_check_digit("11010519491231002") == "X"
    # 4,4,0,5,2,4,1,8,8,0,0,1,0,1,0,0,1 weighted: 28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195;
    # 195 mod 11 = 8; "10X98765432"[8] = "4".
    assert cn_national_id_check_digit("44052418800101001") == "4"


def test_check_digit_by_hand() -> None:
    # Weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 over 1,1,0,1,0,1,1,9,9,0,0,1,0,1,0,0,1:
    # 7+9+0+5+0+4+2+9+54+0+0+9+0+5+0+0+2 = 106; 106 mod 11 = 7; "10X98765432"[7] = "5".
    assert cn_national_id_check_digit("11010119900101001") == "5"


@pytest.mark.parametrize("bad", ["1234", "1101051949123100X", "１１０１０５１９４９１２３１００２"])
def test_check_digit_needs_17_ascii_digits(bad: str) -> None:
    with pytest.raises(ValidationError, match="exactly 17 digits"):
        cn_national_id_check_digit(bad)


def test_valid_numbers_are_normalised() -> None:
    assert validate_cn_national_id(STANDARD_EXAMPLE) == STANDARD_EXAMPLE
    assert validate_cn_national_id(" 11010519491231002x ") == STANDARD_EXAMPLE
    assert validate_cn_national_id("110101199001010015") == "110101199001010015"
    assert is_valid_cn_national_id(STANDARD_EXAMPLE)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("110105194912310", "15-digit first-generation"),
        ("1101051949123100", "has 16"),
        ("11010519491231002Y", "17 digits followed by a digit or X"),
        ("1101051949A231002X", "17 digits followed by a digit or X"),
        ("990105194912310020", "not a province code"),
        ("110105194902300029", "19490230 is not a real birth date"),
        ("110105185001010012", "not plausible"),
        ("110105194912310021", "check digit does not match"),
    ],
)
def test_invalid_numbers_say_why(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        validate_cn_national_id(value)
    assert caught.value.fields["field"] == "national_id"
    assert not is_valid_cn_national_id(value)


def test_birth_date_after_as_of_is_refused() -> None:
    number = "110101202501010" + "01"
    number += cn_national_id_check_digit(number)
    assert validate_cn_national_id(number) == number
    assert validate_cn_national_id(number, as_of=date(2025, 1, 1)) == number
    with pytest.raises(ValidationError, match="not plausible"):
        validate_cn_national_id(number, as_of=date(2024, 12, 31))


def test_is_valid_never_raises_on_odd_input() -> None:
    assert [is_valid_cn_national_id(v) for v in (None, 123, b"11010519491231002X", "", "X" * 18)] == [
        False
    ] * 5


id_bodies = st.builds(
    lambda province, birth, seq: f"{province}0101{birth:%Y%m%d}{seq:03d}",
    st.sampled_from(["11", "31", "44", "65", "81"]),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=0, max_value=999),
)


@given(id_bodies)
def test_generated_numbers_validate_and_any_single_digit_change_is_caught(body: str) -> None:
    number = body + cn_national_id_check_digit(body)
    assert validate_cn_national_id(number) == number
    # MOD 11-2 detects every single-digit substitution, whatever the position: the weights are all
    # non-zero modulo the prime 11, so the weighted sum changes.
    for position in range(17):
        for digit in "0123456789":
            if digit != body[position]:
                changed = body[:position] + digit + body[position + 1 :]
                assert cn_national_id_check_digit(changed) != number[17]
    for check in "0123456789X":
        if check != number[17]:
            assert not is_valid_cn_national_id(body + check)


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("13800000001", "CN", "+8613800000001"),
        ("138 0000 0001", "CN", "+8613800000001"),
        ("+86 138-0000-0001", "US", "+8613800000001"),
        ("010 6552 9988", "CN", "+861065529988"),
        ("(202) 456-1111", "US", "+12024561111"),
        ("+44 20 7946 0958", "CN", "+442079460958"),
    ],
)
def test_phone_numbers_become_e164(value: str, region: str, expected: str) -> None:
    assert normalise_phone(value, region) == expected


@pytest.mark.parametrize(
    ("value", "message"), [("", "needed"), ("abc", "could not read"), ("12345", "not a valid")]
)
def test_bad_phone_numbers(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        normalise_phone(value)
    assert caught.value.fields["field"] == "phone"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zhang.wei@example.com", True),
        ("a+tag@mail.example.cn", True),
        ("o'brien@example.co.uk", True),
        ("no-at-sign.example.com", False),
        ("two@@example.com", False),
        ("space in@example.com", False),
        ("dot.@example.com", False),
        ("user@localhost", False),
        ("user@-bad.com", False),
        ("x" * 65 + "@example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_email_check(value: object, expected: bool) -> None:
    assert is_valid_email(value) is expected
