"""Settings of the sandbox payment provider, read from ``FLASHPORT_SANDBOX_*`` variables.

The sandbox plays Alipay for one merchant app: it trusts requests signed with that app's key and signs
everything it sends with its own provider key (both generated under ``data_dir/sandbox-pay/``). As a
payment company it also declares payments to customs (CEB411) under its own ``customs_code`` and
``dxp_id``, at the single window found at ``customs_url``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flashport.sandbox_pay.identity import is_resident_id_number

# Alipay's own retry schedule for notifications: 8 attempts over about 25 hours.
ALIPAY_NOTIFY_SCHEDULE = [240.0, 600.0, 600.0, 3600.0, 7200.0, 21600.0, 54000.0]


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLASHPORT_SANDBOX_", extra="ignore", frozen=True, populate_by_name=True
    )

    data_dir: Path = Field(
        default=Path("data"),
        # The same folder as the platform's by default, so the platform finds the demo keys there.
        validation_alias=AliasChoices("FLASHPORT_SANDBOX_DATA_DIR", "FLASHPORT_DATA_DIR"),
        description="Keys and the trade record live in data_dir/sandbox-pay/.",
    )
    app_id: str = Field(default="2026000000000001", description="The one merchant app the sandbox serves.")
    seller_id: str = Field(default="2088102000000001", description="The merchant's partner id (PID).")
    merchant_name: str = Field(default="Flashport", description="Shown on the hosted payment page.")
    merchant_public_key: str | None = Field(
        default=None,
        description="PEM or bare base64; default: merchant_public.pem in the keys folder.",
    )
    notify_schedule: list[float] = Field(
        default_factory=lambda: list(ALIPAY_NOTIFY_SCHEDULE),
        description="Seconds to wait before each retry of an unacknowledged notification (JSON list).",
    )
    notify_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    demo_payer_name: str = Field(default="李娜", min_length=1)
    demo_payer_id_number: str = Field(default="110105199003070025", description="Prefilled on the page.")
    customs_url: str = Field(
        default="http://127.0.0.1:8000/sandbox/customs",
        description="The single window's HTTP binding, where payment vouchers (CEB411) are sent.",
    )
    customs_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Below the merchant's own timeout, so it hears why."
    )
    customs_code: str = Field(
        default="31222699S7", min_length=1, max_length=18, description="payCode: the payment company."
    )
    customs_batch_size: int = Field(
        default=100, ge=1, le=100, description="Payment vouchers per CEB411 message, at most."
    )
    customs_batch_window_ms: float = Field(
        default=50,
        ge=0,
        le=5000,
        description="How long a voucher waits for others to share its CEB411; with a longer "
        "customs_batch_max_wait_ms, how long it waits for the next one (each that comes restarts it).",
    )
    customs_batch_max_wait_ms: float = Field(
        default=1000,
        ge=0,
        le=10000,
        description="The longest a CEB411 stays open while vouchers keep coming; not above "
        "customs_batch_window_ms: each CEB411 closes customs_batch_window_ms after its first voucher.",
    )
    customs_name: str = Field(
        default="支付宝（中国）网络技术有限公司",  # noqa: RUF001 - the registered name
        min_length=1,
        max_length=100,
        description="payName: the payment company's name as registered with customs.",
    )
    dxp_id: str = Field(default="DXPENT0000000002", min_length=1, description="The sandbox's DXP user id.")
    platform_url: str | None = Field(
        default=None,
        description="The platform's address: with a partner key, the payment company follows its partner "
        "feed there (GET {platform_url}/api/v1/partner/feed) and makes the refunds it asks for.",
    )
    partner_key: str | None = Field(
        default=None,
        description="The payment company's partner API key at the platform (fpk_...); unset: read from "
        "data_dir/sandbox-pay/partner-key if that file exists (the demo writes it), else no feed is followed",
    )
    feed_poll_seconds: float = Field(default=0.5, gt=0, le=3600, description="Pause after an empty page.")
    feed_page_size: int = Field(default=200, ge=1, le=1000, description="Events read per page of the feed.")

    @field_validator("notify_schedule")
    @classmethod
    def _positive_intervals(cls, schedule: list[float]) -> list[float]:
        if any(seconds <= 0 for seconds in schedule):
            raise ValueError("every retry interval must be positive")
        return schedule

    @field_validator("demo_payer_id_number")
    @classmethod
    def _valid_id_number(cls, number: str) -> str:
        if not is_resident_id_number(number):
            raise ValueError("must be an 18-character resident ID number with a valid check character")
        return number

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "sandbox-pay"

    @property
    def partner_key_file(self) -> Path:
        return self.keys_dir / "partner-key"

    def feed_key(self) -> str | None:
        """The partner key to follow the feed with, if the payment company has one."""
        if self.partner_key:
            return self.partner_key
        if self.partner_key_file.is_file():
            return self.partner_key_file.read_text().strip() or None
        return None

    @property
    def trades_file(self) -> Path:
        return self.keys_dir / "trades.sqlite3"
