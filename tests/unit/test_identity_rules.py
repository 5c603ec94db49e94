from datetime import date

import pytest

from flashport.domain.errors import InvalidInput
from flashport.domain.identity import (
    check_consignee,
    check_real_name,
    id_check_character,
    normalise_id_number,
    normalise_person_name,
    plain_name,
)

TODAY = date(2026, 11, 26)


def with_check(first17: str) -> str:
    """An ID number with its right check character, for cases about the other parts."""
    return first17 + id_check_character(first17)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the worked example of GB 11643: remainder 2 gives X
        ("11010519900307002", "5"),
        ("44030420000101001", "7"),  # weighted sum 115, remainder 5
    ],
)
def test_the_check_character_is_iso_7064_mod_11_2(first17: str, check: str) -> None:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    remainder = sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11
    assert "10X98765432"[remainder] == check == id_check_character(first17)


def test_a_valid_number_is_kept_and_a_lower_case_x_becomes_upper_case() -> None:
    assert normalise_id_number("110105199003070025", TODAY) == "110105199003070025"
    assert normalise_id_number("11010519491231002x", TODAY) == "11010519491231002X"
    assert normalise_id_number(" 11010519491231002X ", TODAY) == "11010519491231002X"


def test_full_width_digits_typed_on_a_chinese_keyboard_are_folded_to_ascii() -> None:
    full_width = "".join(chr(0xFF10 + int(digit)) for digit in "110105199003070025")
    assert normalise_id_number(full_width, TODAY) == "110105199003070025"


@pytest.mark.parametrize(
    "number",
    ["", "11010519900307002", "1101051990030700255", "11010519900307002Y", "1101051990030X0025", "abc"],
)
def test_anything_but_17_digits_and_a_check_character_is_not_an_id_number(number: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalise_id_number(number, TODAY)
    assert error.value.code == "invalid_id_number"


@pytest.mark.parametrize("number", ["110105199003070026", "110105194912310020"])
def test_a_mistyped_digit_breaks_the_check_character(number: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalise_id_number(number, TODAY)
    assert error.value.code == "id_check_digit_mismatch"
    assert number not in error.value.message  # personal data stays out of messages (and logs)


@pytest.mark.parametrize(
    "birth",
    [
        "19900230",  # 30 February
        "19901301",  # month 13
        "19900000",
        "18991231",  # before 1900
        "20261127",  # tomorrow
        "20991231",
    ],
)
def test_digits_7_to_14_must_be_a_possible_birth_date(birth: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalise_id_number(with_check(f"110105{birth}002"), TODAY)
    assert error.value.code == "id_birth_date_invalid"


@pytest.mark.parametrize("birth", ["19000101", "20000229", "20261126"])
def test_birth_dates_at_the_edges_are_possible(birth: str) -> None:
    number = with_check(f"110105{birth}002")
    assert normalise_id_number(number, TODAY) == number


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("李娜", "李娜"),
        ("  欧阳  娜娜 ", "欧阳 娜娜"),
        ("买买提·艾力", "买买提·艾力"),
        ("买买提•艾力", "买买提·艾力"),  # a bullet typed for the middle dot
        ("Zhang San", "Zhang San"),
        ("José Müller", "José Müller"),
        ("𠀋娜", "𠀋娜"),  # CJK extension B
    ],
)
def test_names_of_chinese_or_latin_letters_with_dots_and_spaces_are_accepted(raw: str, name: str) -> None:
    assert normalise_person_name(raw) == name


@pytest.mark.parametrize(
    "raw", ["李", "", "李娜2", "·李娜", "李娜·", "Li_Na", "李" * 31, "\u041b\u0438 \u041d\u0430", "李娜!"]
)
def test_other_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalise_person_name(raw)
    assert error.value.code == "invalid_name"


def test_thirty_characters_is_the_longest_name() -> None:
    assert normalise_person_name("李" * 30) == "李" * 30


def test_a_real_name_is_a_checked_name_and_a_checked_number() -> None:
    person = check_real_name(" 李娜 ", "11010519491231002x", TODAY)
    assert (person.name, person.id_number) == ("李娜", "11010519491231002X")


def test_plain_names_compare_spellings_of_the_same_name() -> None:
    assert plain_name("买买提・艾力 ") == plain_name("买买提·艾力")


@pytest.mark.parametrize("phone", ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000"])
def test_a_consignee_phone_is_a_mainland_mobile_number(phone: str) -> None:
    assert check_consignee("李娜", phone, "杭州市西湖区文三路 1 号", None).phone == "13800138000"


@pytest.mark.parametrize(
    "phone", ["12800138000", "1380013800", "138001380001", "02188888888", "+1 415 555 0100"]
)
def test_other_phone_numbers_are_refused(phone: str) -> None:
    with pytest.raises(InvalidInput) as error:
        check_consignee("李娜", phone, "杭州市西湖区文三路 1 号", None)
    assert error.value.code == "invalid_phone"


def test_the_district_is_optional_and_otherwise_a_six_digit_division_code() -> None:
    assert check_consignee("李娜", "13800138000", "文三路 1 号", "330106").district == "330106"
    assert check_consignee("李娜", "13800138000", "文三路 1 号", " ").district is None
    with pytest.raises(InvalidInput) as error:
        check_consignee("李娜", "13800138000", "文三路 1 号", "33010")
    assert error.value.code == "invalid_district"


def test_the_address_is_required_and_at_most_200_characters() -> None:
    for address in ("  ", "路" * 201):
        with pytest.raises(InvalidInput) as error:
            check_consignee("李娜", "13800138000", address, None)
        assert error.value.code == "invalid_address"
    assert check_consignee("李娜", "13800138000", "路" * 200, None).address == "路" * 200


def test_the_consignee_name_follows_the_name_rule() -> None:
    with pytest.raises(InvalidInput) as error:
        check_consignee("x", "13800138000", "文三路 1 号", None)
    assert error.value.code == "invalid_name" and error.value.details[0].field == "consignee_name"


def test_id_numbers_in_free_text_are_masked_and_nothing_else_changes() -> None:
    from flashport.adapters.identity_vault import mask_id_numbers_in

    text = (
        "buyerIdNumber 11010519491231002X refused; payer 110105199003070025, order FP20261125144932E912DCC3"
    )
    assert mask_id_numbers_in(text) == (
        "buyerIdNumber 1101**********002X refused; payer 1101**********0025, order FP20261125144932E912DCC3"
    )
    assert mask_id_numbers_in("phone 13800138000, amount 108.01") == "phone 13800138000, amount 108.01"
