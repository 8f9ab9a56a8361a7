"""Small predicates and helpers the built-in checks share (pure functions, patterns compiled
once, inputs capped)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from stackwarden.detect.misconfig.hclnodes import Expr
from stackwarden.detect.misconfig.model import Hit
from stackwarden.detect.misconfig.yamlnodes import span

# Name fragments of variables that hold credentials (…_PASSWORD, DB_PASS, API_KEY, TOKEN…).
_SECRET_NAME = re.compile(
    r"(?:^|[_.\-])(?:PASSWORD|PASSWD|PASS|PWD|SECRET|SECRETS|TOKEN|API[_\-]?KEY|APIKEY|"
    r"ACCESS[_\-]?KEY|SECRET[_\-]?KEY|PRIVATE[_\-]?KEY|CLIENT[_\-]?SECRET|CREDENTIALS?|"
    r"AUTH[_\-]?TOKEN|ACCESS[_\-]?TOKEN|CONN(?:ECTION)?[_\-]?STRING)(?:$|[_.\-])",
    re.IGNORECASE)
# Names that *mention* a secret but hold a path, a switch or a public part.
_NOT_SECRET_NAME = re.compile(
    r"(?:_FILE|_PATH|_DIR|_URL|_URI|_ENDPOINT|_HOST|_PORT|_ID|_NAME|_USER|_USERNAME|_TYPE|"
    r"_LENGTH|_ENABLED|_REF|_ARN|_HEADER|_FIELD|_KEY_ID|_POLICY|_VERSION|_EXPIRY|_TTL|"
    r"_TIMEOUT|_REGION|_MODE|_METHOD|_FORMAT)$", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")  # dbPassword -> db_Password
# Token formats that are secrets whatever the variable is called.
_SECRET_VALUE = re.compile(
    r"(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,}|"
    r"glpat-[A-Za-z0-9_\-]{20}|xox[baprs]-[A-Za-z0-9\-]{10,}|sk_live_[A-Za-z0-9]{20,}|"
    r"AIza[0-9A-Za-z_\-]{35}|-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----")
# Values that are references, not secrets: ${VAR}, $VAR, {{ .Values.x }}, ${{ secrets.X }}.
_REFERENCE = re.compile(r"^\s*(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$\{\{.*\}\}|\{\{.*\}\}|"
                        r"\$\(.*\)|%\(.*\)s|<[^>]+>)\s*$", re.DOTALL)
_PLACEHOLDERS = frozenset({"", "true", "false", "yes", "no", "null", "none", "0", "1",
                           "required", "optional", "enabled", "disabled", "-", "*", "xxx"})
# `curl … | sh`: a downloaded script run without verification.
PIPE_TO_SHELL = re.compile(
    r"\b(?:curl|wget)\b[^|;&\n]{0,500}\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:/\S*/)?(?:ba|z|da|k|a)?sh\b")
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0", "0.0.0.0", "*", "internet", "any", "0/0"})
MAX_VALUE = 4096


def hit(message: str, obj: Any = None, key: str | int | None = None, subject: str = "") -> Hit:
    """A Hit located at `obj[key]` (or `obj` itself) when line numbers are known."""
    line, end = span(obj, key) if obj is not None else (None, None)
    return Hit(message, line, end, subject)


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj[p0][p1]… through dicts and lists, or `default` when any step is missing."""
    current = obj
    for step in path:
        if isinstance(current, dict) and isinstance(step, str):
            current = current.get(step)
        elif isinstance(current, list) and isinstance(step, int) and -len(current) <= step \
                < len(current):
            current = current[step]
        else:
            return default
        if current is None:
            return default
    return current


def as_list(value: Any) -> list[Any]:
    """A list as is, None as [], anything else as a one-item list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def mappings(value: Any) -> Iterator[dict[str, Any]]:
    """The dict items of a list (or the dict itself)."""
    for item in as_list(value):
        if isinstance(item, dict):
            yield item


def unknown(value: Any) -> bool:
    """Whether a value is only known at deploy time (HCL expression, CFN intrinsic)."""
    if isinstance(value, Expr):
        return True
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key == "Ref" or key.startswith("Fn::")
    return False


def is_true(value: Any) -> bool:
    """True, "true" (any case) — a literal that is known to be on."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and not isinstance(value, Expr) and value.lower() == "true"


def is_false(value: Any) -> bool:
    """False, "false" — a literal that is known to be off (unknown values are not)."""
    if isinstance(value, bool):
        return not value
    return isinstance(value, str) and not isinstance(value, Expr) and value.lower() == "false"


def is_secret_name(name: str) -> bool:
    """Whether a variable name says it holds a credential (`DB_PASSWORD`, `dbPassword`)."""
    name = _CAMEL.sub("_", name.strip()[:200])
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def is_literal_secret(value: Any) -> bool:
    """Whether a value is a literal (not a reference or placeholder) worth calling a secret."""
    if not isinstance(value, str) or isinstance(value, Expr):
        return False
    text = value.strip()[:MAX_VALUE]
    if text.lower() in _PLACEHOLDERS or len(text) < 4:
        return False
    return not _REFERENCE.match(text)


def looks_like_token(value: Any) -> bool:
    """Whether a value has the format of a known credential (AWS key id, GitHub token, …)."""
    return isinstance(value, str) and bool(_SECRET_VALUE.search(value[:MAX_VALUE]))


def secret_assignment(name: Any, value: Any) -> bool:
    """A credential set in clear: a secret-like name with a literal value, or a token."""
    if looks_like_token(value):
        return True
    return isinstance(name, str) and is_secret_name(name) and is_literal_secret(value)


def is_open_cidr(value: Any) -> bool:
    """Whether an address range means "anyone on the internet"."""
    if not isinstance(value, str) or isinstance(value, Expr):
        return False
    text = value.strip().lower()
    if text in OPEN_CIDRS:
        return True
    try:
        return ipaddress.ip_network(text, strict=False).prefixlen == 0
    except ValueError:
        return False


def port_range(from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """A (low, high) port range from two values, None when not literal."""
    try:
        low, high = int(from_port), int(to_port)
    except (TypeError, ValueError):
        return None
    if low in (-1, 0) and high in (-1, 0, 65535):
        return 0, 65535
    return low, high


def covers(ports: tuple[int, int] | None, port: int) -> bool:
    """Whether a port range includes `port`."""
    return ports is not None and ports[0] <= port <= ports[1]


def parse_port_spec(text: Any) -> tuple[int, int] | None:
    """"22", "20-25", "*" (all), 22 -> a (low, high) range."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text, text
    if not isinstance(text, str) or isinstance(text, Expr):
        return None
    text = text.strip()
    if text in ("*", "all", "-1"):
        return 0, 65535
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        return None


def image_reference_parts(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest
