"""The typed views the catalog and sale services return, and the storefront's page models built on them:
what they derive from their own fields, with no database."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from flashport.domain.catalog import TaxCategory, WarehouseKind
from flashport.domain.catalog_entities import Product, ProductWithSkus, Sku, StockEntry
from flashport.domain.errors import NotFound
from flashport.domain.sale_entities import EventView, ItemFacts, SaleEvent, SaleItem, SaleItemView
from flashport.domain.sales import EventState, EventStatus, Fulfilment
from flashport.web.page_models import EventCard, EventPage, alt_text

START = datetime(2026, 6, 1, 12, tzinfo=UTC)
EVENT = SaleEvent(
    id=11,
    title="Dairy week",
    channel="global-flash-sale",
    description="",
    banner_url=None,
    starts_at=START,
    ends_at=START + timedelta(days=7),
    state=EventState.SCHEDULED,
    created_at=START - timedelta(days=2),
    updated_at=START - timedelta(days=2),
)


def item(item_id: int, *, brand: str = "a2", title: str = "a2 Platinum 900g", **changes: object) -> SaleItem:
    base = SaleItem(
        id=item_id,
        event_id=EVENT.id,
        sku_id=100 + item_id,
        warehouse_id=7,
        sale_price_fen=9_900,
        quantity=10,
        per_buyer_limit=2,
        reserved=3,
        sold=1,
        title="900 g tin",
        original_price_fen=29_800,
        product_title=title,
        images=(f"/static/{item_id}.svg",),
        brand=brand,
        brand_country="NZ",
        warehouse_kind=WarehouseKind.BONDED,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_sale_item_view_keeps_the_row_and_derives_discount_fulfilment_and_sold_out() -> None:
    stored = item(1, warehouse_kind=WarehouseKind.OVERSEAS)
    view = SaleItemView.of(stored, remaining=0)
    assert (view.id, view.quantity, view.committed, view.images) == (1, 10, 4, stored.images)
    assert (view.remaining, view.sold_out) == (0, True)
    assert view.discount_percent == 66  # (298 - 99) / 298 = 66.8 %, rounded down
    assert view.fulfilment is Fulfilment.DIRECT
    with pytest.raises(FrozenInstanceError):
        view.remaining = 5  # type: ignore[misc]


def test_an_event_view_derives_its_status_from_the_clock_and_the_items_left() -> None:
    during = START + timedelta(hours=1)
    one_left = [SaleItemView.of(item(1), 1), SaleItemView.of(item(2, sale_price_fen=14_900), 0)]
    live = EventView.of(EVENT, one_left, during)
    assert (live.status, live.item_count, live.max_discount_percent) == (EventStatus.LIVE, 2, 66)
    gone = EventView.of(EVENT, [SaleItemView.of(item(1), 0)], during)
    assert gone.status is EventStatus.ENDED  # every item sold out ends the sale early
    assert EventView.of(EVENT, one_left, START - timedelta(seconds=1)).status is EventStatus.SCHEDULED
    empty = EventView.of(replace(EVENT, state=EventState.DRAFT), [], during)
    assert (empty.status, empty.item_count, empty.max_discount_percent) == (EventStatus.DRAFT, 0, None)


def test_an_item_picked_from_its_event_carries_the_events_status_and_an_unknown_one_is_not_found() -> None:
    event = EventView.of(EVENT, [SaleItemView.of(item(1), 4)], START + timedelta(hours=1))
    picked = event.item(1)
    assert (picked.id, picked.remaining, picked.event_status) == (1, 4, EventStatus.LIVE)
    with pytest.raises(NotFound) as refused:
        event.item(2)
    assert refused.value.code == "sale_item_not_found"


def test_catalog_entities_show_the_price_in_yuan_the_free_stock_and_a_product_with_its_skus() -> None:
    sku = Sku(1, 2, 3, "APT-1", "800 g tin", "", None, 12_900, 1_100, "007", START, START)
    assert sku.original_price == Decimal("129.00")
    entry = StockEntry(1, 5, "NB-1", WarehouseKind.BONDED, on_hand=40, allotted=15, updated_at=START)
    assert entry.free == 25
    product = Product(
        2, 9, 3, "Aptamil", "", ("a.jpg",), "DE", "0402290000", "035", TaxCategory.GENERAL, START, START
    )
    detailed = ProductWithSkus.of(product, [sku])
    assert (detailed.id, detailed.title, detailed.skus) == (2, "Aptamil", (sku,))


def test_the_storefront_names_the_brand_in_alt_text_only_when_the_title_does_not() -> None:
    assert alt_text("A2", "a2 Platinum") == "a2 Platinum"
    assert alt_text("Swisse", "Vitamin C") == "Swisse Vitamin C"


def test_an_event_page_and_card_add_product_facts_falling_back_to_the_brands_country() -> None:
    items = [SaleItemView.of(item(n, brand=f"B{n % 2}", title=f"Thing {n}"), 1) for n in range(1, 7)]
    event = EventView.of(EVENT, items, START + timedelta(hours=1))
    facts = {1: ItemFacts("Creamy.", "FR", "800 g"), 2: ItemFacts("", "", "1 kg")}

    page = EventPage.with_facts(event, facts)
    first = page.shown_item(1)
    assert first is not None and (first.origin, first.spec, first.alt) == ("FR", "800 g", "B1 Thing 1")
    assert page.shown_item(99) is None
    assert (page.status, page.item_count, page.gradient) == (EventStatus.LIVE, 6, EVENT.id % 8)

    card = EventCard.with_facts(event, facts)
    assert card.brands == ("B1", "B0")
    assert card.origins == ("FR", "NZ")  # item 2 has no origin on record; the rest have no facts
    assert len(card.thumbs) == 4 and card.thumbs[0] == ("/static/1.svg", "B1 Thing 1")
