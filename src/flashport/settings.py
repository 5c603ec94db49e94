"""Typed settings, read once from ``FLASHPORT_*`` environment variables and validated at start-up.

Every field is documented in README.md ("Configuration"). With no variables set, Flashport runs
embedded: SQLite in ``./data`` and the SQL stock engine.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flashport.domain.rate_limits import Bucket
from flashport.keyring import Keyring, build_keyring, split_keys

# Where the demo serves each partner inside the platform: an unset partner URL is public_url + its path.
PARTNER_PATHS = {
    "payment_gateway_url": "/sandbox/alipay/gateway.do",
    "payment_notify_url": "/api/v1/payments/alipay/notify",
    "payment_return_url": "/orders",
    "customs_url": "/sandbox/customs",
    "logistics_url": "/sandbox/logistics",
}
# A server listening on every interface is reached, from this machine, on the loopback address.
_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLASHPORT_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; postgresql://... switches to PostgreSQL. Default: SQLite in data_dir.",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://... turns on the Redis stock engine; redis+cluster://host:port[,...]: a cluster",
    )
    redis_prefix: str = "fp"
    redis_replica_acks: int = Field(
        default=0,
        ge=0,
        le=5,
        description="replicas that must confirm each reservation before its order is written (WAIT)",
    )
    # Keys (keyring.py): unset outside production, each is made at random in data_dir/secrets.json.
    secret_key: str | None = Field(default=None, description="signs tokens and cookies (32+ characters)")
    previous_secret_keys: str = Field(
        default="", description="comma-separated secrets still accepted during a rotation"
    )
    identity_key: str | None = Field(default=None, description="Fernet key for ID numbers at rest")
    previous_identity_keys: str = Field(
        default="", description="comma-separated Fernet keys still decrypting during a rotation"
    )
    identity_hash_key: str | None = Field(
        default=None, description="key of the ID-number lookup hash (not rotated: hashes are stored)"
    )
    token_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    session_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="bound on how late a process learns of an ended session"
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="proxies (comma-separated IPs, or *) whose X-Forwarded-For/-Proto are believed",
    )

    event_min_days: float = Field(default=5, gt=0)
    event_max_days: float = Field(default=10, gt=0)
    price_band_min: Decimal = Field(default=Decimal("0.10"), gt=0, le=1)
    price_band_max: Decimal = Field(default=Decimal("0.50"), gt=0, le=1)
    payment_window_seconds: int = Field(default=20 * 60, gt=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the platform's address for browsers and partners; default http://{host}:{port}",
    )
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one JSON object a line, with the request id (docs/observability.md)",
    )
    metrics: bool = Field(default=True, description="Prometheus metrics on /metrics (docs/observability.md)")
    db_pool_size: int = Field(default=10, ge=1)
    group_commit_in_flight: int = Field(
        default=4, ge=1, le=64, description="orders' transactions in flight at most (at a light load)"
    )
    group_commit_linger_ms: float = Field(
        default=0,
        ge=0,
        le=1000,
        description="a batch's wait for late orders (adaptive: the most, in a crowd)",
    )
    group_commit_adaptive: bool = Field(
        default=False, description="orders' group commit paced to the load (adapters/db/commit_pace.py)"
    )
    group_commit_crowd: int = Field(
        default=64,
        ge=4,
        le=100_000,
        description="orders arriving during one commit at which it batches its most",
    )
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_idle_backoff: float = Field(
        default=8.0,
        ge=1,
        le=600,
        description="an idle worker stage waits up to this many times its poll interval (woken by work)",
    )
    buy_fast_lane: bool = True
    # A purchase the Redis engine has not decided within this long (Redis or PostgreSQL stalled) is
    # answered 503 purchase_pending with Retry-After, and goes on without its caller: the retry with the
    # same key gets its order. Below common client timeouts (5 s), above a loaded machine's slowest.
    buy_deadline_seconds: float = Field(default=4.0, gt=0, description="503 purchase_pending after")
    # Connection deadlines (api/http_deadlines.py), on the buy edge and uvicorn alike.
    http_header_timeout_seconds: float = Field(default=5.0, gt=0, description="headers complete within")
    http_body_min_rate: float = Field(default=240.0, gt=0, description="bytes/s a body must average")
    http_body_grace_seconds: float = Field(default=5.0, ge=0, description="before the body rate counts")
    http_keep_alive_timeout_seconds: int = Field(
        default=5, ge=1, description="idle keep-alive (uvicorn: int)"
    )
    # serve --workers N: uvicorn's supervisor replaces an API process that does not answer its health
    # check within this long. Its own default (5 s) killed processes still starting on a loaded machine.
    workers_healthcheck_seconds: int = Field(default=30, ge=1)

    # Rate limits (README, "Rate limits"): a token bucket per account and per address on each door,
    # written capacity/seconds ("10/60": 10 at once, refilled over a minute).
    rate_limits: bool = Field(default=True, description="false turns every bucket and the lockout off")
    rate_login_account: str = "10/300"
    rate_login_address: str = "60/60"
    rate_register_account: str = "3/600"
    rate_register_address: str = "20/600"
    rate_buy_account: str = "10/10"
    rate_buy_address: str = "300/10"
    rate_checkout_account: str = "20/60"
    rate_checkout_address: str = "300/60"
    rate_pay_account: str = "20/60"
    rate_pay_address: str = "300/60"
    login_slow_after_failures: int = Field(default=3, ge=1)
    login_lock_after_failures: int = Field(default=5, ge=1)
    login_lock_seconds: float = Field(default=300, gt=0)
    login_relock_seconds: float = Field(default=900, gt=0)
    login_failure_window_seconds: float = Field(default=3600, gt=0)

    # The waiting room in front of hot items (issue 19; docs/waiting-room.md). What an operator leaves
    # unset when marking an item hot comes from here.
    queue_opens_before_seconds: int = Field(
        default=900, ge=0, description="how long before the start the pre-queue opens"
    )
    queue_admission_seconds: int = Field(
        default=120, ge=10, le=3600, description="lifetime of an admission token"
    )
    queue_auto_rate_start: float = Field(
        default=50, gt=0, description="buyers admitted a second at the start when the rate is automatic"
    )
    queue_auto_rate_min: float = Field(default=5, gt=0, description="automatic rate: lowest")
    queue_auto_rate_max: float = Field(default=5000, gt=0, description="automatic rate: highest")
    queue_refresh_seconds: float = Field(
        default=0.5, gt=0, le=10, description="how often each process re-reads and advances a room"
    )
    queue_challenge_bits: int = Field(
        default=16, ge=0, le=32, description="proof-of-work difficulty (zero bits) put to a suspect join"
    )
    queue_accounts_per_address: int = Field(
        default=4, ge=1, description="accounts joining one room from one address before it is challenged"
    )
    queue_joins_per_address_burst: int = Field(
        default=6, ge=1, description="joins from one address within the burst window before it is challenged"
    )
    queue_burst_seconds: float = Field(default=10, gt=0, description="the burst window")

    # Payments: Alipay's open-platform protocol. Defaults point at the sandbox provider mounted in the
    # demo, with its generated keys (data_dir/sandbox-pay); a real account needs only these settings.
    # Every partner URL left unset is derived from public_url (see PARTNER_PATHS).
    payment_gateway_url: str = "http://127.0.0.1:8000/sandbox/alipay/gateway.do"
    payment_app_id: str = "2026000000000001"
    payment_app_private_key: str | None = Field(default=None, description="merchant key (PEM or base64)")
    payment_provider_public_key: str | None = Field(default=None, description="provider key (PEM/base64)")
    payment_notify_url: str = "http://127.0.0.1:8000/api/v1/payments/alipay/notify"
    payment_return_url: str = "http://127.0.0.1:8000/orders"
    payment_recheck_seconds: int = Field(default=120, ge=0)
    payment_timeout_seconds: float = Field(default=10.0, gt=0)
    # A payment notification not settled within this long (the database stalled) is answered 503 with
    # Retry-After, and its settlement goes on without its caller: the provider's retry is answered
    # success once it is settled (settling twice changes nothing). Below common client timeouts (5 s).
    payment_notify_deadline_seconds: float = Field(default=4.0, gt=0, description="503 after")
    payment_refunds: Literal["call", "feed"] = Field(
        default="call",
        description="how a refund reaches the payment company: 'call' asks it per refund "
        "(alipay.trade.refund); 'feed' leaves it to take the refund from its partner feed "
        "(refund.requested), and the worker asks it whether it made it (refund query)",
    )
    payment_customs_code: str = Field(default="31222699S7", description="payCode the provider declares as")
    payment_customs_name: str = "支付宝（中国）网络技术有限公司"  # noqa: RUF001 - the registered name
    sandbox_pay_mounted: bool = Field(
        default=False, description="serve the sandbox provider at /sandbox/alipay"
    )

    # Cross-border compliance (docs/architecture.md, "The business"): every number is a setting because
    # the rules change.
    freight_fen: int = Field(default=0, ge=0, description="freight charged per order at checkout (fen)")
    single_transaction_limit_fen: int = Field(default=500_000, gt=0, description="5,000 CNY per order")
    annual_limit_fen: int = Field(default=2_600_000, gt=0, description="26,000 CNY per person per year")
    vat_rate: Decimal = Field(
        default=Decimal("0.13"),
        ge=0,
        lt=1,
        description="import VAT, category general (unless a tax rule says otherwise)",
    )
    reduced_vat_rate: Decimal = Field(default=Decimal("0.09"), ge=0, lt=1, description="VAT, reduced_vat")
    consumption_tax_rate: Decimal = Field(
        default=Decimal("0.15"), ge=0, lt=1, description="consumption tax, category consumption_tax"
    )
    cross_border_tax_share: Decimal = Field(
        default=Decimal("0.70"), ge=0, le=1, description="share of VAT and consumption tax charged"
    )
    # The tariff of general trade is the goods' own: operators set it per HS prefix (tax rules, see
    # docs/tax-and-limits.md), never one rate for everything.

    # Customs (docs/architecture.md, "The business"): the single window (the simulator in the demo), the
    # enterprises the platform declares as, and the carrier that declares waybills.
    customs_url: str = Field(
        default="http://127.0.0.1:8000/sandbox/customs", description="the single window's HTTP binding"
    )
    customs_timeout_seconds: float = Field(default=10.0, gt=0)
    customs_dxp_id: str = Field(default="DXPENT0000000001", description="the platform's DXP user id")
    customs_platform_code: str = Field(default="3105960FP1", description="ebpCode: the platform")
    customs_platform_name: str = "Flashport (Shanghai) Cross-border E-commerce Co., Ltd."
    customs_seller_code: str = Field(default="3105960FP1", description="ebcCode: the selling enterprise")
    customs_seller_name: str = "Flashport (Shanghai) Cross-border E-commerce Co., Ltd."
    customs_agent_code: str = Field(default="3105960FP1", description="agentCode: who declares the list")
    customs_agent_name: str = "Flashport (Shanghai) Cross-border E-commerce Co., Ltd."
    customs_assure_code: str = Field(default="3105960FP1", description="assureCode: guarantor of the tax")
    customs_port_code: str = Field(default="2233", description="portCode for direct (9610) imports")
    customs_place: str = Field(default="SHANGHAI", description="customs_place for the payment declaration")
    customs_concurrency: int = Field(
        default=8, ge=1, le=64, description="declarations one worker moves at once (PostgreSQL; SQLite: 1)"
    )
    customs_fix_window_seconds: int = Field(
        default=24 * 3600, ge=0, description="how long a rejected declaration waits for a fix before refund"
    )
    return_policy_days: int = Field(
        default=7, ge=0, le=90, description="days after delivery a buyer may ask to return a parcel"
    )
    customs_signing_key: Path | None = Field(
        default=None, description="PEM key + certificate signing CEB621; default: made in data_dir/customs"
    )
    sandbox_customs_mounted: bool = Field(
        default=False, description="serve the single-window simulator at /sandbox/customs"
    )
    logistics_url: str = Field(
        default="http://127.0.0.1:8000/sandbox/logistics", description="the carrier's waybill API"
    )
    logistics_api_key: str = "sandbox-logistics-key"
    logistics_handover: Literal["call", "feed"] = Field(
        default="call",
        description="how a released parcel reaches the carrier: 'call' dispatches each over its API; "
        "'feed' marks it handed over and the carrier takes it from its partner feed (order.shipped)",
    )
    sandbox_logistics_mounted: bool = Field(
        default=False, description="serve the sandbox carrier at /sandbox/logistics"
    )

    # Partner feeds and webhooks (README, "Partner feeds"). The relay moves the outbox into each
    # partner's feed in the database; with partner_bus = nats it also publishes every partner event to
    # NATS JetStream and the delivery workers queue webhooks from a durable consumer there.
    partner_poll_seconds: float = Field(
        default=0.1, gt=0, description="how often the worker's idle partner stages look for work"
    )
    partner_bus: Literal["sql", "nats"] = Field(
        default="sql", description="sql: deliveries queued from the database; nats: through JetStream"
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="the NATS server (partner_bus=nats)")
    nats_stream: str = Field(
        default="FLASHPORT_PARTNERS", description="the JetStream stream, made if missing"
    )
    nats_subject_prefix: str = Field(default="flashport.partners", description="<prefix>.<partner>.<type>")
    nats_consumer: str = Field(default="flashport-webhooks", description="the delivery workers' durable")
    nats_ack_wait_seconds: float = Field(
        default=30.0, gt=0, description="a fetched event not acknowledged by then is handed out again"
    )
    # Buyer notifications (README, "Notifications"): the notifier stage's e-mail over SMTP, and SMS.
    # No smtp_host: e-mails are only logged (development); the SMS channel is the recording sandbox.
    smtp_host: str | None = Field(default=None, description="SMTP server for buyer e-mail; none: log only")
    smtp_port: int = Field(default=587, gt=0, lt=65536, description="SMTP port (587 STARTTLS, 465 TLS)")
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server asks for one")
    smtp_password: str | None = Field(default=None, description="SMTP password (with smtp_user)")
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls, tls (implicit, port 465) or none (local relays, tests)"
    )
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, description="one SMTP conversation at most")
    mail_sender: str = Field(
        default="Flashport <no-reply@flashport.example>", description="From: of buyer e-mail"
    )
    # Webhook URLs (SSRF): loopback, private, link-local and metadata addresses are refused unless
    # allowed. Unset: allowed outside production (the sandboxes and tests listen on loopback).
    webhook_allow_private_addresses: bool | None = None
    partner_secrets_key: str | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first, sealing webhook secrets at rest; "
        "default derived from secret_key",
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_addresses(cls, data: Any) -> Any:
        """One address moves them all: public_url defaults to http://{host}:{port}, and each partner
        URL the demo serves inside the platform defaults to a path under public_url. A value set
        explicitly (an environment variable or an override) is kept as it is."""
        if not isinstance(data, dict):
            return data
        public = str(
            data.get("public_url") or _address_of(cls._given(data, "host"), cls._given(data, "port"))
        )
        public = public.rstrip("/")
        derived = {name: public + path for name, path in PARTNER_PATHS.items() if not data.get(name)}
        return {**data, "public_url": public, **derived}

    @classmethod
    def _given(cls, data: dict[str, Any], name: str) -> Any:
        value = data.get(name)
        return cls.model_fields[name].default if value is None else value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.event_min_days > self.event_max_days:
            raise ValueError("event_min_days must not exceed event_max_days")
        if self.price_band_min > self.price_band_max:
            raise ValueError("price_band_min must not exceed price_band_max")
        if self.env == "production":
            self._check_production_keys()
        for secret in split_keys(self.previous_secret_keys):
            if len(secret) < 32:
                raise ValueError("each of FLASHPORT_PREVIOUS_SECRET_KEYS must have 32+ characters")
        if not self.public_url.startswith(("http://", "https://")):
            raise ValueError("FLASHPORT_PUBLIC_URL must be an http:// or https:// URL")
        for name in type(self).model_fields:
            if name.startswith("rate_") and name != "rate_limits":
                try:
                    Bucket.parse(getattr(self, name))
                except ValueError as exc:
                    raise ValueError(f"FLASHPORT_{name.upper()}: {exc}") from None
        if self.redis_url:
            # Imported here: the settings are read before anything else, and only this check needs it.
            from flashport.adapters.redis_client import is_cluster_url, parse_cluster_url

            if is_cluster_url(self.redis_url):
                try:
                    parse_cluster_url(self.redis_url)
                except ValueError as exc:
                    raise ValueError(f"FLASHPORT_REDIS_URL: {exc}") from None
        if self.login_slow_after_failures > self.login_lock_after_failures:
            raise ValueError("login_slow_after_failures must not exceed login_lock_after_failures")
        if self.database_url and not self.database_url.startswith(("postgresql", "sqlite")):
            raise ValueError("FLASHPORT_DATABASE_URL must be a postgresql:// or sqlite:// URL")
        return self

    def _check_production_keys(self) -> None:
        if not self.secret_key or len(self.secret_key) < 32:
            raise ValueError("FLASHPORT_SECRET_KEY must be set to 32+ random characters in production")
        if not self.identity_hash_key or len(self.identity_hash_key) < 32:
            raise ValueError("FLASHPORT_IDENTITY_HASH_KEY must be set to 32+ random characters in production")
        if not (self.identity_key and self.payment_app_private_key and self.payment_provider_public_key):
            raise ValueError(
                "production needs FLASHPORT_IDENTITY_KEY, FLASHPORT_PAYMENT_APP_PRIVATE_KEY and "
                "FLASHPORT_PAYMENT_PROVIDER_PUBLIC_KEY"
            )

    @cached_property
    def keys(self) -> Keyring:
        """The keys in use, the current one first (keyring.py). Read on first use, not at start-up, so
        a process that signs nothing makes no key file."""
        return build_keyring(
            self.data_dir,
            secret_key=self.secret_key,
            previous_secret_keys=self.previous_secret_keys,
            identity_key=self.identity_key,
            previous_identity_keys=self.previous_identity_keys,
            identity_hash_key=self.identity_hash_key,
        )

    @cached_property
    def async_database_url(self) -> str:
        """The URL with the async driver the app uses (asyncpg / aiosqlite)."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'flashport.sqlite3').resolve()}"
        url = self.database_url
        for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + url[len("sqlite://") :]
        return url

    @property
    def listen_url(self) -> str:
        """Where ``serve`` is reached from this machine (``public_url`` may be a proxy in front of it)."""
        return _address_of(self.host, self.port)

    @property
    def webhooks_reach_private_addresses(self) -> bool:
        if self.webhook_allow_private_addresses is not None:
            return self.webhook_allow_private_addresses
        return self.env != "production"

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")

    @property
    def event_min_length(self) -> timedelta:
        return timedelta(days=self.event_min_days)

    @property
    def event_max_length(self) -> timedelta:
        return timedelta(days=self.event_max_days)

    @property
    def payment_window(self) -> timedelta:
        return timedelta(seconds=self.payment_window_seconds)


def _address_of(host: object, port: object) -> str:
    """``http://host:port`` as a browser on this machine writes it."""
    name = str(host)
    if name in _ANY_ADDRESS:
        name = "127.0.0.1"
    elif ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 address
    return f"http://{name}:{port}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; ``overrides`` win (tests use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
