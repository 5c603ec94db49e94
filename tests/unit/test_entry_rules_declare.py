"""Property-style: whatever the entry rules accept, the customs codec can declare.

Seeded random names, phones, addresses, titles, specifications, brands and origins are drawn from
pools that mix what buyers and suppliers really type (Chinese, CJK extension B, accented Latin, XML's
own ``<&>"'``, emoji, full-width punctuation) with what breaks XML (C0 and C1 controls, lone
surrogates, U+FFFE/U+FFFF, line breaks), at lengths around every limit. Each value the rules accept goes
into a sample order the way the declaration services map it, and the CEB311 order and CEB511 waybill
(every message), and the signed CEB621 inventory list (some), must validate against the official XSD.
"""

# ruff: noqa: RUF001

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pycountry
import pytest

from flashport.ceb import (
    AppType,
    BondedImport,
    Consignee,
    Enterprise,
    InventoryDeclaration,
    InventoryLine,
    OrderDeclaration,
    OrderLine,
    Person,
    Sender,
    SoftwareKeySigner,
    WaybillDeclaration,
    inventory_message,
    order_message,
    validate,
    waybill_message,
)
from flashport.ceb.codes import CUSTOMS_COUNTRY_CODES, customs_country_code
from flashport.domain import catalog as rules
from flashport.domain.errors import InvalidInput
from flashport.domain.identity import check_consignee, normalise_person_name

SEED = 14
ROUNDS = 300
SIGNED_EVERY = 30  # signing is the slow part; every 30th round also builds a signed CEB621

PLATFORM = Enterprise("3101960ZZZ", "闪购港跨境电商平台（上海）有限公司")
CARRIER = Enterprise("3120980105", "上海申通物流有限公司")
WAREHOUSE = Enterprise("3122480063", "上海洋山保税仓储有限公司")
SENDER = Sender(cop_code=PLATFORM.code, cop_name=PLATFORM.name, dxp_id="DXPENT0000012345")
APP_TIME = datetime(2026, 11, 11, 4, 0, tzinfo=UTC)
ID_NUMBER = "11010519491231002X"

CJK = [chr(c) for c in range(0x4E00, 0x9FFF, 37)]
CJK_B = [chr(c) for c in range(0x20000, 0x2A6DF, 997)]
LATIN = [*"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", *"ÀÉÎÕÜßàéîõüçñøåæœŁłŽž"]
DIGITS = list("0123456789")
TEXT_EXTRAS = [*" -_.,/()#&<>\"'%;:!?+*=@", "·", "，", "。", "（", "）", "号", "\u00a0", "😀", "\ufffd"]
BAD = [
    *(chr(c) for c in range(0x00, 0x20)),  # C0, tab, newline and CR among them
    "\x7f",
    *(chr(c) for c in range(0x80, 0xA0)),
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\ufffe",
    "\uffff",
    "\u2028",
    "\u2029",
]
LENGTHS = [0, 1, 2, 3, 11, 29, 30, 31, 59, 60, 61, 99, 100, 101, 199, 200, 201, 249, 250, 251, 255, 256, 300]


class Draw:
    """Seeded strings: mostly from one pool, sometimes with a bad character slipped in."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def text(self, pool: list[str], *, lengths: list[int] = LENGTHS, bad_rate: float = 0.3) -> str:
        length = self.random.choice(lengths)
        chars = [self.random.choice(pool) for _ in range(length)]
        if chars and self.random.random() < bad_rate:
            chars[self.random.randrange(len(chars))] = self.random.choice(BAD)
        return "".join(chars)

    def name(self) -> str:
        pool = self.random.choice(
            [CJK, CJK + CJK_B, [*LATIN, " ", "·"], [*CJK, "·"], CJK + LATIN + TEXT_EXTRAS]
        )
        lengths = [2, 3, 4, 29, 30, 31, 45]
        name = self.text(pool, lengths=lengths)
        return self.random.choice(["", " ", "\n"]) + name + self.random.choice(["", " ", "\t"])

    def phone(self) -> str:
        digits = "1" + self.random.choice("3456789") + "".join(self.random.choice(DIGITS) for _ in range(9))
        spaced = self.random.choice([digits, f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"+86 {digits}"])
        if self.random.random() < 0.3:
            at = self.random.randrange(len(spaced) + 1)
            spaced = spaced[:at] + self.random.choice(BAD) + spaced[at:]
        return spaced

    def address(self) -> str:
        return self.text(CJK + CJK_B + LATIN + DIGITS + TEXT_EXTRAS + ["\n", "\r\n", "\t", "  "])

    def catalog_text(self) -> str:
        return self.text(CJK + LATIN + DIGITS + TEXT_EXTRAS)

    def district(self) -> str | None:
        return self.random.choice([None, "", "330106", "31011" + self.random.choice(DIGITS), "3301\x000"])

    def origin(self) -> str:
        countries = list(pycountry.countries)
        # Half the draws from what customs codes, half from anywhere: both answers get exercised.
        if self.random.random() < 0.5:
            return self.random.choice(sorted(CUSTOMS_COUNTRY_CODES))
        return str(self.random.choice(countries).alpha_2)


def accepted(rule: Callable[[], Any], tally: Counter[str], what: str) -> Any:
    """The rule's answer, or None when it refuses; a refusal must be a 422, never anything else."""
    try:
        value = rule()
    except InvalidInput:
        tally[f"{what} refused"] += 1
        return None
    tally[f"{what} accepted"] += 1
    return value


