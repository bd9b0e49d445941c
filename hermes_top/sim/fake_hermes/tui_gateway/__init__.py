"""Simulated tui_gateway (hermes-top test double)."""
