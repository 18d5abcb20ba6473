"""Deterministic sample data that looks like a real B2B marketing database."""
