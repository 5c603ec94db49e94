"""Resident ID numbers of the People's Republic of China, as far as the sandbox checks them.

The payer's ID number travels to customs on the payment record, so the sandbox refuses one whose check
character is wrong, as a real-name payment provider would.
"""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"  # ISO 7064 MOD 11-2: remainder 0..10 -> this character
_SHAPE = re.compile(r"\d{17}[\dX]")


def check_character(first_17_digits: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first_17_digits, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def is_resident_id_number(number: str) -> bool:
    """18 characters, a real birth date in digits 7-14, and the right check character."""
    number = number.upper()
    if not _SHAPE.fullmatch(number):
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return check_character(number[:17]) == number[17]
