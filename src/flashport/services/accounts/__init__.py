"""Accounts: users and log-in, bearer tokens, and the buyers' real-name identities."""
