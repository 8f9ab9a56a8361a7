"""Agent configuration on the server: built-in defaults, a server-wide override, a per-agent
override; merged (mappings recursively, lists and values replaced) into what an agent gets."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from stackwarden.agent.config import ConfigError, default_document, merge, parse_config
from stackwarden.server.auth import utcnow
from stackwarden.server.db.agent_models import Agent, AgentSetting
from stackwarden.server.errors import bad_request

DEFAULT_KEY = "default_config"


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"__unreadable__": True}  # the agent refuses it, naming the key
    return value if isinstance(value, dict) else {"__not_an_object__": True}


def default_override(session: Session) -> dict[str, Any]:
    """The server-wide override of the built-in agent configuration."""
    row = session.get(AgentSetting, DEFAULT_KEY)
    return _loads(row.value if row else None)


def effective_config(session: Session, agent: Agent) -> dict[str, Any]:
    """What `agent` is told to run: defaults, then the server-wide, then its own override.

    Not validated here: the stored parts were validated when set, and the agent validates
    whatever it receives (keeping its cached configuration when it cannot use it)."""
    return merge(merge(default_document(), default_override(session)), _loads(agent.config))


def _check(document: Any, base: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise bad_request("an agent configuration is a JSON object", code="bad_config",
                          status=422)
    try:
        parse_config(merge(base, document), strict=True)
    except ConfigError as exc:
        raise bad_request(f"invalid agent configuration: {exc.message}", code="bad_config",
                          status=422) from None
    return document


def set_default_config(session: Session, document: Any, actor: str, audit: Any) -> None:
    """Replace the server-wide override (validated against the built-in defaults)."""
    _check(document, default_document())
    now = utcnow()
    row = session.get(AgentSetting, DEFAULT_KEY)
    text = json.dumps(document, sort_keys=True)
    if row is None:
        session.add(AgentSetting(key=DEFAULT_KEY, value=text, updated_at=now, updated_by=actor))
    else:
        row.value, row.updated_at, row.updated_by = text, now, actor
    audit.append(session, actor, "agent.config.default", "agent_config:default",
                 {"config": document})


def set_agent_config(session: Session, agent: Agent, document: Any, actor: str,
                     audit: Any) -> None:
    """Replace one agent's override (validated on top of the current defaults)."""
    _check(document, merge(default_document(), default_override(session)))
    agent.config = json.dumps(document, sort_keys=True)
    audit.append(session, actor, "agent.config.set", f"agent:{agent.id}", {"config": document})
