"""The record benchmark through the waiting room (issue 19, point 1: on by default for the record): the
lean generator's buyers join, are admitted and buy with their token on one keep-alive connection each;
no buyer buys without its queue's token, and the item sells out exactly."""

from __future__ import annotations

from flashport.app import create_app
from flashport.bench.loadgen import RoomBuyers, Target, Volley, fire_here
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.waiting_room import rooms
from tests.factories import make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import serving


async def test_the_lean_generators_buyers_join_the_queue_and_buy_with_their_tokens(buy_ctx: Context) -> None:
    ctx = buy_ctx
    ctx.settings = ctx.settings.model_copy(update={"queue_refresh_seconds": 0.05, "queue_challenge_bits": 0})
    sale = await make_sale(ctx, quantity=30, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=10_000))
    tokens = [token for _, token in await make_buyers(ctx, 40)]
    async with serving(create_app(ctx=ctx)) as url:
        target = Target.from_url(url)
        volley = Volley(RoomBuyers(target, sale.item_id, "room", tokens, range(len(tokens))))
        await fire_here(target, volley, connections=8)
    firing = volley.firing
    assert firing.outcomes["201"] == 30, firing.outcomes
    assert set(firing.outcomes) <= {"201", "409 sold_out", "409 sold_out (in the queue)"}, firing.outcomes
    assert len(firing.queue_ns) == 40  # every buyer had its answer from the queue first
    figures = await rooms.figures(ctx, sale.item_id)
    assert figures.queued == 40 and figures.admitted >= 30
