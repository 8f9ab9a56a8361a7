"""Settings: API tokens (everyone), users, teams, notification channels and policies (admins
change them; auditors read them)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import case, delete, func, select

from stackwarden.server.api.auth import TokenRequest, create_token, revoke_token
from stackwarden.server.api.deps import IdPath
from stackwarden.server.api.users import NewUser, UserChange, add_user, change_user
from stackwarden.server.auth import EVIDENCE_ROLES, ROLES, SCOPES, utcnow
from stackwarden.server.db.models import ApiToken, User
from stackwarden.server.db.models_dashboard import (
    DeliveryAttempt,
    NotificationChannel,
    NotificationDelivery,
    ServerPolicy,
    Team,
    TeamMember,
)
from stackwarden.server.errors import ApiError, forbidden, not_found
from stackwarden.server.notify import EVENTS, TEST_EVENT, notify
from stackwarden.server.notify_channels import KINDS, redacted, validate_config
from stackwarden.server.risk import DEFAULT_SLA_DAYS, SLA_POLICY_KEY, parse_sla_form, sla_days
from stackwarden.server.teams import TEAM_NAME, parse_patterns
from stackwarden.server.web.core import Form, Page, PageDep, nav, router

nav("Settings", "/settings", order=90)
ADMIN_TABS = (("users", "Users"), ("teams", "Teams"), ("channels", "Notifications"),
              ("policies", "Policies"))


def _tabs(page: Page) -> list[tuple[str, str]]:
    tabs = [("tokens", "My API tokens")]
    if page.is_admin or page.who.role in EVIDENCE_ROLES:
        tabs += list(ADMIN_TABS)
    return tabs


def _read_settings(page: Page) -> None:
    """Admins and auditors see the administrative settings; only admins change them."""
    if not (page.is_admin or page.who.role in EVIDENCE_ROLES):
        raise forbidden(f"your role ({page.who.role}) cannot see these settings")


def _render(page: Page, template: str, tab: str, status: int = 200, **values: Any) -> Response:
    return page.render(template, status=status, title="Settings", tabs=_tabs(page), tab=tab,
                       errors=values.pop("errors", {}), values=values.pop("values", {}),
                       **values)


def _api_problem(exc: ApiError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors(include_input=False)[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return exc.message


@router.get("/settings")
def settings_home(page: PageDep) -> Response:
    """The first tab."""
    return page.redirect("/settings/tokens")


# --- tokens --------------------------------------------------------------------------------

def _tokens_page(page: Page, status: int = 200, **values: Any) -> Response:
    with page.ctx.db.session() as session:
        tokens = list(session.execute(select(ApiToken).where(
            ApiToken.user_id == page.who.user_id, ApiToken.kind == "api")
            .order_by(ApiToken.id.desc())).scalars())
    return _render(page, "settings_tokens.html", "tokens", status, tokens=tokens,
                   scopes=[s for s in SCOPES if s in page.who.scopes], now=utcnow(), **values)


@router.get("/settings/tokens")
def tokens(page: PageDep) -> Response:
    """The user's API tokens."""
    return _tokens_page(page)


@router.post("/settings/tokens")
async def new_token(page: PageDep) -> Response:
    """Create a token; its secret is shown on this page only."""
    form = await page.form()
    errors: dict[str, str] = {}
    days_text = form.get("expires_in_days").strip()
    if days_text and not (days_text.isdigit() and 0 < int(days_text) <= 3650):
        errors["expires_in_days"] = "a whole number of days from 1 to 3650, or empty"
    if not form.get("name").strip():
        errors["name"] = "required: what the token is for, e.g. gitlab-ci"
    if not form.getlist("scopes"):
        errors["scopes"] = "choose at least one scope"
    if errors:
        return _tokens_page(page, 422, errors=errors, values=form.as_dict())
    try:
        body = TokenRequest(name=form.get("name").strip()[:100], scopes=form.getlist("scopes"),
                            expires_in_days=int(days_text) if days_text else None)
        made = create_token(body, page.who, page.ctx)
    except (ApiError, ValidationError) as exc:
        return _tokens_page(page, 422, errors={"scopes": _api_problem(exc)},
                            values=form.as_dict())
    return _tokens_page(page, 201, created=made)


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke(token_id: IdPath, page: PageDep) -> Response:
    """Revoke one of the user's tokens."""
    await page.form()
    revoke_token(token_id, page.who, page.ctx)
    return page.redirect("/settings/tokens", done="token_revoked")


