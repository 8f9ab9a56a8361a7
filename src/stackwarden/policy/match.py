"""Matching findings against policy patterns: path globs, package specs, PURLs, file types."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache
from posixpath import basename

from packageurl import PackageURL

from stackwarden.core.findings import Finding, PackageRef

# File types the gate's `file_type` condition knows by name (a scanner may set
# evidence["file_type"] itself, which always wins).
_NAMED_TYPES = {"dockerfile": "dockerfile", "containerfile": "dockerfile"}
_SUFFIX_TYPES = {".dockerfile": "dockerfile", ".containerfile": "dockerfile", ".tf": "terraform",
                 ".tf.json": "terraform", ".yaml": "yaml", ".yml": "yaml", ".json": "json",
                 ".sh": "shell", ".py": "python", ".env": "dotenv", ".pem": "pem",
                 ".key": "pem", ".xml": "xml", ".toml": "toml", ".ini": "ini"}
FILE_TYPES = tuple(sorted({*_NAMED_TYPES.values(), *_SUFFIX_TYPES.values(), "kubernetes",
                           "helm", "cloudformation", "compose"}))


def normalise_path(path: str) -> str:
    """Paths compare without a leading `/` or `./` (image paths and repo paths alike)."""
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex: `**` spans directories, `*` and `?` stay inside one name."""
    pattern = normalise_path(pattern)
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    # A directory pattern covers everything below it.
    return re.compile("".join(out) + "(?:/.*)?", re.DOTALL)


def path_matches(pattern: str, path: str) -> bool:
    """Whether `path` matches the glob; a pattern without `/` matches a file name anywhere."""
    if not path:
        return False
    path = normalise_path(path)
    if glob_regex(pattern).fullmatch(path):
        return True
    return "/" not in pattern.strip("/") and glob_regex(pattern).fullmatch(basename(path)) \
        is not None


def _purl(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def purl_matches(spec: str, actual: str) -> bool:
    """Whether a package's PURL is the one `spec` names (version and qualifiers when given)."""
    want, have = _purl(spec), _purl(actual)
    if want is None or have is None:
        return False
    if want.type != have.type or (want.namespace or "").lower() != \
            (have.namespace or "").lower() or want.name.lower() != have.name.lower():
        return False
    if want.version and want.version != have.version:
        return False
    have_qualifiers = have.qualifiers if isinstance(have.qualifiers, dict) else {}
    want_qualifiers = want.qualifiers if isinstance(want.qualifiers, dict) else {}
    return all(have_qualifiers.get(k) == v for k, v in want_qualifiers.items())


def split_package_spec(spec: str) -> tuple[str, str | None]:
    """`name[@version]` (npm scopes like `@types/node@1.0` keep their leading `@`)."""
    at = spec.rfind("@")
    if at > 0:
        return spec[:at], spec[at + 1:] or None
    return spec, None


def package_matches(spec: str, package: PackageRef | None) -> bool:
    """`name`, `name@version` (name may be a glob) or a PURL, against a finding's package."""
    if package is None:
        return False
    if spec.startswith("pkg:"):
        return purl_matches(spec, package.purl)
    name, version = split_package_spec(spec)
    return fnmatchcase(package.name, name) and (version is None or package.version == version)


def finding_ids(f: Finding) -> set[str]:
    """A finding's id and aliases, upper-cased for comparison."""
    return {i.upper() for i in (f.id, *f.aliases)}


def id_matches(pattern: str, f: Finding) -> bool:
    """Whether the id glob names the finding's id or one of its aliases (case-insensitive)."""
    pattern = pattern.upper()
    return any(fnmatchcase(i, pattern) for i in finding_ids(f))


def file_type(f: Finding) -> str:
    """The kind of file a finding is in: the scanner's own word, else guessed from the name."""
    given = f.evidence.get("file_type") if isinstance(f.evidence, dict) else None
    if isinstance(given, str) and given:
        return given.lower()
    name = basename(normalise_path(f.location.path)).lower()
    if name in _NAMED_TYPES or name.startswith(("dockerfile.", "containerfile.")):
        return _NAMED_TYPES.get(name, "dockerfile")
    for suffix in sorted(_SUFFIX_TYPES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIX_TYPES[suffix]
    return ""
