"""The JSON bodies the API accepts, checked against what a CEB511 can carry (the XSD's lengths).

Money is integer fen (a JSON integer, never a float); the weight is a decimal string such as
``"1.250"`` kilograms, so no binary float ever stands in for it. Anything else is refused with
:class:`~.errors.InvalidRequest`, which the API answers with 422.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
)

from flashport.ceb import Consignee, Enterprise
from flashport.ceb.codes import TradeMode
from flashport.sandbox_logistics.errors import InvalidRequest
from flashport.sandbox_logistics.faults import Fault
from flashport.sandbox_logistics.waybills import ParcelOrder

MAX_FEN = 10**12  # ten billion yuan: far beyond any parcel, far within the XSD's 19 digits


def _xml_text(value: str) -> str:
    if any(ord(char) < 0x20 and char not in "\t\n\r" for char in value):
        raise ValueError("must not contain control characters")
    return value


def _decimal_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "1.250"')
    return value


# Text of at most so many characters: the XSD's limits for the elements they become.
Code = Annotated[str, Field(min_length=1, max_length=18), AfterValidator(_xml_text)]
Telephone = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_xml_text)]
OrderNo = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(_xml_text)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_xml_text)]
LongText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_xml_text)]
Kilograms = Annotated[
    Decimal, BeforeValidator(_decimal_text), Field(gt=0, le=100_000, decimal_places=5, allow_inf_nan=False)
]
Fen = Annotated[StrictInt, Field(ge=0, le=MAX_FEN)]


Model = TypeVar("Model", bound=BaseModel)


class _Body(BaseModel):
    # No stripping: customs matches the consignee on the waybill to the order's character for character.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsigneeBody(_Body):
    name: Name
    telephone: Telephone
    address: LongText

    def consignee(self) -> Consignee:
        return Consignee(self.name, self.telephone, self.address)


class WaybillBody(_Body):
    order_no: OrderNo
    platform_code: Code
    platform_name: Name
    trade_mode: TradeMode
    consignee: ConsigneeBody
    weight_kg: Kilograms
    goods_info: LongText | None = None
    freight_fen: Fen = 0
    insured_fee_fen: Fen = 0

    def parcel_order(self) -> ParcelOrder:
        return ParcelOrder(
            order_no=self.order_no,
            platform=Enterprise(self.platform_code, self.platform_name),
            trade_mode=self.trade_mode,
            consignee=self.consignee.consignee(),
            weight_kg=self.weight_kg,
            goods_info=self.goods_info,
            freight_fen=self.freight_fen,
            insured_fee_fen=self.insured_fee_fen,
        )


class WaybillBatchBody(_Body):
    """Up to a full CEB511's worth of waybills in one request (one message carries at most 100)."""

    waybills: list[WaybillBody] = Field(min_length=1, max_length=100)


class CorrectionBody(_Body):
    consignee: ConsigneeBody | None = None
    weight_kg: Kilograms | None = None


class FaultBody(_Body):
    order_no: OrderNo
    fault: Fault | None


def parse(model: type[Model], raw: bytes, *, empty_ok: bool = False) -> Model:
    """``raw`` read as ``model``; an empty body counts as ``{}`` when ``empty_ok``."""
    try:
        data = json.loads(raw) if raw.strip() or not empty_ok else {}
    except ValueError:
        raise InvalidRequest("invalid_request", "the body must be JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("invalid_request", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest("invalid_request", _problems(exc)) from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
    )


class MilestoneBody(_Body):
    """A scan of the parcel: on its way (a hub, a flight, the delivery station) or signed for."""

    milestone: Literal["in_transit", "delivered"]
    at: AwareDatetime | None = None  # when it happened; now when absent
