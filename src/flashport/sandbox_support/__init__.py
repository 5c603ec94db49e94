"""What the sandbox parties (payment provider, carrier, customs simulator) share: each keeps its own
record in its own SQLite file, outside the platform's schema."""