# --- users ---------------------------------------------------------------------------------

def _users_page(page: Page, status: int = 200, **values: Any) -> Response:
    _read_settings(page)
    with page.ctx.db.session() as session:
        users = list(session.execute(select(User).order_by(User.id)).scalars())
    return _render(page, "settings_users.html", "users", status, users=users, roles=ROLES,
                   **values)


@router.get("/settings/users")
def users(page: PageDep) -> Response:
    """Every user (admins and auditors)."""
    return _users_page(page)


@router.post("/settings/users")
async def new_user(page: PageDep) -> Response:
    """Create a user."""
    form = await page.form()
    page.require("admin")
    errors: dict[str, str] = {}
    if form.get("role") not in ROLES:
        errors["role"] = f"one of {', '.join(ROLES)}"
    if len(form.get("password")) < 12:
        errors["password"] = "at least 12 characters"
    if form.get("password") != form.get("password2"):
        errors["password2"] = "the two passwords differ"
    if not errors:
        try:
            add_user(NewUser(username=form.get("username").strip(), password=form.get("password"),
                             role=form.get("role")), page.ctx, page.who)
        except ValidationError as exc:
            errors["username"] = ("letters, digits and . _ @ - (at most 64), starting with a "
                                  "letter or digit" if "username" in _api_problem(exc)
                                  else _api_problem(exc))
        except ApiError as exc:
            errors["password" if exc.code == "weak_password" else "username"] = exc.message
    if errors:
        values = {k: v for k, v in form.as_dict().items() if not k.startswith("password")}
        return _users_page(page, 422, errors=errors, values=values)
    return page.redirect("/settings/users", done="user")


@router.post("/settings/users/{user_id}")
async def edit_user(user_id: IdPath, page: PageDep) -> Response:
    """Change a user's role or disable them."""
    form = await page.form()
    page.require("admin")
    try:
        change_user(user_id, UserChange(role=form.get("role") or None,
                                        disabled=form.get("disabled") == "on"),
                    page.ctx, page.who)
    except ApiError as exc:
        if exc.status == 404:
            raise
        return _users_page(page, 422, errors={f"user-{user_id}": exc.message})
    return page.redirect("/settings/users", done="user")


# --- teams ---------------------------------------------------------------------------------

def _teams_page(page: Page, status: int = 200, **values: Any) -> Response:
    _read_settings(page)
    with page.ctx.db.session() as session:
        teams = list(session.execute(select(Team).order_by(Team.name)).scalars())
        members: dict[int, list[str]] = {}
        for team_id, name in session.execute(select(TeamMember.team_id, User.username).join(
                User, User.id == TeamMember.user_id).order_by(User.username)):
            members.setdefault(team_id, []).append(name)
        users = list(session.execute(select(User.username).order_by(User.username)).scalars())
    return _render(page, "settings_teams.html", "teams", status, teams=teams, members=members,
                   users=users, **values)


@router.get("/settings/teams")
def teams(page: PageDep) -> Response:
    """Teams, the asset names they own and their members."""
    return _teams_page(page)


