"""Which unmanaged runtimes and libraries the binary classifier recognises, and how.

Each classifier names the files it reads (a basename pattern), the byte patterns that carry the
version (in priority order: the first pattern that matches anywhere in the file wins, as in
Syft's MatchAny), and the package it yields. Package names, PURLs and CPE products follow
Syft's binary-classifier-cataloger so SBOMs from both tools line up; the patterns are written
for this project from the strings the upstream builds embed (`\\x003.11.4\\x00` in CPython,
`node.js/v20.11.1` in Node.js, `OpenSSL 3.0.11 19 Sep 2023` in OpenSSL, `go1.21.5` in Go).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from stackwarden.catalog.contents import Alternatives


@dataclass(frozen=True)
class Classifier:
    """How to recognise one kind of file and read its version."""

    cls: str  # Syft's classifier class, kept in the package metadata
    package: str
    file: re.Pattern[str]  # matched against the basename; a `version` group fills templates
    templates: tuple[tuple[bytes, ...], ...] = ()  # byte patterns; `{version}` from the name
    cpes: tuple[str, ...] = ()  # "vendor:product"
    needed: re.Pattern[str] | None = None  # a DT_NEEDED library whose version is the binary's
    sibling: tuple[str, str] | None = None  # (basename prefix, replacement) to try next
    max_bytes: int | None = None  # small text files need no windowed scan

    def patterns(self, name_version: str | None) -> list[Alternatives]:
        """The compiled byte patterns, with the version from the file name filled in."""
        filled = re.escape(name_version).encode() if name_version else None
        return [[_compile(t, filled or b"") for t in alternatives]
                for alternatives in self.templates
                if filled is not None or not any(b"{version}" in t for t in alternatives)]


@cache
def _compile(template: bytes, version: bytes) -> re.Pattern[bytes]:
    return re.compile(template.replace(b"{version}", version), re.ASCII)


_OPENSSL = (rb"\x00OpenSSL (?P<version>[0-9]+\.[0-9]+\.[0-9]+(?:[a-z]|-alpha[0-9]|-beta[0-9]"
            rb"|-rc[0-9])?)",)
_GO_VERSION = rb"go(?P<version>[0-9]+\.[0-9]+(?:\.[0-9]+|beta[0-9]+|alpha[0-9]+|rc[0-9]+)?)"
_PYTHON_CPES = ("python_software_foundation:python", "python:python")

LIBPYTHON = Classifier(
    cls="python-binary-lib", package="python",
    file=re.compile(r"libpython(?P<version>[0-9]+(?:\.[0-9]+)+)[a-z]?\.so.*"),
    # CPython keeps PY_VERSION as its own NUL-terminated string: "\x003.11.4\x00".
    templates=((rb"\x00(?P<version>{version}[-._a-zA-Z0-9]*)\x00",),),
    cpes=_PYTHON_CPES,
)

CLASSIFIERS: tuple[Classifier, ...] = (
    Classifier(
        cls="python-binary", package="python",
        file=re.compile(r"python(?:(?P<version>[0-9]+(?:\.[0-9]+)+)|[0-9]*)"),
        templates=LIBPYTHON.templates, cpes=_PYTHON_CPES,
        needed=re.compile(r"libpython[0-9]+(?:\.[0-9]+)+[a-z]?\.so.*"),
    ),
    LIBPYTHON,
    Classifier(
        cls="go-binary", package="go", file=re.compile(r"go(?:\.exe)?"),
        templates=((_GO_VERSION + rb"\x00",),), cpes=("golang:go",),
    ),
    Classifier(  # $GOROOT/VERSION: "go1.21.5\ntime 2023-12-01T..."
        cls="go-binary-hint", package="go", file=re.compile(r"VERSION"),
        templates=((_GO_VERSION,),), cpes=("golang:go",), max_bytes=64 * 1024,
    ),
    Classifier(
        cls="nodejs-binary", package="node", file=re.compile(r"node"),
        templates=(
            # Node 0.x-6.x: "\x00v4.9.1\x00" or "\x00node v0.10.48\x00" (split for speed)
            (rb"\x00v(?P<version>(?:0|4|5|6)\.[0-9]+\.[0-9]+)\x00",
             rb"\x00node v(?P<version>(?:0|4|5|6)\.[0-9]+\.[0-9]+)\x00"),
            # every later release: the user-agent string "node.js/v20.11.1"
            (rb"node\.js/v(?P<version>[0-9]+\.[0-9]+\.[0-9]+)",),
        ),
        cpes=("nodejs:node.js",),
    ),
    Classifier(
        cls="openssl-binary", package="openssl", file=re.compile(r"openssl"),
        templates=(_OPENSSL,), cpes=("openssl:openssl",),
    ),
    Classifier(  # not in Syft: OPENSSL_VERSION_TEXT lives in libcrypto; libssl defers to it
        cls="openssl-library", package="openssl",
        file=re.compile(r"lib(?:ssl|crypto)\.so(?:\.[0-9]+)*"),
        templates=(_OPENSSL,), cpes=("openssl:openssl",), sibling=("libssl", "libcrypto"),
    ),
)

NAMES = frozenset({"node", "openssl", "go", "go.exe", "VERSION"})
PREFIXES = ("python", "libpython", "libssl", "libcrypto")


def classifiers_for(basename: str) -> list[tuple[Classifier, str | None]]:
    """The classifiers whose file pattern matches `basename`, with the version in the name."""
    found = []
    for classifier in CLASSIFIERS:
        match = classifier.file.fullmatch(basename)
        if match is not None:
            found.append((classifier, match.groupdict().get("version")))
    return found


def wanted(path: str) -> bool:
    """Cheap test for the dispatcher: does any classifier read this file?"""
    return bool(classifiers_for(path.rsplit("/", 1)[-1]))


def cpe(product: str, version: str) -> str:
    """A CPE 2.3 string for `vendor:product` at `version` (special characters escaped)."""
    escaped = re.sub(r"([^A-Za-z0-9._\-])", r"\\\1", version)
    return f"cpe:2.3:a:{product}:{escaped}:*:*:*:*:*:*:*"


