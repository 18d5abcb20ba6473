"""Everything after the language: the store, scoring, review and sample data (docs/architecture.md)."""
