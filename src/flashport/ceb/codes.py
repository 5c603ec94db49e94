"""Customs code tables the CEB import messages need.

Where each value comes from (checked on 2026-11-25; the official tables are customs' *JGS-20 customs
business code set*, which is not published as a machine-readable file):

* **XSD** - stated in the annotations of the official schema ``ceb_import_202205.xsd`` itself.
* **units** - JGS-20 measurement-unit table as reproduced in two independent public code bases: the C#
  enum ``BaseUnit`` in ryanrong95/HXT (``Needs.Chain.Customs.Services/Enums/DeclarationBase.cs``) and an
  ``ecs_cus_hg_unit`` table dump of a PHP shop; both give the same codes for every unit below.
* **countries** - JGS-20 country (region) table as reproduced in a public Java enum
  (``com.ruoyi.yz.enums.Currency``: ``JPN("116")``, ``GBR("303")``, ``CHE("331")``, ``NZL("609")``...);
  142 / 502 are also cited in a public CEB311 client's field comments. One other public SQL seed maps
  303 to France: it contradicts the full table (303 UK, 305 France) and was disregarded.
* **transport** - JGS-20 transport-mode list as reproduced in a public Java test
  (``0 非保税区 ... 5 航空运输 ... W 物流中心, X 物流园区, Y 保税港区, Z 出口加工区``); public CEB621
  builders send ``Y`` (bonded port zone) or ``8`` (bonded warehouse) for 1210 and ``5`` (air) for 9610.

Codes without a source line are marked *unverified* where they appear.
"""

# Quotations of the schema and Chinese names keep their full-width punctuation (，：；“”) on purpose.
# ruff: noqa: RUF002, RUF003

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType

from flashport.ceb.errors import CustomsMessageError

CURRENCY_CNY = "142"  # XSD: "限定为人民币，填写“142”"
ID_TYPE_RESIDENT_CARD = "1"  # XSD: "1-身份证,2-其它。限定为身份证，填写“1”"
ORDER_TYPE_IMPORT = "I"  # XSD: "电子订单类型：I进口"
IE_FLAG_IMPORT = "I"  # XSD: "I-进口,E-出口"
DXP_MODE = "DXP"  # XSD: "默认为DXP；指中国电子口岸数据交换平台"
MESSAGE_VERSION = "1.0"  # XSD: "报文版本号 默认1.0"
PACKAGES_PER_WAYBILL = 1  # XSD: packNo "限定为“1”"
CHINA = "142"  # countries; XSD: bonded import fills the inventory list's country with "142"


class TradeMode(StrEnum):
    """XSD: "直购进口填写“9610”，保税进口填写“1210”"."""

    BONDED_IMPORT = "1210"
    DIRECT_IMPORT = "9610"


class TransportMode(StrEnum):
    """``trafMode`` (transport). For 9610 the cross-border leg; for 1210 the exit from the bonded zone."""

    WATERWAY = "2"
    RAIL = "3"
    ROAD = "4"
    AIR = "5"
    MAIL = "6"
    BONDED_ZONE = "7"
    BONDED_WAREHOUSE = "8"
    OTHER = "9"
    LOGISTICS_CENTRE = "W"
    LOGISTICS_PARK = "X"
    BONDED_PORT_ZONE = "Y"
    EXPORT_PROCESSING_ZONE = "Z"


# Defaults, overridable per declaration: the right bonded code depends on the kind of zone the
# warehouse stands in (Y bonded port zone, 8 bonded warehouse, W logistics centre...).
DEFAULT_BONDED_TRANSPORT_MODE = TransportMode.BONDED_PORT_ZONE
DEFAULT_DIRECT_TRANSPORT_MODE = TransportMode.AIR


class MeasurementUnit(StrEnum):
    """``unit`` / ``unit1`` (units). The member names translate the Chinese unit names."""

    MACHINE = "001"  # 台 (machines and appliances: the first legal unit of HS 8510, 8516...)
    SET = "006"  # 套
    PIECE = "007"  # 个
    ARTICLE = "011"  # 件
    PAIR = "025"  # 双
    KILOGRAM = "035"  # 千克
    GRAM = "036"  # 克
    LITRE = "095"  # 升
    MILLILITRE = "096"  # 毫升
    CASE = "120"  # 箱
    CAN = "122"  # 罐
    PACK = "125"  # 包
    BAG = "136"  # 袋
    BOX = "140"  # 盒
    BOTTLE = "142"  # 瓶


CUSTOMS_COUNTRY_CODES: Mapping[str, str] = MappingProxyType(
    {  # ISO 3166 alpha-2 -> customs 3-digit code (countries)
        "CN": "142",
        "HK": "110",
        "JP": "116",
        "SG": "132",
        "KR": "133",
        "TH": "136",
        "BE": "301",
        "DK": "302",
        "GB": "303",
        "DE": "304",
        "FR": "305",
        "IE": "306",
        "IT": "307",
        "NL": "309",
        "ES": "312",
        "AT": "315",
        "SE": "330",
        "CH": "331",
        "CA": "501",
        "US": "502",
        "AU": "601",
        "NZ": "609",
    }
)


class UnknownCountry(CustomsMessageError):
    """The country has no entry in :data:`CUSTOMS_COUNTRY_CODES` (add it, with its source)."""


def customs_country_code(iso_alpha2: str) -> str:
    """``"JP"`` -> ``"116"``: the customs code of a country given by its ISO 3166 alpha-2 code."""
    try:
        return CUSTOMS_COUNTRY_CODES[iso_alpha2.upper()]
    except KeyError:
        raise UnknownCountry(f"no customs country code known for {iso_alpha2!r}") from None


class ReturnStatus(IntEnum):
    """``returnStatus`` of receipts, from the XSD's annotation of InventoryReturn/OrderReturn.

    Any negative number is an error receipt ("若小于0数字表示处理异常回执"); it is not listed here.
    """

    SAVED = 1  # inventory list only
    DECLARING = 2
    SENT_TO_CUSTOMS = 3
    SEND_FAILED = 4
    REJECTED = 100
    ACCEPTED_BY_CUSTOMS = 120
    MANUAL_REVIEW = 300
    CONCLUDED = 399
    INSPECTION = 500
    DETAINED_FOR_CLEARANCE = 501
    DETAINED_FOR_ANTI_SMUGGLING = 502
    DETAINED_FOR_REGULATIONS = 503
    DETAINED_OTHER = 599
    RETURNED = 700
    RELEASED = 800
    CLOSED = 899