def _save_team(page: Page, form: Form, team_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = form.get("name").strip()
    if not TEAM_NAME.match(name):
        errors["name"] = "letters, digits, . _ - (at most 64), starting with a letter or digit"
    patterns, problem = parse_patterns(form.get("patterns"))
    if problem:
        errors["patterns"] = problem
    with page.ctx.db.transaction() as session:
        ids = dict(session.execute(select(User.username, User.id).where(
            User.username.in_(form.getlist("members") or [""]))).all())
        unknown = sorted(set(form.getlist("members")) - set(ids))
        if unknown:
            errors["members"] = f"no user named {unknown[0]!r}"
        clash = session.execute(select(Team.id).where(Team.name == name)).scalar()
        if clash is not None and clash != team_id:
            errors["name"] = f"a team named {name!r} exists"
        if errors:
            return errors
        team = session.get(Team, team_id) if team_id else None
        if team_id and team is None:
            raise not_found(f"team {team_id}")
        if team is None:
            team = Team(name=name, patterns="", created_at=utcnow())
            session.add(team)
            session.flush()
        team.name, team.patterns = name, "\n".join(patterns)
        session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
        session.add_all(TeamMember(team_id=team.id, user_id=uid) for uid in ids.values())
        page.ctx.audit.append(session, page.who.username, "team.save", f"team:{name}",
                              {"patterns": patterns, "members": sorted(ids)})
    return {}


@router.post("/settings/teams")
async def new_team(page: PageDep) -> Response:
    """Create a team."""
    form = await page.form()
    page.require("admin")
    errors = _save_team(page, form, None)
    if errors:
        return _teams_page(page, 422, errors=errors, values=form.as_dict())
    return page.redirect("/settings/teams", done="team")


@router.post("/settings/teams/{team_id}")
async def edit_team(team_id: IdPath, page: PageDep) -> Response:
    """Change a team (or delete it with `delete=1`)."""
    form = await page.form()
    page.require("admin")
    if form.get("delete") == "1":
        with page.ctx.db.transaction() as session:
            team = session.get(Team, team_id)
            if team is None:
                raise not_found(f"team {team_id}")
            page.ctx.audit.append(session, page.who.username, "team.delete", f"team:{team.name}")
            session.delete(team)
        return page.redirect("/settings/teams", done="team")
    errors = _save_team(page, form, team_id)
    if errors:
        return _teams_page(page, 422, errors={f"team-{team_id}-{k}": v
                                               for k, v in errors.items()})
    return page.redirect("/settings/teams", done="team")


# --- notification channels ------------------------------------------------------------------

def _channels_page(page: Page, status: int = 200, **values: Any) -> Response:
    _read_settings(page)
    with page.ctx.db.session() as session:
        channels = list(session.execute(select(NotificationChannel)
                                        .order_by(NotificationChannel.name)).scalars())
        stats = {cid: dict(zip(("sent", "failed", "pending"), counts, strict=True))
                 for cid, *counts in session.execute(select(
                     NotificationDelivery.channel_id,
                     func.sum(case((NotificationDelivery.state == "sent", 1), else_=0)),
                     func.sum(case((NotificationDelivery.state == "failed", 1), else_=0)),
                     func.sum(case((NotificationDelivery.state.in_(("pending", "sending")), 1),
                                   else_=0)))
                     .group_by(NotificationDelivery.channel_id))}
    return _render(page, "settings_channels.html", "channels", status, channels=channels,
                   stats=stats, kinds=KINDS, events=EVENTS,
                   configs={c.id: redacted(json.loads(c.config)) for c in channels}, **values)


@router.get("/settings/channels")
def channels(page: PageDep) -> Response:
    """Notification channels and their delivery counts."""
    return _channels_page(page)


def _channel_values(form: Form, previous: dict[str, Any] | None
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    kind = form.get("kind")
    config, errors = validate_config(kind, form.as_dict(), previous)
    events = [e for e in form.getlist("events") if e in EVENTS]
    if not events:
        errors["events"] = "choose at least one event"
    name = form.get("name").strip()
    if not name or len(name) > 100:
        errors["name"] = "required, at most 100 characters"
    return {"kind": kind, "config": config, "events": events, "name": name}, errors


@router.post("/settings/channels")
async def new_channel(page: PageDep) -> Response:
    """Create a channel."""
    form = await page.form()
    page.require("admin")
    values, errors = _channel_values(form, None)
    if not errors:
        with page.ctx.db.transaction() as session:
            if session.execute(select(NotificationChannel.id).where(
                    NotificationChannel.name == values["name"])).first():
                errors["name"] = f"a channel named {values['name']!r} exists"
            else:
                row = NotificationChannel(
                    name=values["name"], kind=values["kind"], config=json.dumps(values["config"]),
                    events=" ".join(values["events"]), enabled=True, created_at=utcnow(),
                    created_by=page.who.username)
                session.add(row)
                session.flush()
                page.ctx.audit.append(session, page.who.username, "channel.create",
                                      f"channel:{row.id}", {"name": row.name, "kind": row.kind,
                                                            "events": values["events"]})
    if errors:
        shown = {k: v for k, v in form.as_dict().items() if k not in ("secret", "password")}
        return _channels_page(page, 422, errors=errors, values=shown,
                              chosen_events=form.getlist("events"))
    return page.redirect("/settings/channels", done="channel")


def _channel_detail(page: Page, channel_id: int, status: int = 200, **values: Any) -> Response:
    _read_settings(page)
    with page.ctx.db.session() as session:
        channel = session.get(NotificationChannel, channel_id)
        if channel is None:
            raise not_found(f"channel {channel_id}")
        deliveries = list(session.execute(select(NotificationDelivery).where(
            NotificationDelivery.channel_id == channel_id)
            .order_by(NotificationDelivery.id.desc()).limit(50)).scalars())
        attempts: dict[int, list[DeliveryAttempt]] = {}
        for attempt in session.execute(select(DeliveryAttempt).where(
                DeliveryAttempt.delivery_id.in_([d.id for d in deliveries] or [0]))
                .order_by(DeliveryAttempt.id)).scalars():
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    config = json.loads(channel.config)
    return _render(page, "settings_channel.html", "channels", status, channel=channel,
                   config=config, shown=redacted(config), deliveries=deliveries,
                   attempts=attempts, events=EVENTS, kinds=KINDS,
                   payloads={d.id: json.loads(d.payload) for d in deliveries}, **values)


@router.get("/settings/channels/{channel_id}")
def channel(channel_id: IdPath, page: PageDep) -> Response:
    """One channel: its settings and every delivery with every attempt."""
    return _channel_detail(page, channel_id)


@router.post("/settings/channels/{channel_id}")
async def edit_channel(channel_id: IdPath, page: PageDep) -> Response:
    """Change, enable/disable, test or delete a channel."""
    form = await page.form()
    page.require("admin")
    action = form.get("action", "save")
    with page.ctx.db.transaction() as session:
        row = session.get(NotificationChannel, channel_id)
        if row is None:
            raise not_found(f"channel {channel_id}")
        if action == "test":
            notify(session, TEST_EVENT, {
                "title": "StackWarden test notification", "severity": "low",
                "summary": f"a test from {page.who.username} for channel {row.name}",
                "items": [{"text": "if you read this, the channel works"}],
                "path": f"/settings/channels/{row.id}"}, channel_id=row.id)
            return page.redirect(f"/settings/channels/{row.id}", done="channel_test")
        if action == "delete":
            page.ctx.audit.append(session, page.who.username, "channel.delete",
                                  f"channel:{row.id}", {"name": row.name})
            session.delete(row)
            return page.redirect("/settings/channels", done="channel")
        if action == "toggle":
            row.enabled = not row.enabled
            page.ctx.audit.append(session, page.who.username, "channel.update",
                                  f"channel:{row.id}", {"enabled": row.enabled})
            return page.redirect(f"/settings/channels/{row.id}", done="channel")
        values, errors = _channel_values(Form([("kind", row.kind), *form.pairs]),
                                         json.loads(row.config))
        if not errors:
            row.name, row.config = values["name"], json.dumps(values["config"])
            row.events = " ".join(values["events"])
            page.ctx.audit.append(session, page.who.username, "channel.update",
                                  f"channel:{row.id}", {"name": row.name,
                                                        "events": values["events"]})
    if errors:
        return _channel_detail(page, channel_id, 422, errors=errors)
    return page.redirect(f"/settings/channels/{channel_id}", done="channel")


# --- policies ------------------------------------------------------------------------------

@router.get("/settings/policies")
def policies(page: PageDep) -> Response:
    """SLA days per severity."""
    _read_settings(page)
    with page.ctx.db.session() as session:
        days = sla_days(session)
    return _render(page, "settings_policies.html", "policies", sla=days,
                   severities=list(DEFAULT_SLA_DAYS), defaults=DEFAULT_SLA_DAYS)


@router.post("/settings/policies")
async def save_policies(page: PageDep) -> Response:
    """Save the SLA days (audited)."""
    form = await page.form()
    page.require("admin")
    days, errors = parse_sla_form(form.as_dict())
    if errors:
        return _render(page, "settings_policies.html", "policies", 422, sla=form.as_dict(),
                       severities=list(DEFAULT_SLA_DAYS), defaults=DEFAULT_SLA_DAYS,
                       errors=errors)
    with page.ctx.db.transaction() as session:
        row = session.get(ServerPolicy, SLA_POLICY_KEY)
        before = json.loads(row.value) if row else dict(DEFAULT_SLA_DAYS)
        if row is None:
            row = ServerPolicy(key=SLA_POLICY_KEY, value="", updated_by="", updated_at=utcnow())
            session.add(row)
        row.value, row.updated_by, row.updated_at = json.dumps(days), page.who.username, utcnow()
        page.ctx.audit.append(session, page.who.username, "policy.sla", "policy:sla_days",
                              {"days": days, "before": before})
    return page.redirect("/settings/policies", done="policy")
