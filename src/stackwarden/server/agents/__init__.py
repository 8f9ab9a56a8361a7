"""Host agents on the server: enrollment, pushed configuration, event ingest, cross-host
correlation and silence detection (docs/agent.md)."""
