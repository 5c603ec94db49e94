"""The pure rules of events and sale items, at their exact boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from flashport.domain.catalog import WarehouseKind
from flashport.domain.errors import Conflict, InvalidInput
from flashport.domain.sales import (
    EventState,
    EventStatus,
    Fulfilment,
    Listing,
    SalePolicy,
    all_sold_out,
    banner_url,
    channel_name,
    check_cancellable,
    check_editable,
    check_item_removable,
    check_item_terms,
    check_price_band,
    check_quantity_covers,
    check_schedulable,
    check_start_change,
    check_window,
    derive_status,
    discount_percent,
    fulfilment_for,
    is_public,
    stored_state,
)

POLICY = SalePolicy(timedelta(days=5), timedelta(days=10), Decimal("0.10"), Decimal("0.50"))
START = datetime(2030, 6, 1, 2, 0, tzinfo=UTC)
END = START + timedelta(days=7)
TICK = timedelta(microseconds=1)


def _code(exc: pytest.ExceptionInfo[Exception]) -> str:
    code: str = getattr(exc.value, "code", "")
    return code


@pytest.mark.parametrize("days", [5, 7, 10])
def test_an_event_of_five_to_ten_days_is_within_policy(days: int) -> None:
    check_window(START, START + timedelta(days=days), POLICY)


@pytest.mark.parametrize("length", [timedelta(days=5) - TICK, timedelta(days=10) + TICK])
def test_an_event_a_moment_outside_the_policy_is_refused(length: timedelta) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_window(START, START + length, POLICY)
    assert _code(exc) == "event_length_out_of_policy"


def test_an_event_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_window(START, START, POLICY)
    assert _code(exc) == "invalid_window"


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_window(START.replace(tzinfo=None), END, POLICY)
    assert _code(exc) == "naive_datetime"


@pytest.mark.parametrize("sale_fen", [1_000, 3_000, 5_000])
def test_a_price_from_ten_to_fifty_percent_is_in_band(sale_fen: int) -> None:
    check_price_band(10_000, sale_fen, POLICY)


@pytest.mark.parametrize("sale_fen", [999, 5_001])
def test_a_price_one_fen_outside_the_band_is_refused(sale_fen: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_price_band(10_000, sale_fen, POLICY)
    assert _code(exc) == "price_out_of_band"
    assert exc.value.details[0].field == "sale_price"  # type: ignore[attr-defined]


def _status(now: datetime, sold_out: bool = False, state: EventState = EventState.SCHEDULED) -> EventStatus:
    return derive_status(state, START, END, now, sold_out)


def test_a_scheduled_event_is_upcoming_until_its_start() -> None:
    assert _status(START - TICK) is EventStatus.SCHEDULED


def test_an_event_is_live_from_its_exact_start() -> None:
    assert _status(START) is EventStatus.LIVE
    assert _status(END - TICK) is EventStatus.LIVE


def test_an_event_has_ended_at_its_exact_end() -> None:
    assert _status(END) is EventStatus.ENDED


def test_a_live_event_whose_items_are_all_sold_out_has_ended() -> None:
    assert _status(START, sold_out=True) is EventStatus.ENDED
    assert _status(START - TICK, sold_out=True) is EventStatus.SCHEDULED


def test_drafts_and_cancelled_events_keep_their_state_whatever_the_time() -> None:
    for now in (START - TICK, START, END):
        assert _status(now, state=EventState.DRAFT) is EventStatus.DRAFT
        assert _status(now, state=EventState.CANCELLED) is EventStatus.CANCELLED


def test_all_sold_out_needs_items_and_every_one_empty() -> None:
    assert all_sold_out([0, 0])
    assert not all_sold_out([0, 1])
    assert not all_sold_out([])


def test_only_drafts_and_not_yet_started_events_are_editable() -> None:
    check_editable(EventStatus.DRAFT)
    check_editable(EventStatus.SCHEDULED)
    for status in (EventStatus.LIVE, EventStatus.ENDED, EventStatus.CANCELLED):
        with pytest.raises(Conflict) as exc:
            check_editable(status)
        assert _code(exc) == "event_not_editable"


def test_scheduling_needs_a_draft_an_item_and_a_future_start() -> None:
    check_schedulable(EventState.DRAFT, START, START - TICK, 1)
    with pytest.raises(Conflict, match="at least one item"):
        check_schedulable(EventState.DRAFT, START, START - TICK, 0)
    with pytest.raises(Conflict, match="past"):
        check_schedulable(EventState.DRAFT, START, START, 1)
    with pytest.raises(Conflict, match="only a draft"):
        check_schedulable(EventState.SCHEDULED, START, START - TICK, 1)


def test_ended_and_cancelled_events_cannot_be_cancelled() -> None:
    for status in (EventStatus.DRAFT, EventStatus.SCHEDULED, EventStatus.LIVE):
        check_cancellable(status)
    for status in (EventStatus.ENDED, EventStatus.CANCELLED):
        with pytest.raises(Conflict):
            check_cancellable(status)


def test_a_scheduled_event_cannot_be_moved_into_the_past() -> None:
    check_start_change(EventState.DRAFT, START, START)
    check_start_change(EventState.SCHEDULED, START, START - TICK)
    with pytest.raises(Conflict):
        check_start_change(EventState.SCHEDULED, START, START)


@pytest.mark.parametrize(
    ("quantity", "limit"), [(1, 1), (100, 100), (100, 1)], ids=["one", "limit-equals-quantity", "typical"]
)
def test_item_terms_within_bounds_pass(quantity: int, limit: int) -> None:
    check_item_terms(quantity, limit)


@pytest.mark.parametrize(
    ("quantity", "limit", "code"),
    [
        (0, 1, "invalid_quantity"),
        (-3, 1, "invalid_quantity"),
        (10, 0, "invalid_per_buyer_limit"),
        (10, 11, "invalid_per_buyer_limit"),
    ],
)
def test_item_terms_out_of_bounds_are_refused(quantity: int, limit: int, code: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_item_terms(quantity, limit)
    assert _code(exc) == code


def test_quantity_never_drops_below_units_reserved_or_sold() -> None:
    check_quantity_covers(5, 5)
    with pytest.raises(Conflict):
        check_quantity_covers(4, 5)


def test_the_last_item_of_a_scheduled_event_stays() -> None:
    check_item_removable(EventState.DRAFT, 1, 0)
    check_item_removable(EventState.SCHEDULED, 2, 0)
    with pytest.raises(Conflict):
        check_item_removable(EventState.SCHEDULED, 1, 0)
    with pytest.raises(Conflict):
        check_item_removable(EventState.DRAFT, 2, 1)


def test_discount_is_percent_off_rounded_down() -> None:
    assert discount_percent(10_000, 3_000) == 70
    assert discount_percent(10_000, 3_333) == 66  # 66.67 % is advertised as 66 %
    assert discount_percent(10_000, 5_000) == 50


def test_the_warehouse_decides_the_fulfilment_mode() -> None:
    assert fulfilment_for(WarehouseKind.BONDED) is Fulfilment.BONDED
    assert fulfilment_for(WarehouseKind.OVERSEAS) is Fulfilment.DIRECT


def test_channels_are_normalised_slugs() -> None:
    assert channel_name("  Global-Flash-Sale ") == "global-flash-sale"
    for bad in ("", "global flash", "-sale", "a" * 65):
        with pytest.raises(InvalidInput):
            channel_name(bad)


def test_banner_must_be_an_http_url() -> None:
    assert banner_url(None) is None
    assert banner_url(" https://cdn.example.com/b.jpg ") == "https://cdn.example.com/b.jpg"
    with pytest.raises(InvalidInput):
        banner_url("javascript:alert(1)")


def test_buyers_see_only_announced_events_and_listings_map_to_statuses() -> None:
    assert is_public(EventState.SCHEDULED)
    assert not is_public(EventState.DRAFT)
    assert not is_public(EventState.CANCELLED)
    assert Listing.LIVE.status is EventStatus.LIVE
    assert Listing.UPCOMING.status is EventStatus.SCHEDULED
    assert stored_state(EventStatus.ENDED) is EventState.SCHEDULED
    assert stored_state(EventStatus.DRAFT) is EventState.DRAFT
