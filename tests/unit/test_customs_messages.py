"""The customs message layer: every message kind validates against the official XSD, amounts add up,
the inventory list's signature holds and breaks when tampered with, receipts round-trip."""

# Chinese names and addresses are written with their own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from flashport.ceb import (
    AppStatus,
    AppType,
    BondedImport,
    Consignee,
    DirectImport,
    Enterprise,
    InconsistentDeclaration,
    InventoryDeclaration,
    InventoryLine,
    OrderDeclaration,
    OrderLine,
    PaymentDeclaration,
    PaymentReference,
    Person,
    Receipt,
    ReceiptKind,
    ReceiptUnreadable,
    SchemaNotFound,
    Sender,
    SignatureInvalid,
    SigningRequired,
    SoftwareKeySigner,
    WaybillDeclaration,
    check_order_amounts,
    inventory_message,
    new_guid,
    order_message,
    parse_receipt,
    parse_receipts,
    payment_message,
    receipt_message,
    validate,
    verify_signature,
    waybill_message,
)
from flashport.ceb.codes import MeasurementUnit, TradeMode, TransportMode, customs_country_code
from flashport.ceb.formatting import CHINA_STANDARD_TIME, format_yuan, is_guid

NS = {"ceb": "http://www.chinaport.gov.cn/ceb", "ds": "http://www.w3.org/2000/09/xmldsig#"}
APP_TIME = datetime(2026, 6, 18, 2, 3, 4, tzinfo=UTC)  # 10:03:04 in Beijing
PLATFORM = Enterprise("3101960ZZZ", "闪购港跨境电商平台（上海）有限公司")
SELLER = Enterprise("3101960ZZY", "闪购港国际贸易（上海）有限公司")
ALIPAY = Enterprise("31222699S7", "支付宝（中国）网络技术有限公司")
CARRIER = Enterprise("3120980105", "上海申通物流有限公司")
WAREHOUSE = Enterprise("3122480063", "上海洋山保税仓储有限公司")
BUYER = Person(name="张三", id_number="11010519491231002X", telephone="13800138000")
CONSIGNEE = Consignee("张三", "13800138000", "上海市浦东新区世纪大道100号2201室", district="310115")
SENDER = Sender(cop_code="3101960ZZZ", cop_name=PLATFORM.name, dxp_id="DXPENT0000012345")


def bonded_order() -> OrderDeclaration:
    formula = OrderLine(
        gnum=1, item_no="A2-PLAT-1-900", item_name="a2 Platinum 婴儿配方奶粉1段 900g",
        gmodel="a2牌|1段|900克/罐|乳粉、乳糖、植物油", unit=MeasurementUnit.CAN, qty=2,
        price=22900, total_price=45800, country=customs_country_code("AU"), bar_code="9421902960048",
    )  # fmt: skip
    masks = OrderLine(
        gnum=2, item_no="JP-MASK-30", item_name="肌研 玻尿酸保湿面膜 30片",
        gmodel="肌研牌|30片/盒|保湿", unit=MeasurementUnit.BOX, qty=1,
        price=8900, total_price=8900, country=customs_country_code("JP"),
    )  # fmt: skip
    # tax 9.1% of (547.00 - 10.00) = 48.867 -> 48.87
    return OrderDeclaration(
        order_no="FP20260618000123", platform=PLATFORM, seller=SELLER,
        goods_value=54700, freight=0, discount=1000, tax_total=4887, actural_paid=58587,
        buyer_reg_no="buyer-8812", buyer=BUYER, consignee=CONSIGNEE, lines=(formula, masks),
        payment=PaymentReference(ALIPAY, "2026061822001400000000012345"),
    )  # fmt: skip


def direct_order() -> OrderDeclaration:
    fish_oil = OrderLine(
        gnum=1, item_no="NM-FO-200", item_name="Nature Made 深海鱼油软胶囊 200粒",
        gmodel="Nature Made牌|1200mg×200粒/瓶|鱼油", unit=MeasurementUnit.BOTTLE, qty=2,
        price=15900, total_price=31800, country=customs_country_code("US"),
    )  # fmt: skip
    return OrderDeclaration(
        order_no="FP20260618000456", platform=PLATFORM, seller=SELLER,
        goods_value=31800, freight=3000, discount=0, tax_total=3167, actural_paid=37967,
        buyer_reg_no="buyer-8812", buyer=BUYER, consignee=CONSIGNEE, lines=(fish_oil,),
    )  # fmt: skip


