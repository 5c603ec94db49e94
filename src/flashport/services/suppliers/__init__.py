"""The supplier portal's use cases."""
