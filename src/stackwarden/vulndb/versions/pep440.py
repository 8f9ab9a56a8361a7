"""Python package versions (PEP 440), through `packaging.version`, the reference implementation.

Versions are normalised as packaging does (`1.0RC1` = `1.0rc1`, `1.0-1` = `1.0.post1`, a
leading `v` allowed). Legacy, non-PEP 440 strings such as `0.1-bulbasaur` raise InvalidVersion:
packaging dropped LegacyVersion in release 22, and pip no longer installs such versions. The
key is packaging's `Version`, which orders epochs, pre/post/dev releases and local versions.
"""

from __future__ import annotations

from packaging.version import InvalidVersion as PackagingInvalidVersion
from packaging.version import Version

from stackwarden.vulndb.versions.base import CachedScheme


def parse_pep440(text: str) -> Version:
    """The packaging `Version` of `text`; ValueError when it is not PEP 440."""
    try:
        return Version(text)
    except PackagingInvalidVersion:
        raise ValueError("not a PEP 440 version") from None


SCHEME = CachedScheme("pep440", parse_pep440, "Python package versions (PEP 440)")
