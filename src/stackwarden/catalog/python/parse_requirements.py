"""pip requirements files: the lines pinned with `==` or `===`.

Follows pip's own reading of the format (pip/_internal/req/req_file.py): backslash
continuations are joined first, then `#` comments (at line start or after whitespace) are
removed, option lines (`-r`, `-c`, `-e`, `--index-url`, ...) are skipped, and per-requirement
options (`--hash=...`) are split off at the first token starting with `-`. What remains is a
PEP 508 requirement. Included files (`-r other.txt`) are not followed: each file is reported
on its own, like Syft does, so a package is attributed to the file that pins it.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement

from stackwarden.catalog.parsing import Found

_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"--hash[=\s]+(\S+)")
PIN_OPERATORS = ("==", "===")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, joined line) pairs, continuations and comments handled as pip does."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = line.lstrip().startswith("#")
        if line.endswith("\\") and not is_comment:
            if not pending:
                start = number
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(" " + line if is_comment else line)
            lines.append((start, "".join(pending)))
            pending = []
        else:
            lines.append((number, line))
    if pending:
        lines.append((start, "".join(pending)))
    return [(n, _COMMENT.sub("", line).strip()) for n, line in lines]


def split_options(line: str) -> tuple[str, str]:
    """pip's break_args_options: the requirement, then options from the first `-` token on."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]).strip(), " ".join(tokens[index:])
    return line, ""


def pinned_version(requirement: Requirement) -> str | None:
    """The exact version a requirement pins (`==1.2`, `===1.2-custom`), or None."""
    if requirement.url:
        return None
    specs = list(requirement.specifier)
    if len(specs) != 1 or specs[0].operator not in PIN_OPERATORS:
        return None
    version = specs[0].version
    if specs[0].operator == "==" and version.endswith(".*"):
        return None  # a wildcard is a range, not a pin
    return version


def parse_requirements(text: str) -> list[Found]:
    """Every pinned requirement of one requirements file, in file order."""
    found: list[Found] = []
    for number, line in logical_lines(text):
        if not line or line.startswith("-"):
            continue  # options, includes (-r/-c) and editables (-e) name no pinned release
        spec, options = split_options(line)
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            continue  # a path, URL or archive: no version to report
        version = pinned_version(requirement)
        if version is None:
            continue  # unpinned lines do not say what gets installed; Syft skips them too
        metadata: dict[str, object] = {"line": number}
        if requirement.extras:
            metadata["extras"] = sorted(requirement.extras)
        if requirement.marker is not None:
            metadata["markers"] = str(requirement.marker)
        hashes = _HASH.findall(options)
        if hashes:
            metadata["hashes"] = hashes
        found.append(Found(requirement.name, version, metadata=metadata))
    return found
