"""The basket's pure rules: room for one more unit, one warehouse, the single limit, the time left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flashport.domain.basket import BasketRoom, HeldUnits, claim, fold, give_back, seconds_left
from flashport.domain.errors import Conflict

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=20)


def _claim(
    room: BasketRoom | None, *, at: datetime = NOW, warehouse: int = 1, price: int = 9_900
) -> BasketRoom:
    return claim(room, now=at, window=WINDOW, warehouse_id=warehouse, price_fen=price, limit_fen=500_000)


def test_the_first_unit_opens_a_basket_held_for_the_window() -> None:
    room = _claim(None)
    assert room == BasketRoom(1, NOW, NOW + WINDOW, 1, 9_900)


def test_later_units_keep_the_first_adds_hold() -> None:
    room = _claim(_claim(None), at=NOW + timedelta(minutes=7))
    assert room.hold_until == NOW + WINDOW and room.units == 2 and room.goods_fen == 19_800


def test_a_unit_from_another_warehouse_is_refused() -> None:
    with pytest.raises(Conflict) as refused:
        _claim(_claim(None), warehouse=2)
    assert refused.value.code == "basket_other_warehouse"


def test_a_basket_whose_hold_passed_starts_again_anywhere() -> None:
    room = _claim(_claim(None), at=NOW + WINDOW, warehouse=2)
    assert room == BasketRoom(2, NOW + WINDOW, NOW + 2 * WINDOW, 1, 9_900)


def test_the_goods_stay_within_the_single_limit_but_one_dear_item_may_go_alone() -> None:
    dear = _claim(None, price=600_000)  # a single indivisible item above the limit: general trade
    assert dear.units == 1
    with pytest.raises(Conflict) as refused:
        _claim(dear, price=100)
    assert refused.value.code == "single_transaction_limit"
    full = _claim(_claim(None, price=250_000), price=250_000)
    assert full.goods_fen == 500_000
    with pytest.raises(Conflict):
        _claim(full, price=1)


def test_freight_and_insurance_count_toward_the_limit() -> None:
    room = claim(
        None, now=NOW, window=WINDOW, warehouse_id=1, price_fen=250_000, limit_fen=500_000, extras_fen=1
    )
    with pytest.raises(Conflict):
        claim(
            room, now=NOW, window=WINDOW, warehouse_id=1, price_fen=250_000, limit_fen=500_000, extras_fen=1
        )


def test_giving_back_shrinks_the_room_and_never_below_zero() -> None:
    room = give_back(_claim(None), 9_900)
    assert room.units == 0 and room.goods_fen == 0 and not room.is_open(NOW)
    assert give_back(room, 9_900).units == 0


def test_seconds_left_round_down_and_stop_at_zero() -> None:
    assert seconds_left(NOW + timedelta(seconds=90, milliseconds=999), NOW) == 90
    assert seconds_left(NOW, NOW + timedelta(seconds=5)) == 0


def _held(order: str, item: int, minute: int, price: int = 9900) -> HeldUnits:
    return HeldUnits(
        order, item, 7, item * 10, f"item {item}", price, 1, "bonded", NOW + timedelta(minutes=minute)
    )


def test_the_fold_makes_one_line_per_item_in_the_order_the_items_went_in() -> None:
    held = [_held("c", 2, 3), _held("a", 1, 1), _held("b", 2, 2), _held("d", 1, 4)]
    lines = fold(held)
    assert [(ln.line_no, ln.item_id, ln.quantity, ln.total_fen) for ln in lines] == [
        (1, 1, 2, 19800),
        (2, 2, 2, 19800),
    ]


def test_a_unit_of_an_item_at_another_price_gets_a_line_of_its_own() -> None:
    lines = fold([_held("a", 1, 1), _held("b", 1, 2, price=8800)])
    assert [(ln.item_id, ln.unit_price_fen, ln.quantity) for ln in lines] == [(1, 9900, 1), (1, 8800, 1)]
