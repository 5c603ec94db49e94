"""A buyer's notifications: preferences (language, mobile, kinds turned off), "remind me" for an
upcoming sale, the waitlist of a sold-out item, and the messages sent lately."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from flashport.api.deps import BuyerOnly, get_ctx, roles_doc
from flashport.api.inputs import Id, Input
from flashport.domain.accounts import Principal, Role
from flashport.domain.notifications import MUTABLE_KINDS, Kind, Preferences
from flashport.services.context import Context
from flashport.services.notify import preferences, reminders, waitlist
from flashport.services.notify.waitlist import Standing

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class PreferencesIn(Input):
    language: str = Field(default="zh-CN", examples=["zh-CN", "en"])
    mobile: str | None = Field(default=None, max_length=20, examples=["13800138000"])
    muted: list[str] = Field(default_factory=list, max_length=len(Kind), examples=[["shipped"]])


class PreferencesOut(BaseModel):
    language: str
    mobile: str | None
    muted: list[Kind]
    kinds: list[Kind] = Field(description="every kind of message a buyer can turn off, for a settings screen")


class ReminderOut(BaseModel):
    event_id: int
    reminded: bool


class StandingOut(BaseModel):
    item_id: int
    waiting: bool
    ahead: int = Field(description="buyers still waiting before this one (0: next)")
    told_at: datetime | None = Field(description="units came back and this buyer was told")


def _prefs_out(prefs: Preferences) -> PreferencesOut:
    return PreferencesOut(
        language=prefs.language, mobile=prefs.mobile, muted=sorted(prefs.muted), kinds=list(MUTABLE_KINDS)
    )


def _standing_out(s: Standing) -> StandingOut:
    return StandingOut(item_id=s.item_id, waiting=s.waiting, ahead=s.ahead, told_at=s.told_at)


@router.get(
    "/me/notification-preferences",
    response_model=PreferencesOut,
    summary="The calling buyer's notification preferences",
    **roles_doc(Role.BUYER),
)
async def get_preferences(who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> PreferencesOut:
    return _prefs_out(await preferences.of_buyer(ctx, who.user_id))


@router.put(
    "/me/notification-preferences",
    response_model=PreferencesOut,
    summary="Replace the calling buyer's notification preferences",
    **roles_doc(Role.BUYER, errors=(422,)),
)
async def put_preferences(
    body: PreferencesIn, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> PreferencesOut:
    return _prefs_out(await preferences.save(ctx, who.user_id, body.language, body.mobile, body.muted))


@router.post(
    "/sale-events/{event_id}/reminder",
    response_model=ReminderOut,
    summary="Remind me when this upcoming sale opens",
    **roles_doc(Role.BUYER, errors=(404, 409)),
)
async def remind_me(event_id: Id, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> ReminderOut:
    await reminders.remind(ctx, who.user_id, event_id)
    return ReminderOut(event_id=event_id, reminded=True)


@router.delete(
    "/sale-events/{event_id}/reminder",
    response_model=ReminderOut,
    summary="No reminder for this sale after all",
    **roles_doc(Role.BUYER),
)
async def forget_me(event_id: Id, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> ReminderOut:
    await reminders.forget(ctx, who.user_id, event_id)
    return ReminderOut(event_id=event_id, reminded=False)


@router.get(
    "/sale-items/{item_id}/waitlist",
    response_model=StandingOut,
    summary="Where the calling buyer stands on a sold-out item's waitlist",
    **roles_doc(Role.BUYER),
)
async def my_place(item_id: Id, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)) -> StandingOut:
    return _standing_out(await waitlist.standing(ctx, who.user_id, item_id))


@router.post(
    "/sale-items/{item_id}/waitlist",
    response_model=StandingOut,
    summary="Join a sold-out item's waitlist (one place per buyer; told first come first served)",
    **roles_doc(Role.BUYER, errors=(404, 409)),
)
async def join_waitlist(
    item_id: Id, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> StandingOut:
    return _standing_out(await waitlist.join(ctx, who.user_id, item_id))


@router.delete(
    "/sale-items/{item_id}/waitlist",
    response_model=StandingOut,
    summary="Leave a waitlist",
    **roles_doc(Role.BUYER),
)
async def leave_waitlist(
    item_id: Id, who: Principal = BuyerOnly, ctx: Context = Depends(get_ctx)
) -> StandingOut:
    return _standing_out(await waitlist.leave(ctx, who.user_id, item_id))
