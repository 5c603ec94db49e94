"""Benchmark tokens are the server's own: minted by issue_token, accepted by verify_token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flashport.bench.setup import ORIGINAL_PRICE_FEN, SALE_PRICE_FEN, mint_tokens, new_run_id
from flashport.domain.accounts import Principal, Role
from flashport.domain.sales import SalePolicy, check_price_band
from flashport.services.accounts.tokens import verify_token
from flashport.settings import Settings


def test_minted_tokens_identify_each_buyer_to_the_server(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, secret_key="s" * 40)
    tokens = mint_tokens(settings, [11, 12, 13], processes=1)
    now = datetime.now(UTC)
    assert [verify_token(settings, t, now) for t in tokens] == [
        Principal(n, Role.BUYER) for n in (11, 12, 13)
    ]


def test_the_bench_price_lies_inside_the_default_price_band(tmp_path: Path) -> None:
    s = Settings(env="test", data_dir=tmp_path)
    policy = SalePolicy(s.event_min_length, s.event_max_length, s.price_band_min, s.price_band_max)
    check_price_band(ORIGINAL_PRICE_FEN, SALE_PRICE_FEN, policy)


def test_run_ids_are_short_and_safe_in_emails_and_codes() -> None:
    run_id = new_run_id()
    assert len(run_id) == 8 and run_id.isalnum() and run_id == run_id.lower()
    assert new_run_id() != run_id
