"""Fixtures of the log tests: network namespaces for active response (tests/agent/logs/netns.py)."""

from tests.agent.logs.netns import namespaces

__all__ = ["namespaces"]
