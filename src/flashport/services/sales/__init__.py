"""Flash sales: events and their items, the buy path, the sold-out board, stock counts and reconciliation."""
