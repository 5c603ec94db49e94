"""The domain core: plain Python, no framework, no I/O. The rules of docs/architecture.md are decided here."""
