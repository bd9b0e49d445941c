"""Simulated hermes_cli (hermes-top test double)."""
