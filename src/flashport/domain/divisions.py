"""The administrative divisions of mainland China: province, city and district, each with its code.

The storefront's address lists offer them level by level, so a buyer never types a code; an address
keeps only its district's six-digit code, from which the province and city follow. The data is the
edition shipped in ``data/`` (see ``data/DIVISIONS.md`` for its source and edition).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

EDITION_FILE = "divisions_2023.json"
# City-level names that are not places of their own (the districts of a municipality): left out of a
# written address, as Chinese addresses are written ("北京市东城区", not "北京市市辖区东城区").
_NOT_A_PLACE = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True)
class Division:
    code: str
    name: str


@dataclass(frozen=True)
class Place:
    """A district with the city and province it belongs to."""

    province: Division
    city: Division
    district: Division

    @property
    def written(self) -> str:
        """The place as it heads a Chinese address: ``浙江省杭州市西湖区``."""
        parts = [self.province.name, self.city.name, self.district.name]
        if self.city.name in _NOT_A_PLACE or self.city.name == self.province.name:
            parts.pop(1)
        if self.district.name == self.city.name:  # a city without districts (东莞市)
            parts.pop()
        return "".join(parts)


@dataclass(frozen=True)
class _Tables:
    edition: str
    provinces: tuple[Division, ...]
    children: dict[str, tuple[Division, ...]]  # a province's cities, a city's districts
    places: dict[str, Place]  # by district code


@cache
def _tables() -> _Tables:
    raw = json.loads(resources.files("flashport.domain").joinpath("data", EDITION_FILE).read_text("utf-8"))
    provinces: list[Division] = []
    children: dict[str, tuple[Division, ...]] = {}
    places: dict[str, Place] = {}
    for p_code, p_name, cities in raw["divisions"]:
        province = Division(p_code, p_name)
        provinces.append(province)
        city_list: list[Division] = []
        for c_code, c_name, districts in cities:
            city = Division(c_code, c_name)
            city_list.append(city)
            district_list = [Division(d_code, d_name) for d_code, d_name in districts]
            children[c_code] = tuple(district_list)
            for district in district_list:
                places[district.code] = Place(province, city, district)
        children[p_code] = tuple(city_list)
    return _Tables(raw["edition"], tuple(provinces), children, places)


def edition() -> str:
    return _tables().edition


def provinces() -> tuple[Division, ...]:
    return _tables().provinces


def children(code: str) -> tuple[Division, ...]:
    """A province's cities or a city's districts; nothing for an unknown code or a district."""
    return _tables().children.get(code, ())


def place(district_code: str) -> Place | None:
    """The district of this code with its city and province, or None if this edition has no such
    district (a province or city code is not a district)."""
    return _tables().places.get(district_code)


def is_district(code: str) -> bool:
    return code in _tables().places