HS_CODES = {"A2-PLAT-1-900": "1901101010", "JP-MASK-30": "3304990099", "NM-FO-200": "2106909090"}
LEGAL_KG = {"A2-PLAT-1-900": Decimal("0.9"), "JP-MASK-30": Decimal("0.25"), "NM-FO-200": Decimal("0.36")}


def inventory_for(order: OrderDeclaration, route: BondedImport | DirectImport) -> InventoryDeclaration:
    bonded = isinstance(route, BondedImport)
    lines = tuple(
        InventoryLine(
            gnum=line.gnum, gcode=HS_CODES[line.item_no or ""], gname=line.item_name, gmodel=line.gmodel,
            country=line.country, qty=line.qty, unit=line.unit,
            legal_qty=LEGAL_KG[line.item_no or ""] * line.qty, legal_unit=MeasurementUnit.KILOGRAM,
            price=line.price, total_price=line.total_price, item_no=line.item_no,
            item_record_no=f"REC-{line.item_no}" if bonded else None,
        )
        for line in order.lines
    )  # fmt: skip
    net = sum((line.legal_qty for line in lines), Decimal(0))
    return InventoryDeclaration(
        order_no=order.order_no, cop_no=order.order_no[-20:], platform=PLATFORM, seller=SELLER,
        logistics_company=CARRIER, logistics_no="773012345678901", assure_code=SELLER.code,
        decl_date=date(2026, 6, 18), customs_code="2249", port_code="2249" if bonded else "2233",
        buyer=BUYER, consignee_address=CONSIGNEE.address, agent=SELLER, route=route,
        country="142" if bonded else customs_country_code("US"), freight=order.freight, insured_fee=0,
        gross_weight_kg=net + Decimal("0.35"), net_weight_kg=net, lines=lines,
    )  # fmt: skip


BONDED = BondedImport(ems_no="T2249W000123", warehouse=WAREHOUSE)
DIRECT = DirectImport(traf_no="CA988", voyage_no="20260617", bill_no="999-12345675")


def payment_for(order: OrderDeclaration) -> PaymentDeclaration:
    return PaymentDeclaration(
        payment_company=ALIPAY, pay_transaction_id=f"2026061822{order.order_no[-8:]}",
        order_no=order.order_no,
        platform=PLATFORM, payer=BUYER, amount_paid=order.actural_paid,
        pay_time=datetime(2026, 6, 18, 1, 59, 30, tzinfo=UTC),
    )  # fmt: skip


def waybill_for(order: OrderDeclaration) -> WaybillDeclaration:
    return WaybillDeclaration(
        logistics_company=CARRIER, logistics_no="773012345678901", order_no=order.order_no,
        weight_kg=Decimal("2.5"), consignee=CONSIGNEE, freight=order.freight, goods_info="奶粉2罐；面膜1盒",
    )  # fmt: skip


@pytest.fixture(scope="module")
def signer() -> SoftwareKeySigner:
    return SoftwareKeySigner.generate("Flashport test declarant")


def head(message: bytes, path: str) -> dict[str, str]:
    node = etree.fromstring(message).find(path, NS)
    return {etree.QName(child).localname: child.text for child in node}


# --- every message kind validates against the official XSD ---------------------------------------


@pytest.mark.parametrize("order_of", [bonded_order, direct_order], ids=["1210", "9610"])
def test_order_payment_and_waybill_messages_validate(order_of) -> None:
    order = order_of()
    for message in (
        order_message(order, SENDER, AppType.NEW, app_time=APP_TIME),
        payment_message(payment_for(order), SENDER, app_time=APP_TIME),
        waybill_message(waybill_for(order), SENDER, AppType.CHANGE, AppStatus.SAVED, app_time=APP_TIME),
    ):
        assert validate(message) == []


@pytest.mark.parametrize(
    ("order_of", "route"), [(bonded_order, BONDED), (direct_order, DIRECT)], ids=["1210", "9610"]
)
def test_signed_inventory_message_validates(order_of, route, signer) -> None:
    message = inventory_message(inventory_for(order_of(), route), SENDER, signer=signer, app_time=APP_TIME)
    assert validate(message) == []


