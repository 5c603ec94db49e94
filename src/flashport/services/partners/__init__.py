"""The partner integration (issue 15): partners and their keys, scoped views, the per-partner feed and
signed webhooks."""