def line_title(product_title: str, sku_title: str) -> str:
    """The order line's title as the buy path stores it (``orders_repo``)."""
    joined = sku_title if sku_title.startswith(product_title) else f"{product_title} {sku_title}".strip()
    return joined[:300]


@pytest.fixture(scope="module")
def signer() -> SoftwareKeySigner:
    return SoftwareKeySigner.generate("Flashport entry-rules test")


def test_every_value_the_entry_rules_accept_builds_messages_that_validate(signer: SoftwareKeySigner) -> None:
    draw = Draw(SEED)
    tally: Counter[str] = Counter()
    unusual = 0  # accepted values holding characters XML must escape or beyond the BMP
    for round_no in range(ROUNDS):
        buyer = accepted(lambda: normalise_person_name(draw.name()), tally, "buyer name") or "李娜"
        consignee = accepted(
            lambda: check_consignee(draw.name(), draw.phone(), draw.address(), draw.district()),
            tally,
            "consignee",
        ) or check_consignee("李娜", "13800138000", "浙江省杭州市西湖区文三路 90 号", None)
        brand = accepted(lambda: rules.brand_record(name=draw.catalog_text(), country="DE"), tally, "brand")
        product = accepted(
            lambda: rules.product_record(
                title=draw.catalog_text(),
                declared_name="奶粉" + draw.catalog_text(),
                images=["https://img.example.com/p.jpg"],
                origin_country=draw.origin(),
                hs_code="0402290000",
                legal_unit="035",
                tax_category="general",
                codable_origins=CUSTOMS_COUNTRY_CODES,
            ),
            tally,
            "product",
        )
        sku = accepted(
            lambda: rules.sku_record(
                code="SKU-1",
                title=draw.catalog_text(),
                spec=draw.catalog_text(),
                original_price="99.00",
                weight_grams=500,
                unit="122",
                gmodel=f"品牌:{draw.catalog_text()}|规格:{draw.catalog_text()}|成分:乳粉",
                net_content="450",
                net_content_unit="g",
                net_weight_grams=450,
                packaging_weight_grams=50,
            ),
            tally,
            "sku",
        )
        brand_name = brand["name"] if brand else "a2 Milk"
        product_title = product["declared_name"] if product else "a2 Platinum 婴儿配方奶粉"
        origin = product["origin_country"] if product else "NZ"
        declared_model = sku["gmodel"] if sku else "品牌:a2|规格:900克/罐|成分:乳粉"
        texts = (buyer, consignee.name, consignee.address, brand_name, product_title, declared_model)
        unusual += any(ch in text for text in texts for ch in "<&>\"'") or any(
            ord(ch) > 0xFFFF for text in texts for ch in text
        )

        line = OrderLine(
            gnum=1,
            item_name=product_title,
            gmodel=declared_model,
            unit="122",
            qty=1,
            price=9900,
            total_price=9900,
            country=customs_country_code(origin),
            item_no="SKU-1",
        )
        order = OrderDeclaration(
            order_no=f"FP2026111100{round_no:04d}",
            platform=PLATFORM,
            seller=PLATFORM,
            goods_value=9900,
            freight=0,
            discount=0,
            tax_total=901,
            actural_paid=10801,
            buyer_reg_no="U1",
            buyer=Person(buyer, ID_NUMBER, consignee.phone),
            consignee=Consignee(consignee.name, consignee.phone, consignee.address, consignee.district),
            lines=(line,),
        )
        waybill = WaybillDeclaration(
            logistics_company=CARRIER,
            logistics_no=f"7730{round_no:011d}",
            order_no=order.order_no,
            weight_kg=Decimal("0.5"),
            consignee=order.consignee,
        )
        messages = [
            order_message(order, SENDER, AppType.NEW, app_time=APP_TIME),
            waybill_message(waybill, SENDER, app_time=APP_TIME),
        ]
        if round_no % SIGNED_EVERY == 0:
            messages.append(inventory_message(inventory_of(order, product_title), SENDER, signer=signer))
        for message in messages:
            assert validate(message) == [], (round_no, texts)

    # The draws must really have put both answers to the test, or the property says nothing.
    for what in ("buyer name", "consignee", "brand", "product", "sku"):
        assert tally[f"{what} accepted"] >= 20, tally
        assert tally[f"{what} refused"] >= 20, tally
    assert unusual >= 20


def inventory_of(order: OrderDeclaration, product_title: str) -> InventoryDeclaration:
    [line] = order.lines
    return InventoryDeclaration(
        order_no=order.order_no,
        cop_no=order.order_no[-20:],
        platform=PLATFORM,
        seller=PLATFORM,
        logistics_company=CARRIER,
        logistics_no="773012345678901",
        assure_code=PLATFORM.code,
        decl_date=date(2026, 11, 11),
        customs_code="2249",
        port_code="2249",
        buyer=order.buyer,
        consignee_address=order.consignee.address,
        agent=PLATFORM,
        route=BondedImport(ems_no="T2249W000123", warehouse=WAREHOUSE),
        freight=0,
        insured_fee=0,
        gross_weight_kg=Decimal("0.6"),
        net_weight_kg=Decimal("0.5"),
        lines=(
            InventoryLine(
                gnum=1,
                gcode="0402290000",
                gname=product_title[:250],
                gmodel=line.gmodel,
                country=line.country,
                qty=1,
                unit="122",
                legal_qty=Decimal("0.45"),
                legal_unit="035",
                price=9900,
                total_price=9900,
                item_record_no="SKU-1",
                item_no="SKU-1",
                item_name=line.item_name,
            ),
        ),
    )
