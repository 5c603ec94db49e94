from datetime import UTC, datetime, timedelta

import pytest

from flashport.domain.errors import Conflict, InvalidInput
from flashport.domain.orders import (
    Fulfilment,
    ItemTerms,
    OrderStatus,
    RejectReason,
    SavedPurchase,
    check_cancellable_by_buyer,
    check_idempotency_key,
    check_quantity,
    check_same_request,
    draft_order,
    new_order_no,
    sale_window_reason,
)

START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def terms(open_: bool = True) -> ItemTerms:
    return ItemTerms(
        item_id=1,
        event_id=2,
        sku_id=3,
        title="Milk",
        sale_price_fen=9900,
        quantity=10,
        per_buyer_limit=2,
        starts_at=START,
        ends_at=START + timedelta(days=7),
        open=open_,
        fulfilment=Fulfilment.BONDED,
    )


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (START - timedelta(microseconds=1), RejectReason.NOT_STARTED),
        (START, None),
        (START + timedelta(days=7) - timedelta(microseconds=1), None),
        (START + timedelta(days=7), RejectReason.ENDED),
    ],
)
def test_a_purchase_is_accepted_only_inside_the_sale_window(
    now: datetime, reason: RejectReason | None
) -> None:
    assert sale_window_reason(terms(), now) == reason


def test_a_cancelled_or_draft_event_sells_nothing() -> None:
    assert sale_window_reason(terms(open_=False), START + timedelta(hours=1)) == RejectReason.ENDED
    assert sale_window_reason(terms(open_=False), START - timedelta(hours=1)) == RejectReason.NOT_STARTED


def test_the_payment_deadline_is_creation_plus_the_window_and_amounts_follow_the_price() -> None:
    draft = draft_order(terms(), buyer_id=5, quantity=2, key="k", now=START, window=timedelta(minutes=20))
    assert draft.payment_deadline == START + timedelta(minutes=20)
    assert (draft.goods_value_fen, draft.total_fen) == (19800, 19800)
    assert draft.order_no.startswith("FP20261120100000")


def test_order_numbers_are_unique_and_fit_the_customs_field() -> None:
    numbers = {new_order_no(START) for _ in range(10_000)}
    assert len(numbers) == 10_000
    assert all(len(n) <= 60 for n in numbers)


@pytest.mark.parametrize("quantity", [0, -1, 100])
def test_quantities_outside_1_to_99_are_refused(quantity: int) -> None:
    with pytest.raises(InvalidInput):
        check_quantity(quantity)


def test_an_idempotency_key_is_required_and_bounded() -> None:
    for bad in (None, "", "   ", "x" * 129):
        with pytest.raises(InvalidInput):
            check_idempotency_key(bad)
    assert check_idempotency_key("  abc  ") == "abc"


def test_a_key_reused_for_another_purchase_is_refused() -> None:
    check_same_request(1, 2, 1, 2)
    with pytest.raises(InvalidInput):
        check_same_request(1, 2, 1, 1)
    with pytest.raises(InvalidInput):
        check_same_request(1, 2, 9, 2)


def test_only_unpaid_orders_can_be_cancelled_by_the_buyer() -> None:
    check_cancellable_by_buyer(OrderStatus.PENDING_PAYMENT)
    for status in (OrderStatus.PAID, OrderStatus.EXPIRED, OrderStatus.CANCELLED):
        with pytest.raises(Conflict):
            check_cancellable_by_buyer(status)


def test_order_numbers_carry_the_second_and_48_random_bits() -> None:
    from flashport.domain.orders import new_order_no

    first = new_order_no(datetime(2026, 11, 25, 12, 0, 0, 5, tzinfo=UTC))
    same_second = new_order_no(datetime(2026, 11, 25, 12, 0, 0, 900_000, tzinfo=UTC))
    next_second = new_order_no(datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC))
    assert first[:16] == same_second[:16] == "FP20261125120000"
    assert next_second[:16] == "FP20261125120001"
    assert len(first) == 28 and first != same_second
    assert all(c in "0123456789ABCDEF" for c in first[16:] + same_second[16:])


def test_a_saved_purchase_reads_back_as_it_was_written() -> None:
    saved = SavedPurchase(
        "8c1f6f2e-1f0b-4c1e-9a55-6f1b2d3c4e5f",
        "FP20261203171500ABCDEF012345",
        42,
        3,
        12_345,
        datetime(2026, 12, 3, 17, 15, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 3, 17, 35, 0, 123456, tzinfo=UTC),
    )
    assert SavedPurchase.decode(saved.encode()) == saved
    assert SavedPurchase.decode(saved.order_id) is None  # a bare order id: not known to be saved
