"""Debian package versions (dpkg): `[epoch:]upstream[-revision]`, compared like dpkg's verrevcmp.

Each of upstream and revision is compared as alternating non-digit and digit runs. Non-digit
runs compare character by character with dpkg's weights — `~` before the end of the run, the
end before letters, letters before everything else — and digit runs compare numerically.

The key encodes that walk as a tuple: one `(weights, number)` element per run pair, where
`weights` ends with 0 (dpkg's weight for "end of run"), then a terminal element equal to the
padding dpkg uses once a string is exhausted. Tuple comparison then is verrevcmp.

Validity follows `dpkg --compare-versions`: what dpkg calls an error (empty version, embedded
space, bad epoch, empty upstream or revision) raises; what it only warns about (a version not
starting with a digit, unusual characters) is accepted and compared, as dpkg does.
"""

from __future__ import annotations

import re

from stackwarden.vulndb.versions.base import CachedScheme

_INT_MAX = 2**31 - 1
_RUNS = re.compile(rb"(\D*)(\d*)")
_END = ((0,), 0)  # what dpkg compares against once a string is exhausted


def _weight(byte: int) -> int:
    # dpkg's order(): digits 0 (never seen here), letters themselves, '~' -1, others c + 256.
    # dpkg reads `char`, which is signed on the platforms Debian ships, so bytes >= 0x80 weigh
    # (byte - 256) + 256: more than letters, less than ASCII punctuation.
    if byte == 0x7E:
        return -1
    if 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A:
        return byte
    if byte >= 0x80:
        return byte
    return byte + 256


_WEIGHTS = [_weight(b) for b in range(256)]


def verrevcmp_key(part: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    """A tuple key for one upstream version or revision, ordered exactly as dpkg's verrevcmp."""
    elements = []
    data = part.encode("utf-8", "surrogateescape")
    position = 0
    while position < len(data):
        match = _RUNS.match(data, position)
        assert match is not None and match.end() > position
        letters, digits = match.group(1), match.group(2)
        weights = tuple(_WEIGHTS[b] for b in letters) + (0,)
        elements.append((weights, int(digits) if digits else 0))
        position = match.end()
    if not elements:
        elements.append(_END)
    elements.append(_END)
    return tuple(elements)


def split_version(text: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) of a dpkg version; ValueError where dpkg reports an error."""
    version = text.strip()
    if not version:
        raise ValueError("version string is empty")
    if any(c.isspace() for c in version):
        raise ValueError("version string has embedded spaces")
    epoch = 0
    colon = version.find(":")
    if colon >= 0:
        epoch_text = version[:colon]
        if not epoch_text:
            raise ValueError("epoch in version is empty")
        if not re.fullmatch(r"[+-]?\d+", epoch_text):
            raise ValueError("epoch in version is not number")
        epoch = int(epoch_text)
        if epoch < 0:
            raise ValueError("epoch in version is negative")
        if epoch > _INT_MAX:
            raise ValueError("epoch in version is too big")
        version = version[colon + 1:]
        if not version:
            raise ValueError("nothing after colon in version number")
    hyphen = version.rfind("-")
    revision = ""
    if hyphen >= 0:
        version, revision = version[:hyphen], version[hyphen + 1:]
        if not revision:
            raise ValueError("revision number is empty")
    if not version:
        raise ValueError("version number is empty")
    return epoch, version, revision


def parse_dpkg(text: str) -> tuple[int, tuple, tuple]:
    """The sort key of a dpkg version: (epoch, upstream key, revision key)."""
    epoch, upstream, revision = split_version(text)
    # An absent revision compares like "0" in dpkg; verrevcmp_key("") already equals that.
    return epoch, verrevcmp_key(upstream), verrevcmp_key(revision)


SCHEME = CachedScheme("dpkg", parse_dpkg, "Debian and Ubuntu package versions (dpkg)")
