"""The event store: its schema and migrations, the SQLite file, and what reads input into it."""
