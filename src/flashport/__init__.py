"""Flashport: a cross-border flash-sale platform."""

__version__ = "0.1.0"
