"""Reviewing rules: what a change does to every lead (diff), rule files from git, rule tests."""
