"""Checks a regex cannot make: provider checksums, decodable payloads, whole key blocks.

A validator sees one confirmed regex match and returns a `Verdict` (keep it, possibly with
a wider secret span or another severity) or None (not a secret). Validators are pure and
named, so rule files refer to them by name (`validate = "github-crc32"`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from stackwarden.core.findings import Severity

_BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PEM_SEARCH_BYTES = 64 * 1024  # how far to look for a key's END line
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/=]")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A kept match: optionally a new secret span (absolute offsets) and severity."""

    start: int | None = None
    end: int | None = None
    severity: Severity | None = None
    note: str = ""


ACCEPT = Verdict()
Validator = Callable[[bytes, re.Match[bytes], int, int], Verdict | None]


def shannon_entropy(data: bytes) -> float:
    """Bits per byte of `data` (0 for empty input)."""
    if not data:
        return 0.0
    size = len(data)
    return -sum(n / size * math.log2(n / size) for n in Counter(data).values())


def base62_crc32(text: bytes) -> bytes:
    """CRC32 of `text` in base 62, left-padded to 6 characters (GitHub's and npm's checksum)."""
    value = zlib.crc32(text)
    digits = bytearray()
    while value:
        value, rest = divmod(value, 62)
        digits.append(_BASE62[rest])
    return bytes(reversed(digits)).rjust(6, b"0")


def github_crc32(secret: bytes, match: re.Match[bytes], start: int, end: int) -> Verdict | None:
    """`ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`/`npm_` + 30 random + 6 checksum characters."""
    if len(secret) != 40 or secret[3:4] != b"_":
        return None
    return ACCEPT if base62_crc32(secret[4:34]) == secret[34:] else None


