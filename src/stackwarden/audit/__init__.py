"""The audit trail: an append-only, hash-chained log with signed Merkle checkpoints.

`chain` defines entries and their hashes, `merkle` the RFC 6962 tree, `signing` the Ed25519
checkpoints, `verify` the checks that name the first bad sequence number, and `bundle` the
evidence bundles an auditor verifies offline.
"""
