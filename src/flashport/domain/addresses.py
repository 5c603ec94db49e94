"""A buyer's saved delivery addresses: who receives the parcel, a mainland mobile number, the district
(by its administrative division code, from :mod:`flashport.domain.divisions`) and the street.

The checks are the consignee's (:func:`flashport.domain.identity.check_consignee`), so a saved address
is always one a checkout accepts; the district must be a district of the shipped edition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flashport.domain import divisions
from flashport.domain.errors import Conflict, FieldProblem, InvalidInput
from flashport.domain.identity import Consignee, check_consignee

MAX_ADDRESSES = 20  # per buyer: enough for family and office, few enough to choose from
STREET_MAX = 120  # the street part; the whole address (with the place) stays within the consignee's limit


@dataclass(frozen=True)
class AddressDraft:
    name: str
    phone: str
    district_code: str
    street: str


@dataclass(frozen=True)
class SavedAddress:
    id: int
    buyer_id: int
    name: str
    phone: str
    district_code: str
    street: str
    created_at: datetime

    @property
    def place(self) -> divisions.Place | None:
        return divisions.place(self.district_code)

    @property
    def written(self) -> str:
        """The whole address as a courier reads it: ``浙江省杭州市西湖区 文三路 90 号``."""
        found = self.place
        return f"{found.written} {self.street}" if found else self.street

    def consignee(self) -> Consignee:
        """The address as checkout's consignee (checked again: the edition may have changed)."""
        return check_consignee(self.name, self.phone, self.written, self.district_code)


def check_district(code: str, *, field: str = "consignee_district") -> str:
    code = code.strip()
    if not divisions.is_district(code):
        hint = "choose the province, city and district from the lists"
        raise InvalidInput(f"district: {hint}", code="invalid_district", details=[FieldProblem(field, hint)])
    return code


def check_address(name: str, phone: str, district_code: str, street: str) -> AddressDraft:
    """A new address, checked as checkout will check it."""
    district = check_district(district_code)
    if not 1 <= len(" ".join(street.split())) <= STREET_MAX:
        hint = f"1 to {STREET_MAX} characters"
        raise InvalidInput(
            f"street: {hint}", code="invalid_address", details=[FieldProblem("consignee_address", hint)]
        )
    place = divisions.place(district)
    written = f"{place.written} {street}" if place else street
    consignee = check_consignee(name, phone, written, district)
    return AddressDraft(consignee.name, consignee.phone, district, " ".join(street.split()))


def check_room(saved: int) -> None:
    if saved >= MAX_ADDRESSES:
        raise Conflict(f"a buyer may keep at most {MAX_ADDRESSES} addresses", code="address_limit")
