"""Benchmark tokens are the server's own: minted by issue_token, accepted by verify_token."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from sqlalchemy.ext.asyncio import AsyncEngine

from flashport.bench.setup import ORIGINAL_PRICE_FEN, SALE_PRICE_FEN, mint_tokens, new_run_id
from flashport.domain.accounts import Principal, Role
from flashport.domain.sales import check_price_band
from flashport.services.accounts.tokens import verify_token
from flashport.services.context import Context
from flashport.settings import Settings


def test_minted_tokens_identify_each_buyer_to_the_server(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, secret_key="s" * 40)
    tokens = mint_tokens(settings, [11, 12, 13], processes=1)
    server = Context(settings=settings, engine=cast(AsyncEngine, None))
    assert [verify_token(server, t) for t in tokens] == [Principal(n, Role.BUYER) for n in (11, 12, 13)]


def test_the_bench_price_lies_inside_the_default_price_band(tmp_path: Path) -> None:
    ctx = Context(settings=Settings(env="test", data_dir=tmp_path), engine=cast(AsyncEngine, None))
    check_price_band(ORIGINAL_PRICE_FEN, SALE_PRICE_FEN, ctx.policy)


def test_run_ids_are_short_and_safe_in_emails_and_codes() -> None:
    run_id = new_run_id()
    assert len(run_id) == 8 and run_id.isalnum() and run_id == run_id.lower()
    assert new_run_id() != run_id
