"""Settings of the sandbox logistics provider, read from ``FLASHPORT_SANDBOX_LOGISTICS_*`` variables.

The sandbox plays one carrier registered with customs: it declares its waybills (CEB511) under
``customs_code`` / ``customs_name`` from the data-exchange id ``dxp_id``, to the single window at
``customs_url``, and serves one platform, which proves itself with ``api_key``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogisticsSimSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLASHPORT_SANDBOX_LOGISTICS_", extra="ignore", frozen=True, populate_by_name=True
    )

    data_dir: Path = Field(
        default=Path("data"),
        # The same folder as the platform's by default, like the other sandboxes.
        validation_alias=AliasChoices("FLASHPORT_SANDBOX_LOGISTICS_DATA_DIR", "FLASHPORT_DATA_DIR"),
        description="The waybill record lives in data_dir/sandbox-logistics/.",
    )
    customs_url: str = Field(
        default="http://127.0.0.1:8000/sandbox/customs",
        min_length=1,
        description="Base URL of the single window's HTTP binding (POST {customs_url}/dxp/messages).",
    )
    customs_code: str = Field(
        default="3100000SL1", min_length=1, max_length=18, description="The carrier's customs code."
    )
    customs_name: str = Field(
        default="Flashport Sandbox Logistics Co., Ltd.",
        min_length=1,
        max_length=100,
        description="The carrier's registered name (logisticsName, copName).",
    )
    dxp_id: str = Field(
        default="DXPENT0000000003", min_length=1, description="Where customs puts the CEB512 receipts."
    )
    api_key: str = Field(
        default="sandbox-logistics-key",
        min_length=1,
        description="The platform sends it as 'Authorization: Bearer <key>' on every request.",
    )
    customs_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    customs_batch_size: int = Field(default=100, ge=1, le=100, description="Waybills per CEB511, at most.")
    customs_batch_window_ms: float = Field(
        default=50, ge=0, le=5000, description="How long a waybill waits for others to share its CEB511."
    )
    declare_retry_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="Pause between rounds of resending undelivered CEB511s."
    )

    platform_url: str | None = Field(
        default=None,
        description="The platform's address: with a partner key, the carrier follows its partner feed "
        "there (GET {platform_url}/api/v1/partner/feed) and takes over the parcels it releases.",
    )
    partner_key: str | None = Field(
        default=None,
        description="The carrier's partner API key at the platform (fpk_...); unset: read from "
        "state_dir/partner-key if that file exists (the demo writes it), else no feed is followed.",
    )
    feed_poll_seconds: float = Field(default=0.5, gt=0, le=3600, description="Pause after an empty page.")
    feed_page_size: int = Field(default=500, ge=1, le=1000, description="Events read per page of the feed.")

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "sandbox-logistics"

    @property
    def partner_key_file(self) -> Path:
        return self.state_dir / "partner-key"

    def feed_key(self) -> str | None:
        """The partner key to follow the feed with, if the carrier has one."""
        if self.partner_key:
            return self.partner_key
        if self.partner_key_file.is_file():
            return self.partner_key_file.read_text().strip() or None
        return None

    @property
    def waybills_file(self) -> Path:
        return self.state_dir / "waybills.sqlite3"
