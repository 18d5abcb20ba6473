"""Scoring: rules compiled to functions, one lead's replay, whole-store runs, and explanations."""
