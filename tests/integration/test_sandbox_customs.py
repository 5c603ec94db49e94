"""The customs simulator over its HTTP binding, fed real CEB messages from the platform (311, 621), the
payment company (411) and the logistics company (511): receipts land in each sender's inbox, the
three-document match releases once whatever the order of arrival, and every refusal says why."""

# Chinese company names are written with their own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from starlette.applications import Starlette

from flashport.adapters.customs.gateway import CustomsRefused, HttpCustomsGateway
from flashport.ceb import (
    AppType,
    BondedImport,
    Consignee,
    Enterprise,
    InventoryDeclaration,
    InventoryLine,
    OrderDeclaration,
    OrderLine,
    PaymentDeclaration,
    PaymentReference,
    Person,
    Receipt,
    ReceiptKind,
    Sender,
    SoftwareKeySigner,
    WaybillDeclaration,
    inventory_message,
    order_message,
    parse_receipt,
    payment_message,
    validate,
    waybill_message,
)
from flashport.ceb.codes import MeasurementUnit, customs_country_code
from flashport.sandbox_customs import CustomsSimSettings, create_customs_app, reasons

APP_TIME = datetime(2026, 6, 18, 2, 3, 4, tzinfo=UTC)
PLATFORM = Enterprise("3101960ZZZ", "闪购港跨境电商平台（上海）有限公司")
SELLER = Enterprise("3101960ZZY", "闪购港国际贸易（上海）有限公司")
ALIPAY = Enterprise("31222699S7", "支付宝（中国）网络技术有限公司")
CARRIER = Enterprise("3120980105", "上海申通物流有限公司")
WAREHOUSE = Enterprise("3122480063", "上海洋山保税仓储有限公司")
BUYER = Person(name="张三", id_number="11010519491231002X", telephone="13800138000")
LI_NA = Person(name="李娜", id_number="110105199003070025", telephone="13900139000")
CONSIGNEE = Consignee("张三", "13800138000", "上海市浦东新区世纪大道100号2201室", district="310115")
BONDED = BondedImport(ems_no="T2249W000123", warehouse=WAREHOUSE)

PLATFORM_DXP, PAYMENT_DXP, CARRIER_DXP = "DXPENT0000000001", "DXPPAY0000000002", "DXPLOG0000000003"
PLATFORM_SENDER = Sender(PLATFORM.code, PLATFORM.name, PLATFORM_DXP)
PAYMENT_SENDER = Sender(ALIPAY.code, ALIPAY.name, PAYMENT_DXP)
CARRIER_SENDER = Sender(CARRIER.code, CARRIER.name, CARRIER_DXP)
HS_CODES = {"A2-PLAT-1-900": "1901101010", "JP-MASK-30": "3304990099", "WATCH-1": "9102120000"}
LEGAL_KG = {"A2-PLAT-1-900": Decimal("0.9"), "JP-MASK-30": Decimal("0.25"), "WATCH-1": Decimal("0.1")}


def bonded_order(order_no: str) -> OrderDeclaration:
    formula = OrderLine(
        gnum=1, item_no="A2-PLAT-1-900", item_name="a2 Platinum 婴儿配方奶粉1段 900g",
        gmodel="a2牌|1段|900克/罐|乳粉、乳糖、植物油", unit=MeasurementUnit.CAN, qty=2,
        price=22900, total_price=45800, country=customs_country_code("AU"),
    )  # fmt: skip
    masks = OrderLine(
        gnum=2, item_no="JP-MASK-30", item_name="肌研 玻尿酸保湿面膜 30片", gmodel="肌研牌|30片/盒|保湿",
        unit=MeasurementUnit.BOX, qty=1, price=8900, total_price=8900, country=customs_country_code("JP"),
    )  # fmt: skip
    return OrderDeclaration(
        order_no=order_no, platform=PLATFORM, seller=SELLER,
        goods_value=54700, freight=0, discount=1000, tax_total=4978, actural_paid=58678,
        buyer_reg_no="buyer-8812", buyer=BUYER, consignee=CONSIGNEE, lines=(formula, masks),
        payment=PaymentReference(ALIPAY, f"20260618220014{order_no[-12:]}"),
    )  # fmt: skip


