"""Extended attributes and file capabilities (the `security.capability` xattr, decoded)."""

from __future__ import annotations

import base64
import errno
import os
import struct

CAPABILITY_XATTR = "security.capability"
# linux/capability.h, in bit order; an unknown bit is shown as cap_N (as libcap does).
CAP_NAMES = (
    "cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
    "cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable",
    "cap_net_bind_service", "cap_net_broadcast", "cap_net_admin", "cap_net_raw",
    "cap_ipc_lock", "cap_ipc_owner", "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot",
    "cap_sys_ptrace", "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice",
    "cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease",
    "cap_audit_write", "cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin",
    "cap_syslog", "cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon",
    "cap_bpf", "cap_checkpoint_restore",
)
_REVISION_MASK = 0xFF000000
_FLAG_EFFECTIVE = 0x000001
_REVISIONS = {0x01000000: 1, 0x02000000: 2, 0x03000000: 2}  # revision -> u32 words per set


def decode_capabilities(raw: bytes) -> str:
    """`security.capability` bytes as getcap writes them: `cap_net_admin,cap_net_raw=ep`.

    Capabilities are grouped by their flags (e, i, p in libcap's order); a v3 value (user
    namespaces) adds ` [rootid=N]`. Malformed values are shown as `invalid:<hex>`.
    """
    if len(raw) < 4:
        return f"invalid:{raw.hex()}"
    (magic,) = struct.unpack_from("<I", raw, 0)
    words = _REVISIONS.get(magic & _REVISION_MASK)
    need = 4 + 8 * (words or 0) + (4 if magic & _REVISION_MASK == 0x03000000 else 0)
    if words is None or len(raw) < need:
        return f"invalid:{raw.hex()}"
    permitted = inheritable = 0
    for word in range(words):
        p, i = struct.unpack_from("<II", raw, 4 + 8 * word)
        permitted |= p << (32 * word)
        inheritable |= i << (32 * word)
    effective = bool(magic & _FLAG_EFFECTIVE)
    groups: dict[str, list[str]] = {}
    for bit in range(32 * words):
        flags = ("e" if effective and permitted >> bit & 1 else "") + \
                ("i" if inheritable >> bit & 1 else "") + ("p" if permitted >> bit & 1 else "")
        if flags:
            name = CAP_NAMES[bit] if bit < len(CAP_NAMES) else f"cap_{bit}"
            groups.setdefault(flags, []).append(name)
    text = " ".join(",".join(names) + "=" + flags for flags, names in groups.items())
    if magic & _REVISION_MASK == 0x03000000:
        (rootid,) = struct.unpack_from("<I", raw, 4 + 8 * words)
        text += f" [rootid={rootid}]"
    return text or "="


def _value_text(value: bytes) -> str:
    """An xattr value as text when it is printable UTF-8, else `base64:`."""
    stripped = value[:-1] if value.endswith(b"\0") else value
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()
    if text.isprintable():
        return text
    return "base64:" + base64.b64encode(value).decode()


def read_attributes(path: str | int) -> tuple[str | None, tuple[tuple[str, str], ...], str | None]:
    """(capabilities, other xattrs sorted, error) of a path (not followed) or an open fd."""
    follow = isinstance(path, int)
    try:
        names = os.listxattr(path, follow_symlinks=follow)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOENT):
            return None, (), None
        return None, (), f"cannot list extended attributes: {exc.strerror}"
    caps: str | None = None
    found: list[tuple[str, str]] = []
    for name in names:
        try:
            value = os.getxattr(path, name, follow_symlinks=follow)
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                continue  # removed between the list and the read
            found.append((name, f"unreadable: {exc.strerror}"))
            continue
        if name == CAPABILITY_XATTR:
            caps = decode_capabilities(value)
        else:
            found.append((name, _value_text(value)))
    return caps, tuple(sorted(found)), None
