"""Shared fixtures: the default rule set and its engine (Hyperscan database cached per run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.detect.secrets.engine import Engine
from stackwarden.detect.secrets.model import RuleSet
from stackwarden.detect.secrets.rules import load_ruleset

HS_CACHE = Path.home() / ".cache" / "stackwarden-tests" / "hsdb"  # keyed by content hash


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """The shipped rules."""
    return load_ruleset()


@pytest.fixture(scope="session")
def engine(ruleset: RuleSet) -> Engine:
    """An engine over the shipped rules."""
    return Engine(ruleset, cache=HS_CACHE)


def found(engine: Engine, text: str | bytes, path: str = "app/settings.py"
          ) -> list[tuple[str, str]]:
    """(rule id, secret) for every hit in `text`."""
    data = text.encode() if isinstance(text, str) else text
    return [(h.rule.id, data[h.secret_start:h.secret_end].decode("utf-8", "replace"))
            for h in engine.scan(data, path).hits]
