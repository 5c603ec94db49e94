"""Field verification of one document on arrival (pure): declared status, identity, code lists and the
fields each trade mode requires. The XSD has already checked shapes and lengths; these are the rules
the schema cannot say (a required element may still be empty, a code may be well formed and unknown).

Code lists are the simulator's own copies of customs' parameter tables, limited to what Flashport's
codec emits plus their neighbours: a value outside them is refused as the single window refuses it.
"""

# Receipts are worded like customs' own, with Chinese full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from flashport.ceb.codes import CUSTOMS_COUNTRY_CODES, MeasurementUnit, TransportMode
from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.refusals import (
    CODE_INVALID,
    ID_NUMBER_INVALID,
    ID_TYPE_INVALID,
    MISSING_FIELD,
    NOT_DECLARED,
    Refusal,
)

BONDED_TRADE_MODES = frozenset({"1210", "1239"})  # 保税跨境贸易电子商务 (1239: bonded, type A zones)
DIRECT_TRADE_MODE = "9610"  # 跨境贸易电子商务 (direct purchase)
TRADE_MODES = BONDED_TRADE_MODES | {DIRECT_TRADE_MODE}
COUNTRIES = frozenset(CUSTOMS_COUNTRY_CODES.values())
UNITS = frozenset(unit.value for unit in MeasurementUnit)
TRANSPORT_MODES = frozenset(mode.value for mode in TransportMode)
CURRENCIES = frozenset({"142"})  # retail import is declared in renminbi only
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
# GB/T 2260 province-level codes: the first two digits of every resident ID number.
_PROVINCE_LIST = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82"
)
PROVINCES = frozenset(_PROVINCE_LIST.split(" "))

# Per trade mode, what the inventory head must carry beyond the common fields (XSD notes: "保税进口
# 必填" for emsNo/areaCode/areaName, "直购进口必填" for trafNo/voyageNo/billNo).
BONDED_HEAD = ("emsNo", "areaCode", "areaName")
DIRECT_HEAD = ("trafNo", "voyageNo", "billNo")
BONDED_LINE = ("itemRecordNo",)
# Fields the match and the tax rely on that the XSD lets through empty.
REQUIRED_HEAD: Mapping[DocumentKind, tuple[str, ...]] = {
    DocumentKind.ORDER: ("orderNo", "ebpCode", "ebcCode", "buyerName", "buyerIdNumber", "buyerTelephone",
                         "consignee", "consigneeTelephone", "consigneeAddress"),
    DocumentKind.PAYMENT: ("payCode", "payTransactionId", "orderNo", "ebpCode", "payerName", "payerIdNumber"),
    DocumentKind.WAYBILL: ("logisticsCode", "logisticsNo", "orderNo", "consignee", "consigneeTelephone",
                           "consigneeAddress"),
    DocumentKind.INVENTORY: ("orderNo", "ebpCode", "ebcCode", "copNo", "logisticsNo", "logisticsCode",
                             "assureCode", "customsCode", "portCode", "agentCode", "buyerName",
                             "buyerIdNumber", "buyerTelephone", "consigneeAddress"),
}  # fmt: skip
REQUIRED_LINE: Mapping[DocumentKind, tuple[str, ...]] = {
    DocumentKind.ORDER: ("itemName", "gmodel"),
    DocumentKind.INVENTORY: ("gcode", "gname", "gmodel"),
}
_HS_CODE = re.compile(r"\d{10}")
_ID_NUMBER = re.compile(r"\d{17}[\dX]")


def verify(kind: DocumentKind, head: Mapping[str, str], lines: Sequence[Mapping[str, str]]) -> list[Refusal]:
    """Every reason to refuse the document, most basic first; empty when it passes."""
    found = _declared(head)
    found += _required(kind, head, lines)
    found += _identity(kind, head)
    found += _codes(kind, head, lines)
    return found


