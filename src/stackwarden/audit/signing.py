"""Signed checkpoints: a Merkle tree head over the first N entries, signed with Ed25519."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stackwarden.audit.chain import canonical_json
from stackwarden.core.errors import StackWardenError

CHECKPOINT_ORIGIN = "stackwarden-audit-checkpoint/v1"


class AuditKeyError(StackWardenError):
    """A signing or verification key could not be read or made."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the log's first `tree_size` entries have Merkle head `root_hash`."""

    tree_size: int
    root_hash: str  # hex
    time: str
    key_id: str
    signature: str = ""  # base64 Ed25519 signature over `signed_bytes()`

    def signed_bytes(self) -> bytes:
        """What the key signs: origin, size, root, time and key id in canonical JSON."""
        return canonical_json({"origin": CHECKPOINT_ORIGIN, "tree_size": self.tree_size,
                               "root_hash": self.root_hash, "time": self.time,
                               "key_id": self.key_id})

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"tree_size": self.tree_size, "root_hash": self.root_hash, "time": self.time,
                "key_id": self.key_id, "signature": self.signature}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Checkpoint:
        """Read the JSON form back."""
        return cls(tree_size=int(raw["tree_size"]), root_hash=str(raw["root_hash"]),
                   time=str(raw["time"]), key_id=str(raw["key_id"]),
                   signature=str(raw["signature"]))


def public_key_pem(key: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: SHA-256 of its raw bytes, first 16 hex digits."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """Read an Ed25519 public key from PEM."""
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise AuditKeyError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError("the public key is not an Ed25519 key")
    return key


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The server's signing key from `path`, created there (mode 0600) on first use."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _create_key(path)
    except OSError as exc:
        raise AuditKeyError(f"cannot read the signing key: {exc.strerror}",
                            source=str(path)) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise AuditKeyError("not a PEM private key", source=str(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError("the signing key is not an Ed25519 key", source=str(path))
    return key


def _create_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        # link, not rename: when two processes race, the first key wins and both use it.
        os.link(tmp, path)
    except FileExistsError:
        return load_or_create_signing_key(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def sign_checkpoint(key: Ed25519PrivateKey, tree_size: int, root_hash: str,
                    time: str) -> Checkpoint:
    """Sign a tree head."""
    unsigned = Checkpoint(tree_size, root_hash, time, key_id(key.public_key()))
    signature = base64.b64encode(key.sign(unsigned.signed_bytes())).decode("ascii")
    return Checkpoint(tree_size, root_hash, time, unsigned.key_id, signature)


def signature_valid(checkpoint: Checkpoint, key: Ed25519PublicKey) -> bool:
    """Whether `key` signed this checkpoint."""
    try:
        key.verify(base64.b64decode(checkpoint.signature, validate=True),
                   checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return False
    return True
