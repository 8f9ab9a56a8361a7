"""Which distribution an artifact runs: os-release first, then the older release files."""

from __future__ import annotations

import re
import shlex

from stackwarden.artifact.base import Artifact
from stackwarden.core.errors import StackWardenError
from stackwarden.core.models import OSRelease

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
LEGACY_FILES = (
    ("/etc/alpine-release", "alpine"),
    ("/etc/debian_version", "debian"),
    ("/etc/redhat-release", None),
    ("/etc/centos-release", "centos"),
    ("/etc/system-release", None),
)
_REDHAT_LINE = re.compile(r"^(?P<name>.+?) release (?P<version>[\d.]+)")
_REDHAT_IDS = {"centos": "centos", "red hat enterprise linux": "rhel", "fedora": "fedora",
               "rocky linux": "rocky", "almalinux": "almalinux", "amazon linux": "amzn",
               "oracle linux": "ol"}
LIMIT = 64 * 1024


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release's shell-style KEY=value lines (quotes and escapes as the spec says)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw, posix=True)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = " ".join(parts)
    return values


def _read(artifact: Artifact, path: str) -> str | None:
    entry = artifact.resolve(path)
    if entry is None or not entry.is_file:
        return None
    try:
        return artifact.read(entry, limit=LIMIT).decode("utf-8", "replace")
    except StackWardenError:
        return None


def detect_os(artifact: Artifact) -> OSRelease | None:
    """The OSRelease of the artifact's final filesystem, or None when it has no OS files."""
    for path in OS_RELEASE_PATHS:
        text = _read(artifact, path)
        if text is None:
            continue
        values = parse_os_release(text)
        os_id = values.get("ID", "").lower()
        if not os_id:
            continue
        version = values.get("VERSION_ID", "")
        codename = values.get("VERSION_CODENAME", "")
        if os_id == "debian":
            # Debian testing/sid omit VERSION_ID; debian_version says "trixie/sid" or "12.4".
            debian_version = (_read(artifact, "/etc/debian_version") or "").strip()
            if not version and debian_version[:1].isdigit():
                version = debian_version.split(".")[0]
            if not codename:
                match = re.search(r"\((\w+)\)", values.get("VERSION", ""))
                codename = match.group(1) if match else ""
        return OSRelease(id=os_id, version_id=version, version_codename=codename,
                         name=values.get("NAME", ""), pretty_name=values.get("PRETTY_NAME", ""),
                         id_like=tuple(values.get("ID_LIKE", "").split()), source=path)
    for path, os_id in LEGACY_FILES:
        text = _read(artifact, path)
        if text is None or not text.strip():
            continue
        first = text.strip().splitlines()[0]
        if os_id in ("alpine", "debian"):
            version = first.strip()
            if os_id == "debian" and not version[:1].isdigit():
                version = ""
            return OSRelease(id=os_id, version_id=version, name=os_id.capitalize(),
                             pretty_name=first, source=path)
        match = _REDHAT_LINE.match(first)
        if match:
            name = match.group("name")
            lowered = name.lower()
            found = next((v for k, v in _REDHAT_IDS.items() if lowered.startswith(k)), lowered)
            return OSRelease(id=found, version_id=match.group("version"), name=name,
                             pretty_name=first, id_like=("rhel", "fedora"), source=path)
    return None
