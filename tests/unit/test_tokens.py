"""Bearer tokens: what verify_token accepts and what it refuses (it runs on every buy, so it has its
own check of the HS256 signature instead of PyJWT's; these cases hold it to PyJWT's own verdicts)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from flashport.domain.accounts import Principal, Role
from flashport.domain.errors import Unauthenticated
from flashport.services.accounts.tokens import issue_token, verify_token
from flashport.settings import Settings

SECRET = "s" * 40
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Issuer:
    """What tokens need of a process: its settings (the secret, the lifetime) and its clock."""

    settings: Settings
    clock: Callable[[], datetime]


@pytest.fixture
def ctx(tmp_path: Path) -> Issuer:
    settings = Settings(env="test", data_dir=tmp_path, secret_key=SECRET, token_ttl_seconds=3600)
    return Issuer(settings=settings, clock=lambda: NOW)


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "sub": "7",
        "role": "buyer",
        "sup": None,
        "ver": 0,
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 60,
    }
    return {k: v for k, v in (claims | changes).items() if v is not ...}


def _hs512_with_our_key() -> str:
    with warnings.catch_warnings():  # PyJWT finds a 40-byte key short for HS512: the point here
        warnings.simplefilter("ignore")
        return jwt.encode(_claims(), SECRET, algorithm="HS512")


def test_a_token_the_platform_issued_names_its_holder(ctx: Issuer) -> None:
    token = issue_token(ctx.settings, Principal(42, Role.OPERATOR), ctx.clock())
    assert verify_token(ctx.settings, token, ctx.clock()) == Principal(42, Role.OPERATOR)
    assert verify_token(ctx.settings, token, ctx.clock()) == Principal(
        42, Role.OPERATOR
    )  # the prepared key is reused


def test_a_token_expires_by_the_platforms_clock(ctx: Issuer) -> None:
    token = issue_token(ctx.settings, Principal(42, Role.BUYER), ctx.clock())
    later = Issuer(settings=ctx.settings, clock=lambda: NOW + timedelta(seconds=3600))
    with pytest.raises(Unauthenticated):
        verify_token(later.settings, token, later.clock())
    almost = Issuer(settings=ctx.settings, clock=lambda: NOW + timedelta(seconds=3599))
    assert verify_token(almost.settings, token, almost.clock()) == Principal(42, Role.BUYER)


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(_claims(), "another secret of forty characters......", algorithm="HS256"),
        _hs512_with_our_key(),  # the right key, but only HS256 is accepted
        jwt.encode(_claims(), None, algorithm="none"),  # unsigned
        jwt.encode(_claims(exp=...), SECRET, algorithm="HS256"),
        jwt.encode(_claims(exp="never"), SECRET, algorithm="HS256"),
        jwt.encode(_claims(exp=True), SECRET, algorithm="HS256"),
        jwt.encode(_claims(sub=...), SECRET, algorithm="HS256"),
        jwt.encode(_claims(role="root"), SECRET, algorithm="HS256"),
        jwt.encode(_claims(sub="seven"), SECRET, algorithm="HS256"),
        "not.a.token",
        "",
    ],
    ids=[
        "other-key",
        "hs512",
        "alg-none",
        "no-exp",
        "text-exp",
        "bool-exp",
        "no-sub",
        "unknown-role",
        "text-sub",
        "garbage",
        "empty",
    ],
)
def test_a_token_not_ours_or_malformed_is_refused(ctx: Issuer, token: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        verify_token(ctx.settings, token, ctx.clock())
    assert refused.value.code == "invalid_token"


def test_a_tampered_payload_is_refused(ctx: Issuer) -> None:
    header, _, signature = issue_token(ctx.settings, Principal(42, Role.BUYER), ctx.clock()).split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"1","role":"operator","exp":9999999999}').decode()
    with pytest.raises(Unauthenticated):
        verify_token(ctx.settings, f"{header}.{forged}.{signature}", ctx.clock())


def _tampered_variants(token: str) -> list[str]:
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{head}.{payload}.{flipped}",  # another signature
        f"{head}.{payload}.{signature}!",  # a character outside base64url
        f"{head}.{payload}.{signature[:10]} {signature[10:]}",  # a space inside the signature
        f"{head}.{payload}.{signature}==",  # padding where none belongs
        f"{head}.{payload}",  # no signature segment
        f"{head}.{payload}.{signature}.{signature}",  # five parts (JWE-shaped)
        f"{head}..{signature}",  # empty payload
        f"{payload}.{head}.{signature}",  # segments swapped
        f"{head}.{payload}.{signature}é",  # not ASCII
        "",
    ]


def test_tampered_tokens_are_refused_as_pyjwt_refuses_them(ctx: Issuer) -> None:
    token = issue_token(ctx.settings, Principal(42, Role.BUYER), ctx.clock())
    for variant in _tampered_variants(token):
        with pytest.raises(jwt.PyJWTError):
            jwt.decode(variant, SECRET, algorithms=["HS256"], options={"verify_exp": False})
        with pytest.raises(Unauthenticated):
            verify_token(ctx.settings, variant, ctx.clock())


def test_header_extensions_and_other_algorithms_are_refused(ctx: Issuer) -> None:
    for headers in ({"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}):
        token = jwt.encode(_claims(), SECRET, algorithm="HS256", headers=headers)
        with pytest.raises(Unauthenticated):
            verify_token(ctx.settings, token, ctx.clock())
    with warnings.catch_warnings():  # PyJWT finds a 40-byte key short for HS384: the point here
        warnings.simplefilter("ignore")
        hs384 = jwt.encode(_claims(), SECRET, algorithm="HS384")
    with pytest.raises(Unauthenticated):
        verify_token(ctx.settings, hs384, ctx.clock())


def test_any_token_pyjwt_signs_with_the_platform_key_and_hs256_is_accepted(ctx: Issuer) -> None:
    for extra in ({}, {"kid": "k1"}, {"typ": None}):
        token = jwt.encode(_claims(sub="9"), SECRET, algorithm="HS256", headers=extra or None)
        assert verify_token(ctx.settings, token, ctx.clock()) == Principal(9, Role.BUYER)


def test_each_secret_checks_only_its_own_tokens(ctx: Issuer, tmp_path: Path) -> None:
    other_settings = Settings(env="test", data_dir=tmp_path, secret_key="o" * 40, token_ttl_seconds=3600)
    other = Issuer(settings=other_settings, clock=ctx.clock)
    ours, theirs = (
        issue_token(ctx.settings, Principal(1, Role.BUYER), ctx.clock()),
        issue_token(other.settings, Principal(2, Role.BUYER), other.clock()),
    )
    for _ in range(2):  # the keys prepared for one secret are never used for another, in either order
        assert verify_token(ctx.settings, ours, ctx.clock()) == Principal(1, Role.BUYER)
        assert verify_token(other.settings, theirs, other.clock()) == Principal(2, Role.BUYER)
        with pytest.raises(Unauthenticated):
            verify_token(ctx.settings, theirs, ctx.clock())
        with pytest.raises(Unauthenticated):
            verify_token(other.settings, ours, other.clock())
