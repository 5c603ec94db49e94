"""The typed answers of the order and payment services: the JSON the API gives stays what it was, and
those services reach the database only through repositories."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import flashport
from flashport.adapters.db.orders_repo import CustomsState
from flashport.api.routes import compliance, orders, payments
from flashport.services.orders import lifecycle
from flashport.services.orders.views import CheckoutView, OrderView, checkout_of, order_of
from flashport.services.payments import views as payment_views

CREATED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ORDER_ROW: dict[str, Any] = {
    "id": "7d0c5a52-0000-4000-8000-000000000001",
    "order_no": "FP2611200001",
    "buyer_id": 11,
    "event_id": 2,
    "sale_item_id": 3,
    "quantity": 2,
    "status": "paid",
    "fulfilment": "bonded",
    "goods_value_fen": 19_800,
    "freight_fen": 1_000,
    "discount_fen": 0,
    "tax_fen": 1_893,
    "total_fen": 22_693,
    "created_at": CREATED,
    "payment_deadline": CREATED + timedelta(minutes=20),
    "paid_at": CREATED + timedelta(minutes=3),
    "closed_at": None,
    "consignee_name": "王伟",
    "consignee_phone": "13800138000",
    "consignee_address": "上海市浦东新区世纪大道100号",
    "consignee_district": None,
    "buyer_name": "李娜",
    "buyer_id_masked": "1101**********0025",
    "tax_regime": "cross_border",
    "checked_out_at": CREATED + timedelta(minutes=1),
    "lines": [
        {
            "line_no": 1,
            "sale_item_id": 3,
            "sku_id": 5,
            "title": "Milk powder 900 g",
            "quantity": 2,
            "unit_price_fen": 9_900,
            "total_fen": 19_800,
            "tax_category": "general",
            "tax_base_fen": 20_800,
            "tariff_fen": 0,
            "consumption_tax_fen": 0,
            "vat_fen": 1_893,
        }
    ],
}


def _field_names(view: type) -> list[str]:
    return [f.name for f in dataclasses.fields(view)]


@pytest.mark.parametrize(
    ("view", "model"),
    [
        (OrderView, orders.OrderOut),
        (CheckoutView, compliance.CheckoutOut),
        (payment_views.PaymentView, payments.PaymentOut),
        (payment_views.StartedPayment, payments.CheckoutOut),
        (payment_views.PaymentDetail, payments.PaymentDetail),
        (payment_views.RefundView, payments.RefundOut),
        (payment_views.NotificationView, payments.NotificationOut),
    ],
)
def test_every_service_view_has_exactly_the_fields_its_api_model_answers(
    view: type, model: type[BaseModel]
) -> None:
    assert sorted(_field_names(view)) == sorted(model.model_fields)


def test_an_order_answers_the_same_json_from_its_view_as_from_the_buy_lanes_dict() -> None:
    view = order_of(ORDER_ROW, CustomsState("rejected", "identity_check_failed"))
    answered = orders.OrderOut.model_validate(view, from_attributes=True).model_dump(mode="json")
    assert answered == orders.OrderOut.model_validate(
        {
            **lifecycle.order_view(ORDER_ROW),
            "customs_status": "rejected",
            "customs_reason_code": "identity_check_failed",
        }
    ).model_dump(mode="json")
    assert answered["total"] == "226.93" and answered["lines"][0]["unit_price"] == "99.00"
    assert answered["customs_status"] == "rejected" and answered["currency"] == "CNY"
    assert answered["customs_reason_code"] == "identity_check_failed"


def test_the_buy_lanes_dict_has_the_fields_of_the_order_view() -> None:
    assert list(lifecycle.order_view(ORDER_ROW)) == _field_names(OrderView)


def test_a_checkout_view_shows_each_lines_taxes_and_the_masked_buyer() -> None:
    view = checkout_of(ORDER_ROW, ORDER_ROW["lines"])
    [line] = view.lines
    assert (line.goods_value, line.tax_base, line.vat, line.tax) == ("198.00", "208.00", "18.93", "18.93")
    assert (view.total, view.buyer.id_number, view.consignee.district) == (
        "226.93",
        "1101**********0025",
        None,
    )
    answered = compliance.CheckoutOut.model_validate(view, from_attributes=True).model_dump(mode="json")
    assert answered["buyer"] == {"name": "李娜", "id_number": "1101**********0025"}


def test_a_payment_view_never_carries_the_cipher_of_the_payers_id_number() -> None:
    row = {
        "id": 9,
        "order_no": "FP2611200001",
        "out_trade_no": "FP2611200001",
        "provider": "alipay",
        "amount_fen": 22_693,
        "status": "succeeded",
        "provider_trade_no": "2026112022001",
        "payer_name": "李娜",
        "payer_id_cipher": "sealed",
        "payer_id_masked": "1101**********0025",
        "paid_at": CREATED,
        "created_at": CREATED,
    }
    started = payment_views.started_payment_of(row, "https://pay.example/t/9")
    assert started.amount == "226.93" and started.payer_id_number == "1101**********0025"
    assert "sealed" not in repr(started) and started.redirect_url == "https://pay.example/t/9"


def test_closed_orders_owe_a_release_after_commit_only_when_the_engine_did_not_release_them() -> None:
    closed = ({"id": "a", "sale_item_id": 3, "buyer_id": 11, "quantity": 1},)
    assert lifecycle.ClosedOrders(closed, released_now=False).owed == closed
    assert lifecycle.ClosedOrders(closed, released_now=True).owed == ()
    assert lifecycle.NOTHING_CLOSED.owed == ()


SERVICES = Path(flashport.__file__).parent / "services"


@pytest.mark.parametrize(
    "module", sorted([*SERVICES.glob("orders/*.py"), *SERVICES.glob("payments/*.py")]), ids=lambda p: p.name
)
def test_the_order_and_payment_services_reach_tables_only_through_repositories(module: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert "flashport.adapters.db.schema" not in imported
    # The connection's type may be named; queries are built in adapters/db only.
    assert {name for name in imported if name.split(".")[0] == "sqlalchemy"} <= {"sqlalchemy.ext.asyncio"}
