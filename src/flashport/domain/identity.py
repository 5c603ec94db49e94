"""Real-name identity (docs/architecture.md, "The business"): the buyer on a cross-border order is a
real person, named, with an 18-character resident ID number; the parcel goes to a consignee customs can
match with the waybill.

The ID number (GB 11643) is 6 digits of region, 8 digits of birth date (YYYYMMDD), 3 digits of sequence
and one check character: ISO 7064 MOD 11-2 over the first 17 digits. Error messages never repeat the
number: it is personal data and messages end up in logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass
from datetime import date

from flashport.domain.customs_text import check_carriable, trimmed_carriable
from flashport.domain.errors import FieldProblem, InvalidInput

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"  # indexed by the weighted sum modulo 11
ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
EARLIEST_BIRTH = date(1900, 1, 1)

NAME_MIN, NAME_MAX = 2, 30
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f"
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
NAME_SHAPE = re.compile(f"[{_CJK}{_LATIN}]([{_CJK}{_LATIN}· ]*[{_CJK}{_LATIN}])?")
# Minority and foreign names are written with a middle dot; phones offer several look-alikes.
_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", "⋅": "·"})

MOBILE = re.compile(r"1[3-9][0-9]{9}")
DISTRICT = re.compile(r"[0-9]{6}")  # the statistics bureau's administrative division code
ADDRESS_MAX = 200  # consigneeAddress in the customs schema (the address after its whitespace is folded)


@dataclass(frozen=True)
class RealName:
    name: str
    id_number: str  # normalised: upper-case X


@dataclass(frozen=True)
class Consignee:
    name: str
    phone: str
    address: str
    district: str | None


def id_check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def normalise_id_number(
    raw: str, today: date, *, field: str = "id_number", regions: Container[str] | None = None
) -> str:
    """The number as stored: full-width digits folded to ASCII, ``x`` upper-cased. ``today`` is the
    date in China (a birth date later than that is impossible). With ``regions`` (the administrative
    division codes, current and abolished), the first six digits must be one of them."""
    number = unicodedata.normalize("NFKC", raw).strip().upper()
    if not ID_SHAPE.fullmatch(number):
        raise _bad(field, "invalid_id_number", "an ID number is 17 digits and a check digit or X")
    if id_check_character(number[:17]) != number[17]:
        raise _bad(field, "id_check_digit_mismatch", "the check digit does not match; is a digit mistyped?")
    if regions is not None and number[:6] not in regions:
        hint = "the first six digits are not an administrative division code; is a digit mistyped?"
        raise _bad(field, "id_region_unknown", hint)
    born = _birth_date(number[6:14])
    if born is None or not EARLIEST_BIRTH <= born <= today:
        raise _bad(field, "id_birth_date_invalid", "digits 7 to 14 are not a possible birth date")
    return number


def _birth_date(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def normalise_person_name(raw: str, *, field: str = "name") -> str:
    """2 to 30 characters: Chinese or Latin letters, middle dots and single spaces between them.

    A name is declared to customs (buyerName, consignee); a control character or a line break in it is
    refused with its own code, ``invalid_characters``, before the shape is looked at."""
    name = plain_name(trimmed_carriable(raw, field=field))
    if not NAME_MIN <= len(name) <= NAME_MAX or not NAME_SHAPE.fullmatch(name):
        raise _bad(
            field,
            "invalid_name",
            f"{NAME_MIN} to {NAME_MAX} Chinese or Latin letters, with · or spaces between parts",
        )
    return name


def plain_name(raw: str) -> str:
    """A name with width, middle-dot look-alikes and runs of spaces folded: what two spellings of the
    same name have in common."""
    return " ".join(unicodedata.normalize("NFKC", raw).translate(_DOTS).split())


def check_real_name(
    name: str, id_number: str, today: date, *, regions: Container[str] | None = None
) -> RealName:
    return RealName(normalise_person_name(name), normalise_id_number(id_number, today, regions=regions))


def declared_form(name: str) -> str:
    """A name exactly as it is declared and as customs compares it: NFC-normalised and trimmed, and
    nothing more (no case folding: "JOHN SMITH" is not "John Smith" to customs)."""
    return unicodedata.normalize("NFC", name).strip()


def same_declared_name(first: str, second: str) -> bool:
    return declared_form(first) == declared_form(second)


def check_consignee(name: str, phone: str, address: str, district: str | None) -> Consignee:
    """Who receives the parcel; customs matches these fields with the waybill, so they are kept as
    the buyer typed them apart from whitespace.

    Every field goes into the customs messages, so characters XML cannot carry and control characters
    are refused (``invalid_characters``). The address is typed in a multi-line box (browsers fill a
    street address over several lines), so its line breaks and tabs are folded to single spaces, as
    all its whitespace is; in the phone and the district they are refused."""
    number = check_mobile(phone, field="consignee_phone")
    place = " ".join(check_carriable(address, field="consignee_address", multiline=True).split())
    if not 1 <= len(place) <= ADDRESS_MAX:
        raise _bad("consignee_address", "invalid_address", f"1 to {ADDRESS_MAX} characters")
    area = trimmed_carriable(district or "", field="consignee_district") or None
    if area is not None and not DISTRICT.fullmatch(area):
        raise _bad("consignee_district", "invalid_district", "a 6-digit administrative division code")
    return Consignee(normalise_person_name(name, field="consignee_name"), number, place, area)


def check_mobile(phone: str, *, field: str) -> str:
    """A mainland mobile number, spaces, dashes and a +86 prefix removed."""
    number = re.sub(r"[\s-]", "", trimmed_carriable(phone, field=field))
    number = number.removeprefix("+86") if len(number) == 14 else number
    if not MOBILE.fullmatch(number):
        raise _bad(field, "invalid_phone", "a mainland mobile number: 11 digits starting 13-19")
    return number


def buyer_phone(identity_name: str, identity_phone: str | None, consignee: Consignee) -> str:
    """The buyer's own phone as declared (buyerTelephone): the identity's; or, when the buyer ships
    to themselves, the phone they gave as consignee. Otherwise nobody's phone is known to be the
    buyer's, and customs would be told someone else's: refused (``buyer_phone_required``)."""
    if identity_phone:
        return identity_phone
    if same_declared_name(identity_name, consignee.name):
        return consignee.phone
    hint = "add the buyer's own mobile number to the identity, or ship to the buyer"
    raise _bad("identity_phone", "buyer_phone_required", hint)


def _bad(field: str, code: str, hint: str) -> InvalidInput:
    return InvalidInput(f"{field.replace('_', ' ')}: {hint}", code=code, details=[FieldProblem(field, hint)])
