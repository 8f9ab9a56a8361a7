"""Teams and what each user may see: a developer sees the assets of their teams, everyone
else (security engineers, auditors, admins) sees every asset.

A team owns the assets whose name matches one of its patterns (shell globs such as
`registry.example/payments/*`), so a new image pushed under a team's path is theirs at once.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from stackwarden.server.auth import Principal
from stackwarden.server.db.models import Asset
from stackwarden.server.db.models_dashboard import Team, TeamMember

TEAM_SCOPED_ROLES = frozenset({"developer"})
TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def glob_to_like(pattern: str) -> str:
    """A shell glob (`*`, `?`) as a SQL LIKE pattern with `\\` as the escape character."""
    out = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def parse_patterns(text: str) -> tuple[list[str], str | None]:
    """Patterns from a form (one a line); (patterns, error)."""
    patterns = [line.strip() for line in text.splitlines() if line.strip()]
    for pattern in patterns:
        if len(pattern) > 500:
            return patterns, "a pattern is at most 500 characters"
        if pattern.strip("*?") == "":
            return patterns, (f"{pattern!r} matches every asset; name a registry path or "
                              "repository, e.g. registry.example/team/*")
    return patterns, None


def team_patterns(session: Session, user_id: int) -> list[str]:
    """Every asset-name pattern of the user's teams."""
    rows = session.execute(select(Team.patterns).join(TeamMember, TeamMember.team_id == Team.id)
                           .where(TeamMember.user_id == user_id)).scalars()
    return [p for text in rows for p in text.splitlines() if p.strip()]


def asset_visibility(session: Session, who: Principal) -> ColumnElement[Any]:
    """A WHERE clause over `Asset` limiting it to what `who` may see."""
    if who.role not in TEAM_SCOPED_ROLES:
        return true()
    patterns = team_patterns(session, who.user_id)
    if not patterns:
        return false()
    return or_(*(Asset.name.like(glob_to_like(p), escape="\\") for p in patterns))


def visible_asset_ids(session: Session, who: Principal) -> Any:
    """A subquery of the asset ids `who` may see (None when they see everything)."""
    if who.role not in TEAM_SCOPED_ROLES:
        return None
    return select(Asset.id).where(asset_visibility(session, who))


def can_see(session: Session, who: Principal, asset: Asset) -> bool:
    """Whether `who` may see this asset."""
    if who.role not in TEAM_SCOPED_ROLES:
        return True
    # the database decides, as it does for lists (LIKE's case rules differ between backends)
    return session.execute(select(Asset.id).where(Asset.id == asset.id,
                                                  asset_visibility(session, who))).first() \
        is not None
