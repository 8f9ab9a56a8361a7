"""Compliance (filled in below)."""
