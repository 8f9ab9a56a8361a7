"""sudo, su, PAM and account-management messages (auth.log / secure) into fields.

sudo keeps its own upper-case keys (`USER`, `TTY`, `PWD`, `COMMAND`: what SigmaHQ's sudo
rules test) next to normalised ones (`user` who ran it, `target_user`, `command`). Account
changes become `action: user_created | group_created | user_added_to_group | user_deleted |
password_changed` with `target_user`/`group`.
"""

from __future__ import annotations

import re
from typing import Any

_KEY_VALUES = re.compile(r"(\w+)=(\S*)")
_NEW_ACCOUNT = re.compile(r"(\w+)=([^,]*)")
_QUOTED = re.compile(r"'([^']*)'")


def parse_pam(msg: str, f: dict[str, Any]) -> bool:
    """`pam_unix(sshd:auth): authentication failure; … rhost=… user=…` and friends."""
    # `pam_unix(sshd:auth): text`, parsed with str methods: PAM lines are a third of auth.log
    head, sep, text = msg.partition("): ")
    module, paren, inside = head.partition("(")
    service, colon, kind = inside.rpartition(":")
    if not (sep and paren and colon) or " " in module:
        return False
    f["pam_module"], f["pam_service"], f["pam_type"] = module, service, kind
    if text.startswith("authentication failure"):
        f["action"], f["outcome"] = "authentication_failure", "failure"
        for key, value in _KEY_VALUES.findall(text):
            if value:
                f[key] = value
        if f.get("rhost"):
            f["src_ip"] = f["rhost"]
    elif text.startswith(("session opened for user ", "session closed for user ")):
        # "session opened for user root(uid=0) by alice(uid=1000)" / "… by (uid=0)"
        f["action"] = "session_opened" if text[8] == "o" else "session_closed"
        who, _, by = text[24:].partition(" by ")
        user, _, uid = who.partition("(uid=")
        f["user"] = user
        if uid:
            f["uid"] = uid.rstrip(")")
        if by:
            by_user, _, by_uid = by.partition("(uid=")
            if by_user:
                f["by_user"] = by_user
            if by_uid:
                f["by_uid"] = by_uid.rstrip(")")
    elif text.startswith("password changed for "):
        f["action"], f["target_user"] = "password_changed", text[21:].strip()
    elif text.startswith("check pass; user unknown"):
        f["action"], f["outcome"] = "unknown_user", "failure"
    elif text.startswith(("auth could not identify password for", "conversation failed")):
        f["action"], f["outcome"] = "authentication_failure", "failure"
    return True


def parse_sudo(msg: str, f: dict[str, Any]) -> None:
    """`alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id`."""
    if parse_pam(msg, f):
        return
    user, sep, rest = msg.partition(" : ")
    if not sep:
        return
    f["user"] = user.strip()
    command = None
    head, marker, tail = rest.partition("COMMAND=")
    if marker:
        command = tail
        rest = head
    reasons = []
    for item in rest.split(" ; "):
        item = item.strip()
        if not item:
            continue
        key, eq, value = item.partition("=")
        if eq and key.isupper():
            f[key] = value
        else:
            reasons.append(item)
    if command is not None:
        f["COMMAND"] = f["command"] = command
    if "USER" in f:
        f["target_user"] = f["USER"]
    f["action"] = "sudo_denied" if reasons else "sudo_command"
    f["outcome"] = "failure" if reasons else "success"
    if reasons:
        f["reason"] = "; ".join(reasons)


def parse_su(msg: str, f: dict[str, Any]) -> None:
    """util-linux su: `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`."""
    if parse_pam(msg, f):
        return
    failed = msg.startswith("FAILED SU ")
    body = msg[10:] if failed else msg
    if not body.startswith("(to "):
        return
    target, _, rest = body[4:].partition(") ")
    user, _, tty = rest.partition(" on ")
    f.update(action="su", outcome="failure" if failed else "success", target_user=target,
             user=user.strip())
    if tty:
        f["tty"] = tty.strip()


def parse_accounts(msg: str, f: dict[str, Any]) -> None:
    """useradd, groupadd, usermod, userdel, gpasswd, passwd, chpasswd messages."""
    if parse_pam(msg, f):
        return
    if msg.startswith(("new user: ", "new group: ")):
        values = {k: v.strip() for k, v in _NEW_ACCOUNT.findall(msg.partition(": ")[2])}
        for key, value in values.items():
            f[key] = value
        if msg.startswith("new user"):
            f["action"], f["target_user"] = "user_created", values.get("name", "")
        else:
            f["action"], f["group"] = "group_created", values.get("name", "")
        return
    quoted = _QUOTED.findall(msg)
    if msg.startswith("add ") and " to " in msg and len(quoted) >= 2:
        f.update(action="user_added_to_group", target_user=quoted[0], group=quoted[1])
    elif msg.startswith("user ") and " added by " in msg and " to group " in msg:
        # gpasswd: "user bob added by root to group sudo"
        who, _, rest = msg[5:].partition(" added by ")
        by, _, group = rest.partition(" to group ")
        f.update(action="user_added_to_group", target_user=who, user=by, group=group.strip())
    elif msg.startswith("delete user ") and quoted:
        f.update(action="user_deleted", target_user=quoted[0])
    elif msg.startswith("password for ") and " changed by " in msg:
        who, _, by = msg[13:].partition(" changed by ")
        f.update(action="password_changed", target_user=who.strip("'"), user=by.strip("'"))