def watch_order(order_no: str, price: int, qty: int = 1) -> OrderDeclaration:
    """Goods only, no tax or freight: acturalPaid = goodsValue = price x qty."""
    watch = OrderLine(
        gnum=1, item_no="WATCH-1", item_name="机械腕表", gmodel="表牌|自动机械|钢",
        unit=MeasurementUnit.PIECE, qty=qty, price=price, total_price=price * qty,
        country=customs_country_code("CH"),
    )  # fmt: skip
    return dataclasses.replace(
        bonded_order(order_no), goods_value=price * qty, discount=0, tax_total=0, actural_paid=price * qty,
        lines=(watch,),
    )  # fmt: skip


def inventory_for(order: OrderDeclaration) -> InventoryDeclaration:
    lines = tuple(
        InventoryLine(
            gnum=line.gnum, gcode=HS_CODES[line.item_no or ""], gname=line.item_name, gmodel=line.gmodel,
            country=line.country, qty=line.qty, unit=line.unit,
            legal_qty=LEGAL_KG[line.item_no or ""] * line.qty, legal_unit=MeasurementUnit.KILOGRAM,
            price=line.price, total_price=line.total_price, item_no=line.item_no,
            item_record_no=f"REC-{line.item_no}",
        )
        for line in order.lines
    )  # fmt: skip
    net = sum((line.legal_qty for line in lines), Decimal(0))
    return InventoryDeclaration(
        order_no=order.order_no, cop_no=order.order_no[-20:], platform=PLATFORM, seller=SELLER,
        logistics_company=CARRIER, logistics_no=f"7730{order.order_no[-11:]}", assure_code=SELLER.code,
        decl_date=date(2026, 6, 18), customs_code="2249", port_code="2249", buyer=order.buyer,
        consignee_address=CONSIGNEE.address, agent=SELLER, route=BONDED, freight=order.freight,
        insured_fee=0, gross_weight_kg=net + Decimal("0.35"), net_weight_kg=net, lines=lines,
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Documents:
    """The four declarations of one order, as its three senders would make them."""

    order: OrderDeclaration
    payment: PaymentDeclaration
    waybill: WaybillDeclaration
    inventory: InventoryDeclaration

    @classmethod
    def of(cls, order: OrderDeclaration) -> Documents:
        payment = PaymentDeclaration(
            payment_company=ALIPAY, pay_transaction_id=order.payment.transaction_id if order.payment else "",
            order_no=order.order_no, platform=PLATFORM, payer=order.buyer, amount_paid=order.actural_paid,
            pay_time=APP_TIME,
        )  # fmt: skip
        inventory = inventory_for(order)
        waybill = WaybillDeclaration(
            logistics_company=CARRIER, logistics_no=inventory.logistics_no, order_no=order.order_no,
            weight_kg=Decimal("2.5"), consignee=CONSIGNEE,
        )  # fmt: skip
        return cls(order, payment, waybill, inventory)

    def messages(self, signer: SoftwareKeySigner, app_type: AppType = AppType.NEW) -> dict[str, bytes]:
        return {
            "order": order_message(self.order, PLATFORM_SENDER, app_type, app_time=APP_TIME),
            "payment": payment_message(self.payment, PAYMENT_SENDER, app_type, app_time=APP_TIME),
            "waybill": waybill_message(self.waybill, CARRIER_SENDER, app_type, app_time=APP_TIME),
            "inventory": inventory_message(self.inventory, PLATFORM_SENDER, app_type, signer=signer),
        }


@pytest.fixture(scope="module")
def signer() -> SoftwareKeySigner:
    return SoftwareKeySigner.generate("Flashport test declarant")


def certificate_file(data_dir: Path, signer: SoftwareKeySigner) -> Path:
    path = data_dir / f"declarant-{signer.certificate.serial_number:x}.pem"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    return path


def customs_app(data_dir: Path, signer: SoftwareKeySigner | None = None, **settings: int | bool) -> Starlette:
    """The simulator, with ``signer``'s certificate registered to the declaring agent (SELLER)."""
    registered = [f"platform:{SELLER.code}:{certificate_file(data_dir, signer)}"] if signer else []
    return create_customs_app(CustomsSimSettings(data_dir=data_dir, certificates=registered, **settings))


@pytest.fixture
async def customs_sim(tmp_path: Path, signer: SoftwareKeySigner) -> AsyncIterator[Starlette]:
    app = customs_app(tmp_path, signer)
    async with app.router.lifespan_context(app):
        yield app


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` inside its lifespan."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://c") as client,
    ):
        yield client


@pytest.fixture
async def customs(customs_sim: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=customs_sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://customs.test") as client:
        yield client


async def send(customs: httpx.AsyncClient, *messages: bytes) -> None:
    for message in messages:
        answer = await customs.post(
            "/dxp/messages", content=message, headers={"content-type": "application/xml"}
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["kind"] == etree.QName(etree.fromstring(message)).localname[:6]


async def inbox(customs: httpx.AsyncClient, dxp_id: str) -> list[Receipt]:
    """The receipts in the inbox (the tax bill family, CEB816/818, left out: see ``tax_mail``)."""
    answer = await customs.get(f"/dxp/inbox/{dxp_id}", params={"after": 0, "limit": 500})
    assert answer.status_code == 200
    items = answer.json()["items"]
    return [parse_receipt(item["message"].encode()) for item in items if item["kind"] not in TAX_KINDS]


TAX_KINDS = ("CEB816", "CEB818")


def statuses(receipts: list[Receipt]) -> list[tuple[str, int]]:
    return [(receipt.kind.value, receipt.return_status) for receipt in receipts]


async def declaration(customs: httpx.AsyncClient, order_no: str) -> dict:
    answer = await customs.get(f"/declarations/{order_no}")
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- release ----------------------------------------------------------------------------------------


async def test_agreeing_documents_are_released_with_receipts_in_each_senders_inbox(customs, signer) -> None:
    documents = Documents.of(bonded_order("FP20260618000101"))
    messages = documents.messages(signer)
    await send(customs, *messages.values())

    platform = await inbox(customs, PLATFORM_DXP)
    assert statuses(platform) == [("CEB312", 120), ("CEB622", 2), ("CEB622", 120), ("CEB622", 800)]
    assert statuses(await inbox(customs, PAYMENT_DXP)) == [("CEB412", 120)]
    assert statuses(await inbox(customs, CARRIER_DXP)) == [("CEB512", 120)]
    matched, released = platform[2], platform[3]
    assert "three-document match succeeded" in matched.return_info and released.return_info == "released"
    head_guid = etree.fromstring(messages["inventory"]).findtext(".//{*}InventoryHead/{*}guid")
    assert released.guid == head_guid
    assert released.business_keys["copNo"] == "FP20260618000101"
    assert len(released.business_keys["preNo"]) == len(released.business_keys["invtNo"]) == 18

    answer = await customs.get(f"/dxp/inbox/{PLATFORM_DXP}", params={"limit": 500})
    for item in answer.json()["items"]:
        assert validate(item["message"].encode()) == []  # the simulator's receipts follow the XSD too
    view = await declaration(customs, "FP20260618000101")
    assert (view["state"], view["reason_code"], view["invt_no"]) == (
        "released",
        None,
        released.business_keys["invtNo"],
    )
    assert {kind: doc["sender"] for kind, doc in view["documents"].items()} == {
        "CEB311": PLATFORM_DXP, "CEB411": PAYMENT_DXP, "CEB511": CARRIER_DXP, "CEB621": PLATFORM_DXP,
    }  # fmt: skip
    assert [(r["kind"], r["return_status"]) for r in view["receipts"]] == [
        ("CEB312", 120), ("CEB412", 120), ("CEB512", 120), ("CEB622", 2), ("CEB622", 120), ("CEB622", 800),
        ("CEB816", 0),  # the tax bill: no returnStatus of its own
    ]  # fmt: skip


@pytest.mark.parametrize(
    "arrival",
    [
        ("inventory", "waybill", "payment", "order"),
        ("payment", "inventory", "order", "waybill"),
        ("waybill", "order", "inventory", "payment"),
    ],
    ids=lambda names: "-".join(names),
)
async def test_documents_in_any_order_release_once(customs, signer, arrival: tuple[str, ...]) -> None:
    messages = Documents.of(bonded_order("FP20260618000102")).messages(signer)
    for name in arrival[:-1]:
        await send(customs, messages[name])
    if arrival.index("inventory") < 3:
        assert (await declaration(customs, "FP20260618000102"))["state"] == "waiting"
    await send(customs, messages[arrival[-1]])
    verdicts = [r for r in await inbox(customs, PLATFORM_DXP) if r.kind is ReceiptKind.INVENTORY]
    assert statuses(verdicts) == [("CEB622", 2), ("CEB622", 120), ("CEB622", 800)]


async def test_documents_of_many_orders_arriving_concurrently_release_each_order_exactly_once(
    customs, signer
) -> None:
    order_numbers = [f"FP20260618000{n:03d}" for n in range(200, 206)]
    messages = [m for n in order_numbers for m in Documents.of(bonded_order(n)).messages(signer).values()]
    random.Random(7).shuffle(messages)
    await asyncio.gather(*(send(customs, message) for message in messages))

    verdicts = [r for r in await inbox(customs, PLATFORM_DXP) if r.kind is ReceiptKind.INVENTORY]
    releases = Counter(r.business_keys["copNo"] for r in verdicts if r.return_status == 800)
    matches = Counter(r.business_keys["copNo"] for r in verdicts if r.return_status == 120)
    assert releases == matches == Counter(order_numbers)
    listed = (await customs.get("/declarations", params={"state": "released"})).json()["declarations"]
    assert sorted(d["order_no"] for d in listed) == order_numbers


# --- rejections -------------------------------------------------------------------------------------

Change = Callable[[Documents], Documents]


def _payment(**changes: object) -> Change:
    return lambda d: dataclasses.replace(d, payment=dataclasses.replace(d.payment, **changes))


def _waybill(**changes: object) -> Change:
    return lambda d: dataclasses.replace(d, waybill=dataclasses.replace(d.waybill, **changes))


def _inventory(**changes: object) -> Change:
    return lambda d: dataclasses.replace(d, inventory=dataclasses.replace(d.inventory, **changes))


def _repriced_masks(d: Documents) -> Documents:
    masks = dataclasses.replace(d.inventory.lines[1], price=8800, total_price=8800)
    return _inventory(lines=(d.inventory.lines[0], masks))(d)


MISMATCHES: list[tuple[str, Change]] = [
    (reasons.AMOUNT_MISMATCH, _payment(amount_paid=58500)),
    (reasons.PAYER_MISMATCH, _payment(payer=LI_NA)),
    (reasons.BUYER_MISMATCH, _inventory(buyer=LI_NA)),
    (
        reasons.CONSIGNEE_MISMATCH,
        _waybill(consignee=dataclasses.replace(CONSIGNEE, address="北京市朝阳区1号")),
    ),
    (reasons.WAYBILL_MISMATCH, _waybill(logistics_no="773099999999999")),
    (reasons.LINES_MISMATCH, _repriced_masks),
    (reasons.SINGLE_LIMIT_EXCEEDED, lambda d: Documents.of(watch_order(d.order.order_no, 250_001, qty=2))),
]


@pytest.mark.parametrize(("code", "change"), MISMATCHES, ids=[code for code, _ in MISMATCHES])
async def test_each_mismatch_is_rejected_with_its_reason_code(
    customs, signer, code: str, change: Change
) -> None:
    await send(customs, *change(Documents.of(bonded_order("FP20260618000301"))).messages(signer).values())
    verdict = (await inbox(customs, PLATFORM_DXP))[-1]
    assert (verdict.kind, verdict.return_status) == (ReceiptKind.INVENTORY, 100)
    assert verdict.return_info.startswith(f"[{code}] ")
    assert LI_NA.id_number not in verdict.return_info and BUYER.id_number not in verdict.return_info
    view = await declaration(customs, "FP20260618000301")
    assert (view["state"], view["reason_code"]) == ("rejected", code)


async def test_an_order_whose_amounts_do_not_add_up_is_rejected_as_inconsistent(customs, signer) -> None:
    # The builder refuses such an order, so the mistake is made in the XML, as a faulty system would.
    messages = Documents.of(bonded_order("FP20260618000302")).messages(signer)
    messages["order"] = messages["order"].replace(b"<ceb:acturalPaid>586.78<", b"<ceb:acturalPaid>587.78<")
    messages["payment"] = messages["payment"].replace(b"<ceb:amountPaid>586.78<", b"<ceb:amountPaid>587.78<")
    await send(customs, *messages.values())
    verdict = (await inbox(customs, PLATFORM_DXP))[-1]
    assert verdict.return_status == 100 and verdict.return_info.startswith("[order_inconsistent] ")


async def test_a_rejected_declaration_is_matched_again_only_when_its_inventory_list_is_redeclared(
    customs, signer
) -> None:
    documents = Documents.of(bonded_order("FP20260618000303"))
    await send(customs, *_payment(payer=LI_NA)(documents).messages(signer).values())
    assert (await declaration(customs, "FP20260618000303"))["reason_code"] == reasons.PAYER_MISMATCH

    changes = documents.messages(signer, AppType.CHANGE)
    await send(customs, changes["payment"])  # corrected, but the returned list is not declared again yet
    assert statuses(await inbox(customs, PAYMENT_DXP)) == [("CEB412", 120), ("CEB412", 120)]
    assert (await declaration(customs, "FP20260618000303"))["state"] == "rejected"

    await send(customs, changes["inventory"])
    assert statuses(await inbox(customs, PLATFORM_DXP))[-4:] == [
        ("CEB622", 100),
        ("CEB622", 2),
        ("CEB622", 120),
        ("CEB622", 800),
    ]
    view = await declaration(customs, "FP20260618000303")
    assert (view["state"], view["reason_code"], view["documents"]["CEB411"]["app_type"]) == (
        "released",
        None,
        "2",
    )


async def test_after_release_no_document_of_the_order_may_change(customs, signer) -> None:
    documents = Documents.of(bonded_order("FP20260618000304"))
    await send(customs, *documents.messages(signer).values())
    changes = documents.messages(signer, AppType.CHANGE)
    deletes = documents.messages(signer, AppType.DELETE)
    await send(customs, changes["order"], deletes["inventory"], changes["waybill"])

    platform = await inbox(customs, PLATFORM_DXP)
    assert statuses(platform)[-2:] == [("CEB312", -1), ("CEB622", -1)]
    assert all("was released" in receipt.return_info for receipt in platform[-2:])
    assert statuses(await inbox(customs, CARRIER_DXP)) == [("CEB512", 120), ("CEB512", -1)]
    assert (await declaration(customs, "FP20260618000304"))["state"] == "released"


async def test_appType_must_fit_what_is_on_file(customs, signer) -> None:
    documents = Documents.of(bonded_order("FP20260618000305"))
    await send(customs, documents.messages(signer, AppType.CHANGE)["order"])  # nothing to change
    await send(customs, documents.messages(signer, AppType.DELETE)["payment"])  # nothing to delete
    await send(customs, documents.messages(signer)["order"], documents.messages(signer)["order"])  # twice new
    platform = await inbox(customs, PLATFORM_DXP)
    assert statuses(platform) == [("CEB312", -1), ("CEB312", 120), ("CEB312", -1)]
    assert "no CEB311 of order FP20260618000305 is on file to change" in platform[0].return_info
    assert "already on file" in platform[2].return_info
    assert statuses(await inbox(customs, PAYMENT_DXP)) == [("CEB412", -1)]


async def test_the_same_message_delivered_twice_is_filed_and_answered_once(customs, signer) -> None:
    documents = Documents.of(bonded_order("FP20260618000307"))
    messages = documents.messages(signer)
    await send(customs, messages["order"], messages["order"])  # a sender resending after a lost answer
    assert statuses(await inbox(customs, PLATFORM_DXP)) == [("CEB312", 120)]
    await send(
        customs, messages["payment"], messages["waybill"], messages["inventory"], messages["inventory"]
    )
    platform = statuses(await inbox(customs, PLATFORM_DXP))
    assert platform == [("CEB312", 120), ("CEB622", 2), ("CEB622", 120), ("CEB622", 800)]


async def test_deleting_the_inventory_list_cancels_the_declaration(customs, signer) -> None:
    documents = Documents.of(bonded_order("FP20260618000306"))
    await send(customs, documents.messages(signer)["inventory"], documents.messages(signer)["order"])
    assert (await declaration(customs, "FP20260618000306"))["state"] == "waiting"
    await send(customs, documents.messages(signer, AppType.DELETE)["inventory"])
    assert statuses(await inbox(customs, PLATFORM_DXP))[-1] == ("CEB622", 2)
    listed = (await customs.get("/declarations", params={"state": "cancelled"})).json()["declarations"]
    assert [d["order_no"] for d in listed] == ["FP20260618000306"]
    assert (await declaration(customs, "FP20260618000306"))["documents"]["CEB621"] is None


# --- the buyer's annual limit -----------------------------------------------------------------------


async def test_the_annual_limit_counts_the_buyers_released_orders_of_the_year(tmp_path, signer) -> None:
    # The watches are declared without tax: this is about the limit, so the tax check is off.
    async with running(customs_app(tmp_path, signer, check_tax=False)) as customs:
        # One watch of 20,000 CNY (a single indivisible item may pass the single-transaction limit) ...
        for order_no, price in (("401", 2_000_000), ("402", 600_001), ("403", 600_000)):
            # ... leaves 6,000 CNY of the year's 26,000: 6,000.01 is refused, exactly 6,000 is released.
            documents = Documents.of(watch_order(f"FP20260618000{order_no}", price))
            await send(customs, *documents.messages(signer).values())
        states = [(await declaration(customs, f"FP20260618000{n}"))["state"] for n in (401, 402, 403)]
        refused = await declaration(customs, "FP20260618000402")
    assert states == ["released", "rejected", "released"]
    assert refused["reason_code"] == reasons.ANNUAL_LIMIT_EXCEEDED
    assert refused["reason_text"].startswith("[annual_limit_exceeded] ") and "2026" in refused["reason_text"]


# --- refused before filing --------------------------------------------------------------------------


async def test_a_message_the_schema_refuses_gets_a_processing_error(customs, signer) -> None:
    message = Documents.of(bonded_order("FP20260618000501")).messages(signer)["order"]
    root = etree.fromstring(message)
    paid = root.find(".//{*}acturalPaid")
    paid.getparent().remove(paid)
    await send(customs, etree.tostring(root))
    (receipt,) = await inbox(customs, PLATFORM_DXP)
    assert (receipt.kind, receipt.return_status) == (ReceiptKind.ORDER, -1)
    assert "CEB schema" in receipt.return_info and "acturalPaid" in receipt.return_info
    assert (await declaration(customs, "FP20260618000501"))["documents"]["CEB311"] is None


async def test_an_inventory_list_whose_signature_does_not_verify_gets_a_processing_error(
    customs, signer
) -> None:
    message = Documents.of(bonded_order("FP20260618000502")).messages(signer)["inventory"]
    tampered = message.replace(b"<ceb:totalPrice>458.00<", b"<ceb:totalPrice>45.80<")
    assert tampered != message and validate(tampered) == []
    await send(customs, tampered)
    (receipt,) = await inbox(customs, PLATFORM_DXP)
    assert (receipt.kind, receipt.return_status) == (ReceiptKind.INVENTORY, -1)
    assert "signature does not verify" in receipt.return_info
    assert (await declaration(customs, "FP20260618000502"))["state"] is None


async def test_with_both_checks_off_an_unreadable_document_is_still_refused(tmp_path: Path, signer) -> None:
    messages = Documents.of(bonded_order("FP20260618000503")).messages(signer)
    tampered = messages["inventory"].replace(b"<ceb:totalPrice>458.00<", b"<ceb:totalPrice>45.80<")
    root = etree.fromstring(messages["order"])
    paid = root.find(".//{*}acturalPaid")
    paid.getparent().remove(paid)
    app = customs_app(tmp_path, validate_schema=False, verify_signatures=False)
    async with running(app) as customs:
        await send(customs, tampered, etree.tostring(root))
        inventory, order = await inbox(customs, PLATFORM_DXP)
    assert (inventory.return_status, order.return_status) == (2, -1)
    assert "acturalPaid is missing" in order.return_info


@pytest.mark.parametrize(
    "body",
    [
        b"hello",
        b"<order/>",
        b'<ceb:CEB312Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0"/>',
        b'<ceb:CEB311Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"><ceb:Order/></ceb:CEB311Message>',
    ],
    ids=["text", "other-xml", "a-receipt", "no-dxpId"],
)
async def test_a_body_that_is_not_a_ceb_message_is_a_400(customs, body: bytes) -> None:
    answer = await customs.post("/dxp/messages", content=body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "not_a_ceb_message"


async def test_inbox_parameters_are_checked(customs) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "x"}):
        answer = await customs.get(f"/dxp/inbox/{PLATFORM_DXP}", params=params)
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_parameter")
    assert (await customs.get("/declarations", params={"state": "lost"})).status_code == 400
    assert (await customs.get("/declarations/FP-NOTHING")).status_code == 404


# --- through the platform's gateway -----------------------------------------------------------------


async def test_the_platforms_gateway_sends_and_pages_through_the_inbox(customs_sim, signer) -> None:
    gateway = HttpCustomsGateway("http://customs.test", transport=httpx.ASGITransport(app=customs_sim))
    try:
        for message in Documents.of(bonded_order("FP20260618000601")).messages(signer).values():
            await gateway.send(message)
        first = await gateway.fetch(PLATFORM_DXP, after=0, limit=2)
        rest = await gateway.fetch(PLATFORM_DXP, after=first[-1].seq, limit=100)
        assert [item.kind for item in first + rest] == ["CEB312", "CEB622", "CEB622", "CEB622", "CEB816"]
        receipts = (first + rest)[:4]
        assert [parse_receipt(item.message).return_status for item in receipts] == [120, 2, 120, 800]
        seqs = [item.seq for item in first + rest]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        assert await gateway.fetch(PLATFORM_DXP, after=seqs[-1]) == []
        assert [item.kind for item in await gateway.fetch(PAYMENT_DXP, after=0)] == ["CEB412"]
        with pytest.raises(CustomsRefused) as refused:
            await gateway.send(b"<not-customs/>")
        assert refused.value.code == "not_a_ceb_message"
    finally:
        await gateway.close()


async def test_the_record_outlives_a_restart(tmp_path: Path, signer) -> None:
    documents = Documents.of(bonded_order("FP20260618000701"))
    for _ in range(2):  # the same data_dir, started twice: the second new order message is refused
        async with running(customs_app(tmp_path, signer)) as customs:
            await send(customs, documents.messages(signer)["order"])
    async with running(customs_app(tmp_path, signer)) as customs:
        assert statuses(await inbox(customs, PLATFORM_DXP)) == [("CEB312", 120), ("CEB312", -1)]