def check_digit(first_17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character of the first 17 digits."""
    return ID_CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first_17, ID_WEIGHTS, strict=True)) % 11]


def id_number_problem(number: str) -> str | None:
    """Why ``number`` is not a valid 18-digit resident ID number, in English, or None."""
    if not _ID_NUMBER.fullmatch(number):
        return "it is not 17 digits and a check character"
    if number[:2] not in PROVINCES:
        return "its region code is not a registered region"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "digits 7 to 14 are not a birth date"
    if born.year < 1900 or born > date.today():
        return "digits 7 to 14 are not a plausible birth date"
    if check_digit(number[:17]) != number[17]:
        return "its check digit is wrong (GB 11643)"
    return None


def _declared(head: Mapping[str, str]) -> list[Refusal]:
    status = head.get("appStatus", "")
    if status == "2":
        return []
    return [
        Refusal(
            NOT_DECLARED,
            f"业务状态appStatus为{status or '空'}，只接收2-已申报",
            f"appStatus {status or '(empty)'} is not 2 (declared); 1 means saved and not declared",
        )
    ]


def _missing(fields: Sequence[str], values: Mapping[str, str], where: str) -> list[str]:
    return [f"{where}{name}" for name in fields if not values.get(name)]


def _required(
    kind: DocumentKind, head: Mapping[str, str], lines: Sequence[Mapping[str, str]]
) -> list[Refusal]:
    missing = _missing(REQUIRED_HEAD[kind], head, "")
    for n, line in enumerate(lines, start=1):
        missing += _missing(REQUIRED_LINE.get(kind, ()), line, f"line {n} ")
    if kind is DocumentKind.INVENTORY:
        mode = head.get("tradeMode", "")
        if mode in BONDED_TRADE_MODES:
            missing += _missing(BONDED_HEAD, head, "")
            for n, line in enumerate(lines, start=1):
                missing += _missing(BONDED_LINE, line, f"line {n} ")
        elif mode == DIRECT_TRADE_MODE:
            missing += _missing(DIRECT_HEAD, head, "")
    if not missing:
        return []
    names = ", ".join(missing)
    mode = f" (tradeMode {head['tradeMode']})" if head.get("tradeMode") else ""
    return [Refusal(MISSING_FIELD, f"必填项为空：{names}", f"required fields are empty{mode}: {names}")]


def _identity(kind: DocumentKind, head: Mapping[str, str]) -> list[Refusal]:
    prefix = "payer" if kind is DocumentKind.PAYMENT else "buyer"
    if kind is DocumentKind.WAYBILL:
        return []
    found = []
    id_type = head.get(f"{prefix}IdType", "")
    if id_type != "1":
        found.append(
            Refusal(
                ID_TYPE_INVALID,
                f"{prefix}IdType证件类型为{id_type or '空'}，跨境零售进口只接受1-身份证",
                f"{prefix}IdType {id_type or '(empty)'} is not 1: only the resident identity card counts",
            )
        )
    number = head.get(f"{prefix}IdNumber", "")
    problem = id_number_problem(number) if number else None
    if problem is not None:
        found.append(
            Refusal(ID_NUMBER_INVALID, f"{prefix}IdNumber身份证号码不合法", f"{prefix}IdNumber: {problem}")
        )
    return found


def _code_refusal(field: str, value: str) -> Refusal:
    return Refusal(
        CODE_INVALID,
        f"{field}代码{value or '空'}不在参数表中",
        f"{field} {value or '(empty)'} is not in its code list",
    )


def _codes(kind: DocumentKind, head: Mapping[str, str], lines: Sequence[Mapping[str, str]]) -> list[Refusal]:
    rules: list[tuple[str, str, frozenset[str]]] = [("currency", head.get("currency", ""), CURRENCIES)]
    if kind is DocumentKind.ORDER:
        rules.append(("orderType", head.get("orderType", ""), frozenset({"I"})))
    if kind is DocumentKind.INVENTORY:
        rules += [
            ("ieFlag", head.get("ieFlag", ""), frozenset({"I"})),
            ("tradeMode", head.get("tradeMode", ""), TRADE_MODES),
            ("trafMode", head.get("trafMode", ""), TRANSPORT_MODES),
            ("country", head.get("country", ""), COUNTRIES),
        ]
    for n, line in enumerate(lines, start=1):
        rules += [(f"line {n} country", line.get("country", ""), COUNTRIES)]
        rules += [(f"line {n} currency", line.get("currency", ""), CURRENCIES)]
        if kind is DocumentKind.ORDER:
            rules.append((f"line {n} unit", line.get("unit", ""), UNITS))
        if kind is DocumentKind.INVENTORY:
            rules += [(f"line {n} unit", line.get("unit", ""), UNITS)]
            rules += [(f"line {n} unit1", line.get("unit1", ""), UNITS)]
            if line.get("unit2"):
                rules.append((f"line {n} unit2", line["unit2"], UNITS))
    found = [_code_refusal(field, value) for field, value, allowed in rules if value not in allowed]
    if kind is DocumentKind.INVENTORY:
        found += [
            _code_refusal(f"line {n} gcode", line.get("gcode", ""))
            for n, line in enumerate(lines, start=1)
            if not _HS_CODE.fullmatch(line.get("gcode", ""))
        ]
    return found