def test_inventory_head_carries_only_its_trade_modes_fields(signer) -> None:
    bonded = head(
        inventory_message(inventory_for(bonded_order(), BONDED), SENDER, signer=signer),
        ".//ceb:InventoryHead",
    )
    direct = head(
        inventory_message(inventory_for(direct_order(), DIRECT), SENDER, signer=signer),
        ".//ceb:InventoryHead",
    )
    assert (bonded["tradeMode"], bonded["trafMode"], bonded["emsNo"], bonded["areaCode"]) == (
        TradeMode.BONDED_IMPORT, TransportMode.BONDED_PORT_ZONE, "T2249W000123", WAREHOUSE.code,
    )  # fmt: skip
    assert not {"trafNo", "voyageNo", "billNo"} & bonded.keys()
    assert [direct[name] for name in ("tradeMode", "trafMode", "trafNo", "billNo")] == [
        "9610", "5", "CA988", "999-12345675",
    ]  # fmt: skip
    assert not {"emsNo", "areaCode", "areaName"} & direct.keys()
    assert direct["declTime"] == "20260618" and direct["country"] == "502"


def test_a_broken_message_fails_with_a_readable_error() -> None:
    root = etree.fromstring(order_message(bonded_order(), SENDER, app_time=APP_TIME))
    actural_paid = root.find(".//ceb:acturalPaid", NS)
    actural_paid.getparent().remove(actural_paid)
    assert validate(etree.tostring(root)) == [
        "/ceb:CEB311Message/ceb:Order/ceb:OrderHead/ceb:currency: Element 'ceb:currency': "
        "This element is not expected. Expected is ( ceb:acturalPaid )."
    ]
    assert validate(b"<ceb:CEB311Message")[0].startswith("not well-formed XML")


def test_an_unsigned_inventory_list_is_refused_by_builder_and_schema(signer) -> None:
    inventory = inventory_for(bonded_order(), BONDED)
    with pytest.raises(SigningRequired):
        inventory_message(inventory, SENDER, AppType.NEW, AppStatus.SAVED, signer=None)
    root = etree.fromstring(inventory_message(inventory, SENDER, signer=signer))
    root.remove(root.find("ds:Signature", NS))
    assert any("ds:Signature" in error for error in validate(etree.tostring(root)))


