"""The vulnerability database: advisory sources, the SQLite store, version schemes, matching."""
