"""Keys made per deployment, rotated with a grace period, and sessions that end (no database)."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from flashport.adapters.identity_vault import IdentityVault
from flashport.adapters.session_revocations import RevocationList
from flashport.domain.accounts import Principal, Role
from flashport.domain.errors import Unauthenticated
from flashport.keyring import SECRETS_FILE
from flashport.services.accounts.tokens import issue_token, verify_token
from flashport.settings import Settings

NOW = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def test_outside_production_keys_are_made_once_per_data_dir_and_kept_private(tmp_path: Path) -> None:
    first = Settings(env="development", data_dir=tmp_path).keys
    again = Settings(env="development", data_dir=tmp_path).keys
    elsewhere = Settings(env="development", data_dir=tmp_path / "other").keys
    assert first == again  # every process of one deployment reads the same keys
    assert first.secret != elsewhere.secret and first.identity_keys != elsewhere.identity_keys
    assert len(first.secret) >= 32 and first.identity_hash_key != first.secret
    assert stat.S_IMODE(os.stat(tmp_path / SECRETS_FILE).st_mode) == 0o600
    Fernet(first.identity_keys[0].encode())  # a valid Fernet key


def test_a_set_key_wins_and_production_refuses_to_start_without_real_ones(tmp_path: Path) -> None:
    keys = Settings(env="test", data_dir=tmp_path, secret_key="k" * 40).keys
    assert keys.secret == "k" * 40
    with pytest.raises(ValidationError, match="FLASHPORT_SECRET_KEY"):
        Settings(env="production", data_dir=tmp_path)
    with pytest.raises(ValidationError, match="FLASHPORT_IDENTITY_HASH_KEY"):
        Settings(env="production", data_dir=tmp_path, secret_key="k" * 40)


def test_a_rotated_secret_keeps_old_tokens_valid_while_listed(tmp_path: Path) -> None:
    old = Settings(env="test", data_dir=tmp_path, secret_key="o" * 40, token_ttl_seconds=3600)
    token = issue_token(old, Principal(5, Role.BUYER), NOW)
    rotated = Settings(
        env="test",
        data_dir=tmp_path,
        secret_key="n" * 40,
        previous_secret_keys="o" * 40,
        token_ttl_seconds=3600,
    )
    assert verify_token(rotated, token, NOW) == Principal(5, Role.BUYER)
    fresh = issue_token(rotated, Principal(5, Role.BUYER), NOW)
    with pytest.raises(Unauthenticated):  # new tokens use the new secret only
        verify_token(old, fresh, NOW)
    after_grace = Settings(env="test", data_dir=tmp_path, secret_key="n" * 40, token_ttl_seconds=3600)
    with pytest.raises(Unauthenticated):
        verify_token(after_grace, token, NOW)


def test_a_rotated_identity_key_still_opens_old_numbers_and_reseals_them(tmp_path: Path) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old = IdentityVault(Settings(env="test", data_dir=tmp_path, identity_key=old_key))
    sealed = old.seal("110105199003070025")
    rotated = IdentityVault(
        Settings(env="test", data_dir=tmp_path, identity_key=new_key, previous_identity_keys=old_key)
    )
    assert rotated.open(sealed) == "110105199003070025"
    resealed = rotated.reseal(sealed)
    after_grace = IdentityVault(Settings(env="test", data_dir=tmp_path, identity_key=new_key))
    assert after_grace.open(resealed) == "110105199003070025"


def test_a_token_older_than_its_users_session_version_is_refused(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, secret_key="s" * 40, token_ttl_seconds=3600)
    revoked = RevocationList(None, poll_seconds=1, keep=timedelta(hours=1))  # type: ignore[arg-type]
    before = issue_token(settings, Principal(8, Role.BUYER, None, 0), NOW)
    assert verify_token(settings, before, NOW, revoked).user_id == 8
    revoked.apply(8, 1)  # log-out
    with pytest.raises(Unauthenticated, match="session has ended"):
        verify_token(settings, before, NOW, revoked)
    after = issue_token(settings, Principal(8, Role.BUYER, None, 1), NOW)
    assert verify_token(settings, after, NOW, revoked).session_version == 1
    revoked.apply(8, 0)  # an older raise heard late changes nothing
    with pytest.raises(Unauthenticated):
        verify_token(settings, before, NOW, revoked)
