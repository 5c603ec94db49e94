"""Tables of the partner integration (issue 15): partners and their API keys, the per-partner event log
the relay fills from the outbox, and webhook endpoints with their deliveries. They hang on the same
metadata as :mod:`flashport.adapters.db.schema`; :mod:`flashport.adapters.db.all_tables` gathers both."""

from __future__ import annotations

import sqlalchemy as sa

from flashport.adapters.db.schema import BigId, JSONType, UTCDateTime, metadata

partners = sa.Table(
    "partners",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),  # supplier, carrier, payment_company, customs_broker
    # What the partner is in our data, one of them per kind: the supplier whose goods it sees, the
    # carrier's logistics code on declarations, the payment company's code on payments.
    sa.Column("supplier_id", BigId, sa.ForeignKey("suppliers.id")),
    sa.Column("logistics_code", sa.String(18)),
    sa.Column("pay_code", sa.String(32)),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("name", name="uq_partners_name"),
)

partner_keys = sa.Table(
    "partner_keys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner_id", BigId, sa.ForeignKey("partners.id"), nullable=False, index=True),
    sa.Column("key_id", sa.String(24), nullable=False),  # the public part of the key, for the look-up
    sa.Column("key_hash", sa.String(64), nullable=False),  # HMAC-SHA256 of the whole key, hex
    sa.Column("label", sa.String(100), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime()),  # set on the old key when it is rotated: the overlap
    sa.Column("revoked_at", UTCDateTime()),
    sa.Column("last_used_at", UTCDateTime()),
    sa.UniqueConstraint("key_id", name="uq_partner_keys_key_id"),
)

# One row per (partner, outbox record) the partner is entitled to, written by the relay in commit order
# under its cursor lock, so ``id`` order is commit order and the feed pages by id alone.
partner_events = sa.Table(
    "partner_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner_id", BigId, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("outbox_id", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("subject_seq", sa.Integer, nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("data", JSONType, nullable=False),  # the thin, scoped payload
    sa.Column("link", sa.String(300)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("partner_id", "outbox_id", name="uq_partner_events_partner_id"),
    sa.Index("ix_partner_events_partner_id_id", "partner_id", "id"),
    sa.Index("ix_partner_events_partner_id_subject", "partner_id", "subject"),
)

# Where each relay stands in its source: (tx_seq, id) in the outbox for the partner relay.
relay_cursors = sa.Table(
    "relay_cursors",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("tx_seq", sa.BigInteger, nullable=False),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("partner_id", BigId, sa.ForeignKey("partners.id"), nullable=False, index=True),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("event_types", JSONType, nullable=False),  # [] means every type the partner may see
    # whsec_<base64>, sealed with the partner secrets key (adapters/secret_box.py): never in clear
    sa.Column("secret", sa.String(300), nullable=False),
    sa.Column("previous_secret", sa.String(300)),  # still signed with until previous_until; sealed
    sa.Column("previous_until", UTCDateTime()),
    sa.Column("last_partner_event_id", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("failing_since", UTCDateTime()),
    sa.Column("disabled_at", UTCDateTime()),
    sa.Column("disabled_reason", sa.String(200)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", BigId, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("message_id", sa.String(40), nullable=False),  # webhook-id: the same on every retry
    sa.Column("first_event_id", sa.BigInteger, nullable=False),  # partner_events ids it carries
    sa.Column("last_event_id", sa.BigInteger, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("message_id", name="uq_webhook_deliveries_message_id"),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
)

# The JetStream consumer's marks: each (endpoint, partner event) queued once, however often the stream
# hands the event out (a worker killed before its acknowledgement gets it again).
webhook_queued_events = sa.Table(
    "webhook_queued_events",
    metadata,
    sa.Column("endpoint_id", BigId, primary_key=True),
    sa.Column("partner_event_id", sa.BigInteger, primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
