"""The domain core: plain Python, no framework, no I/O. DESIGN.md section 4's rules are decided here."""
