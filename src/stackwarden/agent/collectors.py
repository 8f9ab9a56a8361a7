"""The one list of agent collectors: name -> `module:Class` (imported only when enabled, so an
agent that runs only the log collector never loads the catalogers).

Adding a collector is one module with a `Collector` subclass (agent/interface.py) and one line
here; `tests/agent/test_collectors.py` fails when a module defines a collector this list lacks.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from stackwarden.agent.interface import Collector, CollectorError, CollectorSettings

COLLECTORS: Mapping[str, str] = {
    "logs": "stackwarden.agent.logs.collector:LogCollector",
    "host_vulnerabilities": "stackwarden.agent.hostvulns:HostVulnCollector",
    "fim": "stackwarden.agent.fim.collector:FimCollector",
    "inventory": "stackwarden.agent.inventory.collector:InventoryCollector",
}


def collector_class(name: str) -> type[Collector]:
    """The collector class registered under `name`."""
    try:
        target = COLLECTORS[name]
    except KeyError:
        raise CollectorError(f"unknown collector {name!r} (known: "
                             f"{', '.join(sorted(COLLECTORS))})") from None
    module, _, attr = target.partition(":")
    cls: type[Collector] = getattr(importlib.import_module(module), attr)
    return cls


def parse_settings(name: str, raw: Mapping[str, Any]) -> CollectorSettings:
    """A collector's settings section validated by its own model (CollectorError naming the
    key on a bad value)."""
    from pydantic import ValidationError

    model = collector_class(name).Settings
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in ("collectors", name, *err["loc"]))
        raise CollectorError(f"{where}: {err['msg']}") from None
