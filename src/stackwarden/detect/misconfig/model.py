"""The misconfiguration engine's interface: documents, checks, hits, file types, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackwarden.core.errors import StackWardenError
from stackwarden.core.findings import Severity

if TYPE_CHECKING:
    from stackwarden.detect.misconfig.source import SourceFile


class MisconfigError(StackWardenError):
    """Root of the misconfiguration scanner's errors."""


class ConfigParseError(MisconfigError):
    """One configuration file could not be parsed; it is skipped and the scan goes on."""


class PolicyError(MisconfigError):
    """A custom policy file is invalid (bad YAML, missing field, CEL that does not compile)."""


@dataclass(slots=True)
class Document:
    """One checkable unit of a configuration file: a Kubernetes object, a Terraform resource,
    a CloudFormation resource, a Compose service set, a workflow, a Dockerfile, an image config.

    `body` is plain Python data (dicts, lists, scalars); dicts and lists that came from a file
    carry line numbers (see `yamlnodes.span`). `context` is the whole file or module, for checks
    that look at companion resources (an S3 bucket's separate versioning resource).
    """

    file_type: str
    kind: str  # Kubernetes kind, Terraform resource type, CloudFormation type, ...
    name: str  # the resource label used in the finding location
    body: Any
    path: str = ""
    line: int | None = None
    end_line: int | None = None
    context: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    line_offset: int = 0  # subtracted from line numbers (Helm `# Source:` sections)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # checks' shared lookups


@dataclass(frozen=True, slots=True)
class Hit:
    """One violation a check found inside a document: what, and where (lines are 1-based)."""

    message: str
    line: int | None = None
    end_line: int | None = None
    subject: str = ""  # stable part of the fingerprint: container name, rule index, key path


TestFunc = Callable[[Document], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Check:
    """A built-in check: metadata plus one small test over a document.

    `kinds` restricts the check to those document kinds (empty: every document of the type).
    """

    id: str
    title: str
    severity: Severity
    file_type: str
    test: TestFunc
    description: str
    remediation: str
    references: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    kinds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FileType:
    """A configuration file type: a cheap name test, a content sniff and a parser.

    `claims(path)` is True when the name alone says the file is this type (`Dockerfile`,
    `.github/workflows/*.yml`); `candidate(path)` when it might be (`*.yaml`), in which case
    `sniff(src)` looks at the content. `parse` returns the documents, or [] when the content
    turns out not to be this type; it raises ConfigParseError for a broken file.
    """

    name: str
    claims: Callable[[str], bool]
    candidate: Callable[[str], bool]
    sniff: Callable[[SourceFile], bool]
    parse: Callable[[SourceFile], list[Document]]


def never(path: str) -> bool:
    """`candidate`/`claims` for file types that are never (or only) recognised by name."""
    return False


def no_sniff(src: SourceFile) -> bool:
    """`sniff` for file types recognised by name only."""
    return False
