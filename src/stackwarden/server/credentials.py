"""Registry credentials sealed at rest with AES-256-GCM (key from the server configuration).

The key is `credentials_key` (base64, 32 bytes) or, when that is empty, a key file made on
first use with mode 0600 beside the database. Each sealed value is bound to its registry
(associated data), so a ciphertext copied onto another registry's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stackwarden.core.errors import StackWardenError, UsageError

VERSION = b"\x01"
NONCE = 12


class CredentialError(StackWardenError):
    """A sealed credential cannot be opened (wrong key, or the row was tampered with)."""


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError("the credentials key is not base64", source=source) from None
    if len(key) != 32:
        raise UsageError(f"the credentials key must be 32 bytes (AES-256), not {len(key)}",
                         source=source)
    return key


def _key_file(path: Path) -> bytes:
    try:
        return _decode_key(path.read_text(), str(path))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"cannot read the credentials key: {exc.strerror}",
                         source=str(path)) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
    try:
        os.link(tmp, path)  # two processes racing: the first key wins, both read it
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _decode_key(path.read_text(), str(path))


class CredentialBox:
    """Seals and opens registry passwords; never logs or returns them in errors."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: object) -> CredentialBox:
        """The box for a server's configuration (the key setting, else the key file)."""
        text = getattr(settings, "credentials_key", "")
        if text:
            return cls(_decode_key(text, "credentials_key"))
        return cls(_key_file(settings.credentials_key_path()))  # type: ignore[attr-defined]

    def seal(self, secret: str, bound_to: str) -> bytes:
        """Encrypt `secret` for the row named `bound_to`."""
        nonce = os.urandom(NONCE)
        return VERSION + nonce + self._aead.encrypt(nonce, secret.encode(), bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str:
        """Decrypt a value sealed for `bound_to`."""
        if not sealed or sealed[:1] != VERSION or len(sealed) < 1 + NONCE + 16:
            raise CredentialError("the stored credential is not a sealed value", source=bound_to)
        try:
            plain = self._aead.decrypt(sealed[1:1 + NONCE], sealed[1 + NONCE:],
                                       bound_to.encode())
        except InvalidTag:
            raise CredentialError("the stored credential does not open with the configured "
                                  "credentials key (was the key changed?)",
                                  source=bound_to) from None
        return plain.decode()
