"""The purchase request reader's rules and the one error mapping, without a server (the parity of the
three lanes over real sockets is tests/integration/test_buy_lanes_parity.py)."""

from __future__ import annotations

import pytest

from flashport.api.buy.request import MAX_ITEM_ID, item_id_of, key_of, quantity_of
from flashport.domain.errors import (
    Conflict,
    DomainError,
    InProgress,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from flashport.http_errors import answer_for, status_for


def code_of(call: object, *args: object) -> str:
    with pytest.raises(DomainError) as refused:
        call(*args)  # type: ignore[operator]
    return refused.value.code


@pytest.mark.parametrize(
    ("body", "quantity"),
    [(b'{"quantity": 2}', 2), (b"{}", 1), (b'{"quantity": 1, "note": "gift"}', 1), (b' {"quantity":99}', 99)],
)
def test_a_json_object_with_an_integer_quantity_is_read(body: bytes, quantity: int) -> None:
    assert quantity_of(body) == quantity


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"quantity": "2"}', "validation_error"),
        (b'{"quantity": 2.0}', "validation_error"),
        (b'{"quantity": 1e3}', "validation_error"),
        (b'{"quantity": true}', "validation_error"),
        (b'{"quantity": null}', "validation_error"),
        (b"null", "validation_error"),
        (b"", "validation_error"),
        (b"{", "validation_error"),
        (b'{"quantity": 0}', "invalid_quantity"),
        (b'{"quantity": 100}', "invalid_quantity"),
        (b'{"quantity": 18446744073709551616}', "invalid_quantity"),  # read exactly, not as a float
    ],
)
def test_anything_but_a_json_integer_quantity_in_range_is_refused(body: bytes, code: str) -> None:
    assert code_of(quantity_of, body) == code


def test_item_ids_are_ascii_digits_within_64_bits() -> None:
    assert item_id_of("42") == item_id_of(b"42") == 42
    assert item_id_of(str(MAX_ITEM_ID)) == MAX_ITEM_ID
    for bad in ("0", "-1", "+1", "1.0", "abc", "", "١٢", str(MAX_ITEM_ID + 1), "9" * 40):
        assert code_of(item_id_of, bad) == "validation_error", bad


def test_the_idempotency_key_is_required_and_printable_ascii_up_to_128_characters() -> None:
    assert key_of(b"  order-1 ") == "order-1"
    assert key_of(b"k" * 128) == "k" * 128
    assert code_of(key_of, None) == code_of(key_of, b"  ") == "idempotency_key_required"
    for bad in (b"k" * 129, "ключ".encode(), b"a\tb", b"a\x00b"):
        assert code_of(key_of, bad) == "invalid_idempotency_key", bad


def test_domain_errors_map_to_one_status_and_the_headers_that_say_how_to_retry() -> None:
    assert [status_for(e("x")) for e in (InvalidInput, NotFound, Conflict, ServiceUnavailable)] == [
        422,
        404,
        409,
        503,
    ]
    challenge = answer_for(Unauthenticated("who are you", code="missing_token"))
    assert (challenge.status, challenge.headers) == (401, (("www-authenticate", "Bearer"),))
    slow_down = answer_for(RateLimited("too fast", retry_after=7))
    assert (slow_down.status, slow_down.headers) == (429, (("retry-after", "7"),))
    assert slow_down.body() == {"code": "rate_limited", "message": "too fast", "details": []}
    pending = answer_for(InProgress("still deciding", code="idempotency_key_in_progress"))
    assert (pending.status, pending.headers) == (409, (("retry-after", "1"),))
    assert answer_for(Conflict("sold out", code="sold_out")).headers == ()  # final: nothing to retry


async def test_a_task_dump_shows_what_each_task_waits_on_down_to_the_innermost_await() -> None:
    import asyncio

    from flashport.task_dump import dump_tasks

    async def waits_for_the_database(gate: asyncio.Future[None]) -> None:
        await gate

    async def purchase(gate: asyncio.Future[None]) -> None:
        await waits_for_the_database(gate)

    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stuck = [asyncio.create_task(purchase(gate)) for _ in range(3)]
    await asyncio.sleep(0)
    report = dump_tasks()
    gate.set_result(None)
    await asyncio.gather(*stuck)
    entry = next(part for part in report.split("--- ") if "in purchase" in part)
    assert entry.startswith("3 task(s):")  # the same chain counted once
    assert entry.index("in purchase") < entry.index("in waits_for_the_database")
