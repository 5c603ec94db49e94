"""Why a single document is refused on arrival, before it is filed: customs' field verification
(字段校验) as the single window runs it on each message, apart from the three-document match.

Each refusal has a machine-readable code and the wording of a real receipt, in Chinese then English:
``returnInfo`` reads ``[code] 中文说明 / English explanation``. People are never named in it.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_DECLARED = "not_declared"  # appStatus is not 2
MISSING_FIELD = "missing_field"  # a field the trade mode requires is empty or absent
ID_TYPE_INVALID = "id_type_invalid"  # buyerIdType / payerIdType is not 1 (resident identity card)
ID_NUMBER_INVALID = "id_number_invalid"  # not 18 characters, bad region, birth date or check digit
CODE_INVALID = "code_invalid"  # a value outside its code list (trade mode, country, unit, currency...)
DUPLICATE_WAYBILL = "duplicate_waybill"  # the logistics company's waybill number is another order's
DUPLICATE_PAYMENT = "duplicate_payment"  # the payment company's transaction id is another order's
DUPLICATE_COP_NO = "duplicate_cop_no"  # the enterprise's inventory number (copNo) is another order's
CERTIFICATE_NOT_REGISTERED = "certificate_not_registered"  # signed by a key not on file for the agent

REFUSAL_CODES = (
    NOT_DECLARED,
    MISSING_FIELD,
    ID_TYPE_INVALID,
    ID_NUMBER_INVALID,
    CODE_INVALID,
    DUPLICATE_WAYBILL,
    DUPLICATE_PAYMENT,
    DUPLICATE_COP_NO,
    CERTIFICATE_NOT_REGISTERED,
)


@dataclass(frozen=True)
class Refusal:
    code: str
    chinese: str
    english: str

    @property
    def return_info(self) -> str:
        return f"[{self.code}] {self.chinese} / {self.english}"


def joined(refusals: list[Refusal]) -> str:
    """The first refusal in full, then every other one after ``; also``."""
    first, *others = refusals
    return first.return_info + "".join(f"; also {other.return_info}" for other in others)
