"""Go modules a project declares in its go.mod (require, replace and exclude applied).

The lexer and the directive rules follow golang.org/x/mod/modfile: `//` comments, quoted
strings, `verb ( ... )` blocks, canonical versions (`v1.2` reads as `v1.2.0`). The result
is what Syft's go-module-file-cataloger reports: every requirement (direct or `// indirect`),
then each replacement removes its original path and adds its target (a local directory target
has no version), then exclusions remove their paths. The main module itself is not a package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from stackwarden.artifact.base import FileEntry
from stackwarden.catalog.base import Cataloger, CatalogContext, FilePatterns
from stackwarden.catalog.golang.buildinfo import go_unquote
from stackwarden.catalog.golang.package import canonical_version, golang_purl
from stackwarden.core.errors import CatalogError
from stackwarden.core.models import Package, PackageType

MAX_GO_SUM = 64 * 1024 * 1024
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|[()\[\],]'
                    r'|(?:[^\s()\[\]{},"/]|/(?!/))+|\n|\S')
_DIRECTIVES = frozenset({"module", "go", "toolchain", "godebug", "require", "exclude",
                         "replace", "retract", "tool", "ignore"})


@dataclass(frozen=True, slots=True)
class Line:
    """One directive line: its verb, arguments and trailing comment."""

    number: int
    verb: str
    args: tuple[str, ...]
    comment: str = ""


@dataclass(frozen=True, slots=True)
class GoMod:
    """The parts of a go.mod that decide which modules a build uses."""

    module: str
    requires: tuple[tuple[str, str, bool], ...]  # (path, version, indirect)
    replaces: tuple[tuple[str, str, str, str], ...]  # (old path, old version, new path, new ver)
    excludes: tuple[tuple[str, str], ...]


def lines(text: str) -> Iterator[Line]:
    """The directive lines of a go.mod, blocks expanded (`require ( a v1 )` -> `require a v1`)."""
    number, comment = 1, ""
    tokens: list[str] = []
    block: str | None = None
    for match in _TOKEN.finditer(text + "\n"):
        token = match.group(0)
        if token == "\n":
            line_no = number
            number += 1
            if not tokens:
                continue
            current, tokens, note = tokens, [], comment
            comment = ""
            if block is None and current[-1] == "(":
                if len(current) != 2:
                    raise CatalogError(f"line {line_no}: unexpected block opening")
                block = current[0]
                continue
            if block is not None and current == [")"]:
                block = None
                continue
            verb, args = (block, current) if block is not None else (current[0], current[1:])
            yield Line(line_no, verb, tuple(args), note)
        elif token.startswith("//"):
            comment = token[2:].strip()
        elif token == '"':
            raise CatalogError(f"line {number}: unexpected newline in quoted string")
        elif "/*" in token and token[0] != '"':
            raise CatalogError(f"line {number}: mod files must use // comments")
        else:
            tokens.append(token)
    if block is not None:
        raise CatalogError(f"unterminated {block} block at the end of the file")


def _string(token: str, line: Line) -> str:
    if token.startswith('"'):
        try:
            return go_unquote(token)
        except ValueError:
            raise CatalogError(f"line {line.number}: invalid quoted string {token[:40]}") from None
    if any(q in token for q in "\"'`"):
        raise CatalogError(f"line {line.number}: invalid quoted string: unquoted string cannot "
                           "contain quote")
    return token


def _version(token: str, line: Line) -> str:
    raw = _string(token, line)
    canonical = canonical_version(raw)
    if canonical is None:
        raise CatalogError(f"line {line.number}: {line.verb} {raw!r}: version must be of the "
                           "form v1.2.3")
    return canonical


def is_directory_path(path: str) -> bool:
    """Whether a replacement target is a local directory rather than a module path."""
    return (path in (".", "..") or path.startswith(("./", "../", "/", ".\\", "..\\", "\\"))
            or (len(path) >= 2 and path[0].isascii() and path[0].isalpha() and path[1] == ":"))


def parse_go_mod(text: str) -> GoMod:
    """Parse go.mod text; CatalogError with the line number for a malformed directive."""
    module = ""
    requires, replaces, excludes = [], [], []
    for line in lines(text):
        args = line.args
        if line.verb == "module":
            if len(args) != 1:
                raise CatalogError(f"line {line.number}: usage: module module/path")
            module = _string(args[0], line)
        elif line.verb == "require":
            if len(args) != 2:
                raise CatalogError(f"line {line.number}: usage: require module/path v1.2.3")
            words = line.comment.split()  # modfile's isIndirect, to the letter
            indirect = words == ["indirect"] or (len(words) > 1 and words[0] == "indirect;")
            requires.append((_string(args[0], line), _version(args[1], line), indirect))
        elif line.verb == "exclude":
            if len(args) != 2:
                raise CatalogError(f"line {line.number}: usage: exclude module/path v1.2.3")
            excludes.append((_string(args[0], line), _version(args[1], line)))
        elif line.verb == "replace":
            replaces.append(_replacement(line))
        elif line.verb not in _DIRECTIVES:
            continue  # newer directives: ignored rather than failing the whole file
    return GoMod(module, tuple(requires), tuple(replaces), tuple(excludes))


def _replacement(line: Line) -> tuple[str, str, str, str]:
    args = line.args
    arrow = 2 if len(args) >= 3 and args[2] == "=>" else 1
    usage = (f"line {line.number}: usage: replace module/path [v1.2.3] => other/module v1.4 "
             "or replace module/path [v1.2.3] => ../local/directory")
    if arrow >= len(args) or args[arrow] != "=>" or len(args) not in (arrow + 2, arrow + 3):
        raise CatalogError(usage)
    old = _string(args[0], line)
    old_version = _version(args[1], line) if arrow == 2 else ""
    new = _string(args[arrow + 1], line)
    if len(args) == arrow + 2:
        if not is_directory_path(new):
            raise CatalogError(f"line {line.number}: replacement module without version must "
                               "be directory path (rooted or starting with . or ..)")
        return old, old_version, new, ""
    if is_directory_path(new):
        raise CatalogError(f"line {line.number}: replacement module directory path must not "
                           "have a version")
    return old, old_version, new, _version(args[arrow + 2], line)


def go_sum_digests(text: str) -> dict[str, str]:
    """`path version` -> `h1:` hash, from go.sum lines."""
    digests = {}
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) >= 3:
            digests[f"{parts[0]} {parts[1]}"] = parts[2]
    return digests


class GoModFileCataloger(Cataloger):
    """Modules a Go project requires, from go.mod (with go.sum digests when present)."""

    name = "go-module-file-cataloger"
    tags = frozenset({"declared", "language", "go"})
    patterns = FilePatterns(names=frozenset({"go.mod"}))
    package_type = PackageType.GO

    def parse(self, entry: FileEntry, ctx: CatalogContext) -> Iterable[Package]:
        mod = parse_go_mod(ctx.text(entry))
        digests: dict[str, str] = {}
        go_sum = None if ctx.identity_only else ctx.sibling(entry, "go.sum")
        if go_sum is not None:
            digests = go_sum_digests(ctx.text(go_sum, limit=MAX_GO_SUM))
        chosen: dict[str, dict[str, object]] = {}
        for path, version, indirect in mod.requires:
            chosen[path] = {"version": version, "indirect": indirect}
        for old, old_version, new, new_version in mod.replaces:
            replaced = chosen.pop(old, None)
            meta: dict[str, object] = {"version": new_version,
                                       "replaces": f"{old}@{old_version}" if old_version else old}
            if replaced is not None:
                meta["indirect"] = replaced["indirect"]
            if is_directory_path(new):
                meta["local_directory"] = True
            chosen[new] = meta
        for path, _ in mod.excludes:
            chosen.pop(path, None)
        found = []
        for path in sorted(chosen):
            meta = dict(chosen[path])
            version = str(meta.pop("version"))
            meta["main_module"] = mod.module
            meta["h1_digest"] = digests.get(f"{path} {version}", "")
            found.append(self.package(ctx, entry, path, version, golang_purl(path, version),
                                      metadata=meta))
        return found
