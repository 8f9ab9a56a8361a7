"""Vulnerability database and matching: advisory ingestion, storage, version logic."""