def _b64decode(text: bytes, *, urlsafe: bool = False) -> bytes | None:
    text = text.strip().rstrip(b"=")
    text += b"=" * (-len(text) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(text)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def pypi_macaroon(secret: bytes, match: re.Match[bytes], start: int, end: int) -> Verdict | None:
    """A PyPI token is `pypi-` + a base64url macaroon (v2) whose location is (test.)pypi.org."""
    raw = _b64decode(secret[5:], urlsafe=True)
    if raw is None or len(raw) < 40 or raw[:1] != b"\x02":
        return None
    # v2 binary format: ... EOS, then the signature field (type 6, 32 bytes) closes it.
    if raw[-34:-32] != b"\x06\x20":
        return None
    return ACCEPT if b"pypi.org" in raw[:32] else None


def jwt(secret: bytes, match: re.Match[bytes], start: int, end: int) -> Verdict | None:
    """Header and payload are base64url JSON objects and the header names an algorithm."""
    parts = secret.split(b".")
    if len(parts) < 2:
        return None
    try:
        header = json.loads(_b64decode(parts[0], urlsafe=True) or b"")
        payload = json.loads(_b64decode(parts[1], urlsafe=True) or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict) or "alg" not in header:
        return None
    if str(header.get("alg", "")).lower() == "none":
        return Verdict(severity=Severity.LOW, note="unsigned JWT (alg none)")
    return ACCEPT


_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----")


def pem_private_key(secret: bytes, match: re.Match[bytes], start: int,
                    end: int) -> Verdict | None:
    """Extend the match to the whole key block; judge encryption from its headers."""
    data = match.string
    begin = _PEM_BEGIN.search(data, match.start(), match.end())
    if begin is None:
        return None
    label = begin.group(1)
    end_marker = b"-----END " + label + b"-----"
    stop = data.find(end_marker, begin.end(), begin.end() + _PEM_SEARCH_BYTES)
    body_end = stop if stop >= 0 else min(len(data), begin.end() + 4096)
    body = data[begin.end():body_end]
    # Keys embedded in JSON or code carry literal "\n" sequences between lines.
    flat = body.replace(b"\\n", b"\n").replace(b"\\r", b"")
    lines = [ln.strip() for ln in flat.splitlines() if ln.strip()]
    headers = [ln for ln in lines if b":" in ln]
    # Quotes, commas and string joins around the lines are code, not key material.
    payload = _NOT_B64.sub(b"", b"".join(ln for ln in lines
                                         if b":" not in ln and not ln.startswith(b"=")))
    if len(payload) < 48:
        return None
    new_end = stop + len(end_marker) if stop >= 0 else begin.end() + len(body)
    encrypted = b"ENCRYPTED" in label or any(b"ENCRYPTED" in h for h in headers)
    if label == b"OPENSSH PRIVATE KEY":
        raw = _b64decode(payload[:200]) or b""
        cipher = _openssh_cipher(raw)
        encrypted = cipher not in (None, b"none")
    note = "encrypted private key (passphrase-protected)" if encrypted else ""
    if stop < 0:
        note = (note + "; " if note else "") + "no END line found (truncated key)"
    return Verdict(start=begin.start(), end=new_end,
                   severity=Severity.MEDIUM if encrypted else None, note=note)


def _openssh_cipher(raw: bytes) -> bytes | None:
    magic = b"openssh-key-v1\x00"
    if not raw.startswith(magic) or len(raw) < len(magic) + 4:
        return None
    size = int.from_bytes(raw[len(magic):len(magic) + 4], "big")
    return raw[len(magic) + 4:len(magic) + 4 + size]


def putty_private_key(secret: bytes, match: re.Match[bytes], start: int,
                      end: int) -> Verdict | None:
    """PuTTY .ppk: encrypted unless its `Encryption:` header says none."""
    data = match.string
    head = data[match.start():match.start() + 512]
    found = re.search(rb"Encryption: ?([\w-]{1,32})", head)
    if found and found.group(1) != b"none":
        return Verdict(severity=Severity.MEDIUM, note="encrypted private key (passphrase-protected)")
    return ACCEPT


def base64_credentials(secret: bytes, match: re.Match[bytes], start: int,
                       end: int) -> Verdict | None:
    """Docker `auths` and HTTP Basic: base64 of `user:password` with both parts present."""
    raw = _b64decode(secret)
    if raw is None or b":" not in raw:
        return None
    user, _, password = raw.partition(b":")
    return ACCEPT if user and len(password) >= 3 and b"\x00" not in raw else None


def base64_private_key(secret: bytes, match: re.Match[bytes], start: int,
                       end: int) -> Verdict | None:
    """kubeconfig `client-key-data`: base64 of a PEM private key."""
    raw = _b64decode(secret)
    return ACCEPT if raw is not None and b"PRIVATE KEY-----" in raw[:100] else None


def base64_64_bytes(secret: bytes, match: re.Match[bytes], start: int,
                    end: int) -> Verdict | None:
    """Azure storage and Cosmos DB account keys are 64 random bytes in base64."""
    raw = _b64decode(secret)
    return ACCEPT if raw is not None and len(raw) == 64 else None


def base64_32_bytes(secret: bytes, match: re.Match[bytes], start: int,
                    end: int) -> Verdict | None:
    """Azure Service Bus / Event Hubs shared access keys are 32 random bytes in base64."""
    raw = _b64decode(secret)
    return ACCEPT if raw is not None and len(raw) == 32 else None


def mixed_alphanumeric(secret: bytes, match: re.Match[bytes], start: int,
                       end: int) -> Verdict | None:
    """Random keys mix letters and digits; words, identifiers and paths usually do not."""
    has_digit = any(48 <= c <= 57 for c in secret)
    has_alpha = any(65 <= c <= 90 or 97 <= c <= 122 for c in secret)
    return ACCEPT if has_digit and has_alpha else None


def has_digit(secret: bytes, match: re.Match[bytes], start: int, end: int) -> Verdict | None:
    """Keep values containing a digit (gitleaks' heuristic for its generic rule)."""
    return ACCEPT if any(48 <= c <= 57 for c in secret) else None


VALIDATORS: dict[str, Validator] = {
    "github-crc32": github_crc32,
    "npm-crc32": github_crc32,  # npm adopted GitHub's token format and checksum
    "pypi-macaroon": pypi_macaroon,
    "jwt": jwt,
    "pem-private-key": pem_private_key,
    "putty-private-key": putty_private_key,
    "base64-credentials": base64_credentials,
    "base64-private-key": base64_private_key,
    "base64-64-bytes": base64_64_bytes,
    "base64-32-bytes": base64_32_bytes,
    "mixed-alphanumeric": mixed_alphanumeric,
    "has-digit": has_digit,
}


def _der_header(data: bytes, offset: int = 0) -> int | None:
    """Offset of the content of the DER SEQUENCE at `offset` (BER indefinite length allowed)."""
    if len(data) < offset + 2 or data[offset] != 0x30:
        return None
    length = data[offset + 1]
    if length == 0x80:  # BER indefinite length (some PKCS#12 writers)
        return offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            return None
        return offset + 2 + count
    return offset + 2


def pkcs12_magic(data: bytes) -> bool:
    """DER SEQUENCE { INTEGER 3, ContentInfo … }: the PFX structure of RFC 7292."""
    body = _der_header(data)
    return body is not None and data[body:body + 4] == b"\x02\x01\x03\x30"


def java_keystore_magic(data: bytes) -> bool:
    """JKS (`FEEDFEED`) and JCEKS (`CECECECE`) keystores."""
    return data[:4] in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")


# DER encodings of the algorithm OIDs a PKCS#8 private key names (RFC 5958 / 8410).
_KEY_OIDS = (
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01",  # rsaEncryption
    b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a",  # RSASSA-PSS
    b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01",  # ecPublicKey
    b"\x06\x07\x2a\x86\x48\xce\x38\x04\x01",  # DSA
    b"\x06\x03\x2b\x65\x70", b"\x06\x03\x2b\x65\x71",  # Ed25519, Ed448
    b"\x06\x03\x2b\x65\x6e", b"\x06\x03\x2b\x65\x6f",  # X25519, X448
)


def der_private_key_magic(data: bytes) -> bool:
    """PKCS#8 (version 0 + key OID), PKCS#1 RSA (version 0 + modulus) or SEC 1 EC keys."""
    body = _der_header(data)
    if body is None or len(data) < 64 or len(data) > 64 * 1024:
        return False
    head = data[body:body + 40]
    if head.startswith(b"\x02\x01\x00\x30"):  # PKCS#8: version, AlgorithmIdentifier
        algorithm = _der_header(head, 3)
        return algorithm is not None and any(head[algorithm:].startswith(o) for o in _KEY_OIDS)
    if head.startswith((b"\x02\x01\x00\x02\x82", b"\x02\x01\x00\x02\x81")):
        return True  # PKCS#1 RSAPrivateKey: version 0 then a long modulus
    return head.startswith(b"\x02\x01\x01\x04") and head[4:5] in (b"\x20", b"\x30", b"\x42")


MAGIC: dict[str, Callable[[bytes], bool]] = {
    "pkcs12": pkcs12_magic,
    "java-keystore": java_keystore_magic,
    "der-private-key": der_private_key_magic,
}
