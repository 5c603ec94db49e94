"""The province, city and district lists of an address form, linked: each list holds the places of the
one chosen above it. The server fills them for what is chosen (so the form works without scripts:
choosing a province and sending the form brings its cities back); ``static/js/address.js`` refills
them at once from ``/divisions/<code>`` when a script runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from flashport.domain import divisions
from flashport.domain.divisions import Division


@dataclass(frozen=True)
class AddressLists:
    provinces: tuple[Division, ...]
    cities: tuple[Division, ...]
    districts: tuple[Division, ...]
    province: str  # the chosen codes, "" for none
    city: str
    district: str


def lists_for(province: str, city: str, district: str) -> AddressLists:
    """The lists for what the form had chosen. A district decides its city and province (the lists
    cannot disagree with it); otherwise each choice counts only if it lies in the one above."""
    place = divisions.place(district)
    if place is not None:
        province, city = place.province.code, place.city.code
    else:
        district = ""
        if province not in {p.code for p in divisions.provinces()}:
            province = ""
        if city not in {c.code for c in divisions.children(province)}:
            city = ""
    return AddressLists(
        provinces=divisions.provinces(),
        cities=divisions.children(province) if province else (),
        districts=divisions.children(city) if city else (),
        province=province,
        city=city,
        district=district,
    )
