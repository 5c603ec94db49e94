"""Orders after the buy: reading, cancelling and expiring them, and checkout (consignee, identity, tax)."""
