"""What the storefront's pages show of events and items: the sale services' views with what a shop
window adds (product facts, picture alt text, a banner gradient, the brands and origins of a card).

Each extends the service's view, so templates read one flat object (``item.brand``, ``item.origin``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from flashport.domain.sale_entities import EventView, ItemFacts, SaleItemView

GRADIENTS = 8  # banner-gradient-0 .. 7 in storefront.css, for events without a banner image
NO_FACTS = ItemFacts(description="", origin="", spec="")


@dataclass(frozen=True)
class ShownItem(SaleItemView):
    """A sale item with its product facts and the alt text of its pictures."""

    description: str
    origin: str  # the product's country of origin
    spec: str
    alt: str
    # The Chinese display texts ("" where the catalog has none): see :meth:`in_chinese`.
    title_zh: str = ""
    description_zh: str = ""
    brand_zh: str = ""
    # Trust facts: what of the product cannot be returned ("" = nothing), and who supplies it.
    return_exclusions: str = ""
    return_exclusions_zh: str = ""
    supplier: str = ""

    @classmethod
    def with_facts(cls, item: SaleItemView, facts: ItemFacts) -> ShownItem:
        return cls(
            **_fields_of(item, SaleItemView),
            description=facts.description,
            origin=facts.origin,
            spec=facts.spec,
            alt=alt_text(item.brand, item.product_title),
            title_zh=facts.title_zh,
            description_zh=facts.description_zh,
            brand_zh=facts.brand_zh,
            return_exclusions=facts.return_exclusions,
            return_exclusions_zh=facts.return_exclusions_zh,
            supplier=facts.supplier,
        )

    def in_chinese(self) -> ShownItem:
        """The item as Chinese readers see it: the Chinese title, description, brand name and return
        exclusions where the catalog has them, the original otherwise."""
        title = self.title_zh or self.product_title
        brand = self.brand_zh or self.brand
        return replace(
            self,
            product_title=title,
            brand=brand,
            description=self.description_zh or self.description,
            return_exclusions=self.return_exclusions_zh or self.return_exclusions,
            alt=alt_text(brand, title),
        )


@dataclass(frozen=True)
class EventPage(EventView):
    """An event's page: the event with its shown items."""

    items: tuple[ShownItem, ...]
    gradient: int

    @classmethod
    def with_facts(cls, event: EventView, facts: dict[int, ItemFacts]) -> EventPage:
        items = tuple(ShownItem.with_facts(item, facts.get(item.id, NO_FACTS)) for item in event.items)
        return cls(**{**_fields_of(event, EventView), "items": items}, gradient=event.id % GRADIENTS)

    def shown_item(self, item_id: int) -> ShownItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def in_chinese(self) -> EventPage:
        return replace(self, items=tuple(item.in_chinese() for item in self.items))


@dataclass(frozen=True)
class EventCard(EventView):
    """An event as a home-page card: its brands, the origins of its goods and up to four thumbnails."""

    brands: tuple[str, ...]
    origins: tuple[str, ...]
    thumbs: tuple[tuple[str, str], ...]  # (image, alt text)
    gradient: int
    brands_zh: tuple[str, ...] = ()  # the brands as Chinese readers see them

    @classmethod
    def with_facts(cls, event: EventView, facts: dict[int, ItemFacts]) -> EventCard:
        items = event.items
        origins = [facts.get(item.id, NO_FACTS).origin or item.brand_country for item in items]
        zh = [facts.get(item.id, NO_FACTS).brand_zh or item.brand for item in items]
        return cls(
            **_fields_of(event, EventView),
            brands=tuple(dict.fromkeys(item.brand for item in items)),
            origins=tuple(dict.fromkeys(origins)),
            thumbs=tuple(
                (item.images[0], alt_text(item.brand, item.product_title)) for item in items if item.images
            )[:4],
            gradient=event.id % GRADIENTS,
            brands_zh=tuple(dict.fromkeys(zh)),
        )

    def in_chinese(self) -> EventCard:
        return replace(self, brands=self.brands_zh or self.brands)


@dataclass(frozen=True)
class Picture:
    """The picture an order card shows of its item."""

    src: str
    alt: str
    brand: str


def alt_text(brand: str, title: str) -> str:
    """The product as a picture's alt text: its title, led by the brand unless the title names it."""
    return title if title.lower().startswith(brand.lower()) else f"{brand} {title}"


def _fields_of(value: object, cls: type) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(cls)}
