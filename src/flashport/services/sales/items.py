"""Operators put SKUs on sale inside an event: add, change and remove sale items.

An item's quantity is drawn from one warehouse's free stock (``on_hand - allotted``) in the same
transaction that writes the item, so stock can never be promised twice. Items change only while the
event is a draft or scheduled but not yet started.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import sales_repo, stock_repo
from flashport.domain import sales as rules
from flashport.domain.customs_goods import check_bonded_registrations
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.money import to_fen
from flashport.domain.sale_entities import ItemOfEvent, SaleItem
from flashport.services.context import Context, Tx
from flashport.services.sales import inventory
from flashport.services.sales.loading import editable_event, item_or_404
from flashport.services.sales.views import event_view


async def add_item(
    ctx: Context,
    event_id: int,
    *,
    sku_id: int,
    warehouse_id: int,
    sale_price: Decimal | str | int,
    quantity: int,
    per_buyer_limit: int,
) -> ItemOfEvent:
    """Offer ``quantity`` units of an SKU from one warehouse at ``sale_price`` (yuan, two decimals)."""
    sale_fen = to_fen(sale_price, field="sale_price")
    rules.check_item_terms(quantity, per_buyer_limit)
    async with ctx.transaction() as tx:
        _, items = await editable_event(tx.conn, event_id, tx.now)
        original_fen = await sales_repo.sku_price(tx.conn, sku_id)
        if original_fen is None:
            raise NotFound(f"SKU {sku_id} does not exist", code="sku_not_found", facts={"id": sku_id})
        if not await sales_repo.warehouse_exists(tx.conn, warehouse_id):
            raise NotFound(
                f"warehouse {warehouse_id} does not exist",
                code="warehouse_not_found",
                facts={"id": warehouse_id},
            )
        rules.check_price_band(original_fen, sale_fen, ctx.policy)
        bonded = await sales_repo.bonded_registrations(tx.conn, sku_id, warehouse_id)
        if bonded is not None:
            check_bonded_registrations(*bonded)
        if any(item.sku_id == sku_id for item in items):
            raise Conflict(
                f"SKU {sku_id} is already on sale in this event", code="duplicate_sku", facts={"sku": sku_id}
            )
        await _allot(tx.conn, sku_id, warehouse_id, quantity, tx.now)
        terms = {"sale_price_fen": sale_fen, "quantity": quantity, "per_buyer_limit": per_buyer_limit}
        placement = {"event_id": event_id, "sku_id": sku_id, "warehouse_id": warehouse_id}
        item_id = await sales_repo.insert_item(tx.conn, {**placement, **terms}, tx.now)
        payload = {"event_id": event_id, "item_id": item_id, "sku_id": sku_id, "warehouse_id": warehouse_id}
        await tx.emit("sale_item.added", f"event:{event_id}", {**payload, **terms})
    await inventory.items_changed(ctx, [item_id])
    return (await event_view(ctx, event_id)).item(item_id)


async def change_item(
    ctx: Context,
    event_id: int,
    item_id: int,
    *,
    sale_price: Decimal | str | int | None = None,
    quantity: int | None = None,
    per_buyer_limit: int | None = None,
) -> ItemOfEvent:
    """Change an item's terms; None leaves a term as it is. A new quantity moves the allotment by the
    difference: more is drawn from free stock (or refused), less goes back to it."""
    new_price = None if sale_price is None else to_fen(sale_price, field="sale_price")
    async with ctx.transaction() as tx:
        await editable_event(tx.conn, event_id, tx.now)
        item = await item_or_404(tx.conn, item_id, event_id=event_id)
        terms = {
            "sale_price_fen": item.sale_price_fen if new_price is None else new_price,
            "quantity": item.quantity if quantity is None else quantity,
            "per_buyer_limit": item.per_buyer_limit if per_buyer_limit is None else per_buyer_limit,
        }
        rules.check_item_terms(terms["quantity"], terms["per_buyer_limit"])
        rules.check_quantity_covers(terms["quantity"], item.committed)
        if new_price is not None:
            rules.check_price_band(item.original_price_fen, new_price, ctx.policy)
        changed = any(getattr(item, name) != value for name, value in terms.items())
        if changed:
            await _apply_change(tx, item, terms)
    if changed:
        await inventory.items_changed(ctx, [item_id])
    return (await event_view(ctx, event_id)).item(item_id)


async def remove_item(ctx: Context, event_id: int, item_id: int) -> None:
    """Take an item out of its event and give its allotment back to the warehouse's free stock."""
    async with ctx.transaction() as tx:
        event, items = await editable_event(tx.conn, event_id, tx.now)
        item = await item_or_404(tx.conn, item_id, event_id=event_id)
        rules.check_item_removable(event.state, len(items), item.committed)
        await stock_repo.release(tx.conn, [(item.sku_id, item.warehouse_id, item.quantity)], tx.now)
        await sales_repo.delete_item(tx.conn, item_id)
        await tx.emit(
            "sale_item.removed",
            f"event:{event_id}",
            {
                "event_id": event_id,
                "item_id": item_id,
                "sku_id": item.sku_id,
                "warehouse_id": item.warehouse_id,
                "units_returned": item.quantity,
            },
        )
    await inventory.items_changed(ctx, [item_id])


async def _allot(conn: AsyncConnection, sku_id: int, warehouse_id: int, units: int, now: datetime) -> None:
    """Take ``units`` from the warehouse's free stock of the SKU, or refuse without changing anything."""
    if await stock_repo.allot(conn, sku_id, warehouse_id, units, now):
        return
    free = await stock_repo.free_units(conn, sku_id, warehouse_id)
    if free is None:
        raise NotFound(
            f"SKU {sku_id} has no stock in warehouse {warehouse_id}",
            code="stock_not_found",
            facts={"sku": sku_id, "warehouse": warehouse_id},
        )
    raise Conflict(
        f"only {free} units of SKU {sku_id} are free in warehouse {warehouse_id}; {units} were asked for",
        code="insufficient_stock",
        facts={"free": free, "asked": units},
    )


async def _apply_change(tx: Tx, item: SaleItem, terms: dict[str, int]) -> None:
    """Move the allotment by the quantity difference, store the new terms, record the change."""
    delta = terms["quantity"] - item.quantity
    if delta > 0:
        await _allot(tx.conn, item.sku_id, item.warehouse_id, delta, tx.now)
    elif delta < 0:
        await stock_repo.release(tx.conn, [(item.sku_id, item.warehouse_id, -delta)], tx.now)
    await sales_repo.update_item(tx.conn, item.id, terms, tx.now)
    payload = {"event_id": item.event_id, "item_id": item.id, "quantity_delta": delta, **terms}
    await tx.emit("sale_item.changed", f"event:{item.event_id}", payload)