def test_a_missing_schema_is_an_error_not_a_pass(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLASHPORT_CEB_XSD", str(tmp_path / "nowhere.xsd"))
    with pytest.raises(SchemaNotFound, match=r"nowhere\.xsd"):
        validate(b"<x/>")


# --- content ---------------------------------------------------------------------------------------


REQUIRED_ORDER_HEAD = [
    "guid", "appType", "appTime", "appStatus", "orderType", "orderNo", "ebpCode", "ebpName", "ebcCode",
    "ebcName", "goodsValue", "freight", "discount", "taxTotal", "acturalPaid", "currency", "buyerRegNo",
    "buyerName", "buyerTelephone", "buyerIdType", "buyerIdNumber", "consignee", "consigneeTelephone",
    "consigneeAddress",
]  # fmt: skip


def test_order_head_has_the_required_fields_with_money_in_two_decimals() -> None:
    fields = head(order_message(bonded_order(), SENDER, app_time=APP_TIME), ".//ceb:OrderHead")
    assert [name for name in fields if name in REQUIRED_ORDER_HEAD] == REQUIRED_ORDER_HEAD
    expected = {
        "appType": "1", "appTime": "20260618100304", "appStatus": "2", "orderType": "I", "currency": "142",
        "goodsValue": "547.00", "freight": "0.00", "discount": "10.00", "taxTotal": "48.87",
        "acturalPaid": "585.87", "buyerIdType": "1", "buyerIdNumber": BUYER.id_number,
        "consigneeDistrict": "310115", "payTransactionId": "2026061822001400000000012345",
    }  # fmt: skip
    assert {name: fields[name] for name in expected} == expected  # appTime is China Standard Time


def test_line_total_is_price_times_quantity_and_a_wrong_one_is_refused() -> None:
    root = etree.fromstring(order_message(bonded_order(), SENDER, app_time=APP_TIME))
    for line in root.iterfind(".//ceb:OrderList", NS):
        price, qty, total = (
            Decimal(line.findtext(f"ceb:{name}", namespaces=NS)) for name in ("price", "qty", "totalPrice")
        )
        assert total == price * qty
    order = bonded_order()
    wrong_line = dataclasses.replace(order.lines[0], total_price=45000)
    with pytest.raises(InconsistentDeclaration, match=r"line 1: totalPrice 450\.00 is not price 229\.00"):
        order_message(dataclasses.replace(order, lines=(wrong_line, order.lines[1])), SENDER)


def test_check_order_amounts() -> None:
    order = bonded_order()
    assert check_order_amounts(order) == []
    assert check_order_amounts(direct_order()) == []
    assert check_order_amounts(dataclasses.replace(order, actural_paid=58687)) == [
        "acturalPaid 586.87 is not goodsValue + freight + taxTotal - discount = 585.87"
    ]
    assert check_order_amounts(dataclasses.replace(order, goods_value=54800, actural_paid=58687)) == [
        "goodsValue 548.00 is not the sum of the lines 547.00"
    ]


def test_payment_and_waybill_fields() -> None:
    order = direct_order()
    payment = head(payment_message(payment_for(order), SENDER, app_time=APP_TIME), ".//ceb:PaymentHead")
    assert (payment["amountPaid"], payment["payTime"], payment["payerIdNumber"]) == (
        "379.67",
        "20260618095930",
        BUYER.id_number,
    )
    waybill = head(waybill_message(waybill_for(order), SENDER, app_time=APP_TIME), ".//ceb:LogisticsHead")
    assert (waybill["weight"], waybill["packNo"], waybill["freight"], waybill["insuredFee"]) == (
        "2.5",
        "1",
        "30.00",
        "0.00",
    )
    assert (waybill["consignee"], waybill["consigneeTelephone"]) == (CONSIGNEE.name, CONSIGNEE.telephone)


def test_a_payment_without_the_payers_phone_leaves_the_optional_telephone_out() -> None:
    order = direct_order()
    unknown = dataclasses.replace(payment_for(order), payer=dataclasses.replace(BUYER, telephone=""))
    message = payment_message(unknown, SENDER, app_time=APP_TIME)
    assert validate(message) == []
    assert b"telephone" not in message.split(b"PaymentHead")[1]  # no empty <ceb:telephone/>
    known = payment_message(payment_for(order), SENDER, app_time=APP_TIME)
    assert head(known, ".//ceb:PaymentHead")["telephone"] == BUYER.telephone


def test_bonded_lines_need_an_account_book_record_number(signer) -> None:
    inventory = inventory_for(bonded_order(), BONDED)
    unrecorded = dataclasses.replace(inventory.lines[1], item_record_no=None)
    with pytest.raises(InconsistentDeclaration, match=r"itemRecordNo on lines \[2\]"):
        inventory_message(
            dataclasses.replace(inventory, lines=(inventory.lines[0], unrecorded)), SENDER, signer=signer
        )


def test_money_is_integer_fen_only() -> None:
    assert (format_yuan(58587), format_yuan(5), format_yuan(0)) == ("585.87", "0.05", "0.00")
    with pytest.raises(TypeError):
        format_yuan(585.87)  # type: ignore[arg-type]


def test_guids_are_36_upper_case_characters_shared_by_root_and_head() -> None:
    guid = new_guid()
    assert len(guid) == 36 and guid == guid.upper() and is_guid(guid) and new_guid() != guid
    root = etree.fromstring(order_message(bonded_order(), SENDER, guid=guid))
    assert (
        root.get("guid"),
        root.findtext(".//ceb:OrderHead/ceb:guid", namespaces=NS),
        root.get("version"),
    ) == (guid, guid, "1.0")
    with pytest.raises(ValueError, match="upper-case"):
        order_message(bonded_order(), SENDER, guid=guid.lower())


# --- signature -------------------------------------------------------------------------------------


def test_inventory_signature_verifies_and_tampering_breaks_it(signer) -> None:
    message = inventory_message(
        inventory_for(bonded_order(), BONDED), SENDER, signer=signer, app_time=APP_TIME
    )
    verify_signature(message, signer.certificate)
    root = etree.fromstring(message)
    assert etree.QName(root[-1]).localname == "Signature"  # last, where the XSD puts it
    assert root.find(".//ds:SignatureMethod", NS).get("Algorithm").endswith("rsa-sha256")

    tampered = message.replace(b"<ceb:totalPrice>458.00<", b"<ceb:totalPrice>45.80<")
    assert tampered != message
    with pytest.raises(SignatureInvalid):
        verify_signature(tampered, signer.certificate)
    with pytest.raises(SignatureInvalid):
        verify_signature(message, SoftwareKeySigner.generate("someone else").certificate)


def test_other_messages_may_be_signed_too(signer) -> None:
    message = order_message(direct_order(), SENDER, signer=signer)
    assert validate(message) == []
    verify_signature(message, signer.certificate)
    with pytest.raises(SignatureInvalid):
        verify_signature(order_message(direct_order(), SENDER), signer.certificate)


# --- receipts ---------------------------------------------------------------------------------------

RECEIPT_KEYS = {
    ReceiptKind.ORDER: {"ebpCode": PLATFORM.code, "ebcCode": SELLER.code, "orderNo": "FP20260618000123"},
    ReceiptKind.PAYMENT: {"payCode": ALIPAY.code, "payTransactionId": "2026061822001400000000012345"},
    ReceiptKind.WAYBILL: {"logisticsCode": CARRIER.code, "logisticsNo": "773012345678901"},
    ReceiptKind.INVENTORY: {
        "agentCode": SELLER.code,
        "copNo": "FP20260618000123",
        "preNo": "B20260618123456789",
    },
    ReceiptKind.DELIVERY: {
        "logisticsCode": CARRIER.code,
        "logisticsNo": "773012345678901",
        "logisticsStatus": "S",
    },
    ReceiptKind.CANCELLATION: {
        "customsCode": "2244",
        "agentCode": SELLER.code,
        "ebpCode": PLATFORM.code,
        "ebcCode": SELLER.code,
        "copNo": "FP20260618000123",
        "preNo": "B20260618123456789",
        "invtNo": "22442026I000012345",
    },
    ReceiptKind.RETURN: {
        "customsCode": "2244",
        "agentCode": SELLER.code,
        "ebpCode": PLATFORM.code,
        "ebcCode": SELLER.code,
        "copNo": "FP20260618000123",
        "preNo": "B20260618123456789",
        "invtNo": "22442026I000012345",
    },
}


@pytest.mark.parametrize("kind", list(ReceiptKind))
def test_receipts_round_trip_and_validate(kind: ReceiptKind) -> None:
    at = datetime(2026, 6, 18, 10, 5, 6, 789000, tzinfo=CHINA_STANDARD_TIME)
    receipt = Receipt(kind, new_guid(), RECEIPT_KEYS[kind], 120, at, "海关入库成功")
    message = receipt_message([receipt])
    assert validate(message) == []
    assert parse_receipt(message) == receipt
    assert b"<ceb:returnTime>20260618100506789</ceb:returnTime>" in message


def test_error_receipts_and_unreadable_ones() -> None:
    at = datetime(2026, 6, 18, 2, 0, tzinfo=UTC)
    receipts = [
        Receipt(ReceiptKind.ORDER, new_guid(), RECEIPT_KEYS[ReceiptKind.ORDER], -301010, at, "超过年度限值"),
        Receipt(ReceiptKind.ORDER, new_guid(), RECEIPT_KEYS[ReceiptKind.ORDER], 2, at, "电子口岸申报中"),
    ]
    parsed = parse_receipts(receipt_message(receipts))
    assert [r.is_error for r in parsed] == [True, False]
    assert parsed[0].return_time == at
    with pytest.raises(ReceiptUnreadable):
        parse_receipt(receipt_message(receipts))
    with pytest.raises(ReceiptUnreadable, match="not a CEB receipt"):
        parse_receipts(order_message(bonded_order(), SENDER))
    with pytest.raises(ReceiptUnreadable, match="well-formed"):
        parse_receipts(b"<ceb:CEB312Message")
