"""Simulator tests: the fake Hermes tree, checked from /proc."""
