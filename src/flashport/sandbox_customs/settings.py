"""Settings of the customs simulator, read from ``FLASHPORT_CUSTOMS_SIM_*`` variables.

The limits are customs' cross-border retail import limits (since 2019); they are settings because the
rules change. Schema validation and signature checks can be switched off only to test what happens
downstream of them; the real single window does both.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CustomsSimSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLASHPORT_CUSTOMS_SIM_", extra="ignore", frozen=True, populate_by_name=True
    )

    data_dir: Path = Field(
        default=Path("data"),
        # The same folder as the platform's by default, like the payment sandbox.
        validation_alias=AliasChoices("FLASHPORT_CUSTOMS_SIM_DATA_DIR", "FLASHPORT_DATA_DIR"),
        description="The simulator's record lives in data_dir/customs-sim/single-window.sqlite3.",
    )
    single_transaction_limit_fen: int = Field(
        default=500_000, gt=0, description="Highest goodsValue of one order (5,000 CNY), in fen."
    )
    annual_limit_fen: int = Field(
        default=2_600_000, gt=0, description="Highest released total per buyer and year (26,000 CNY)."
    )
    verify_signatures: bool = Field(
        default=True, description="Check ds:Signature against the certificate in its own X509Data."
    )
    validate_schema: bool = Field(default=True, description="Check every message against the CEB XSD.")
    check_tax: bool = Field(
        default=True,
        description="Reject an order whose taxTotal is not customs' own assessment of its lines.",
    )
    hold_release: bool = Field(
        default=False,
        description=(
            "Keep a matched inventory list accepted (120) until POST /admin/declarations/{order_no}/release,"
            " as a customs officer releases it, instead of releasing it at once: the state in which it can"
            " only be withdrawn with a CEB623."
        ),
    )
    certificates: list[str] = Field(
        default_factory=list,
        description=(
            "Certificates registered at start, each 'role:agentCode:/path/to.pem' (role: platform, payment,"
            " carrier or warehouse). JSON list in the environment. More via POST /admin/certificates."
        ),
    )
    secret: str | None = Field(
        default=None,
        description="Seals documents on file, keys yearly totals; default: data_dir/customs-sim/secret.key",
    )
    admin_token: str | None = Field(
        default=None, description="When set, the /admin endpoints require 'Authorization: Bearer <token>'."
    )

    @property
    def database_file(self) -> Path:
        return self.data_dir / "customs-sim" / "single-window.sqlite3"

    @property
    def secret_file(self) -> Path:
        return self.data_dir / "customs-sim" / "secret.key"
