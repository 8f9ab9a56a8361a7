"""Evidence bundles: the log, its checkpoints, the public keys and the referenced scan reports.

A bundle is a zip file an auditor verifies offline (`stackwarden audit verify BUNDLE`):

    manifest.json        format, creation time, tree size and head, file digests
    entries.jsonl        one audit entry per line, in sequence order
    checkpoints.json     signed tree heads
    keys/<key_id>.pem    the server's public key(s)
    reports/scan-<id>.json  scan reports, each bound to its `scan.submit` entry by SHA-256
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from stackwarden.audit.chain import AuditEntry, canonical_json
from stackwarden.audit.signing import (
    AuditKeyError,
    Checkpoint,
    key_id,
    load_public_key,
    public_key_pem,
)
from stackwarden.audit.verify import Problem, VerifyResult, verify_log
from stackwarden.core.errors import StackWardenError

BUNDLE_FORMAT = "stackwarden-evidence/v1"
MAX_MEMBER_BYTES = 2 * 1024 * 1024 * 1024  # refuse zip members that inflate past this
MAX_MEMBERS = 1_000_000


class BundleError(StackWardenError):
    """An evidence bundle could not be written or read."""


@dataclass(frozen=True, slots=True)
class BundleReport:
    """One scan report to include: the scan id and its exact bytes."""

    scan_id: int
    data: bytes


def write_bundle(path: Path, entries: Iterable[AuditEntry], checkpoints: Iterable[Checkpoint],
                 keys: Iterable[Ed25519PublicKey], reports: Iterable[BundleReport],
                 created: str) -> dict[str, Any]:
    """Write a bundle atomically; returns its manifest."""
    digests: dict[str, str] = {}
    count, last_hash = 0, ""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            with zf.open("entries.jsonl", "w", force_zip64=True) as handle:
                sha = hashlib.sha256()
                for entry in entries:
                    line = canonical_json(entry.to_dict()) + b"\n"
                    sha.update(line)
                    handle.write(line)
                    count, last_hash = count + 1, entry.hash
                digests["entries.jsonl"] = sha.hexdigest()
            cps = [c.to_dict() for c in checkpoints]
            _put(zf, "checkpoints.json", json.dumps(cps, indent=1).encode(), digests)
            for key in keys:
                _put(zf, f"keys/{key_id(key)}.pem", public_key_pem(key).encode(), digests)
            for report in reports:
                _put(zf, f"reports/scan-{report.scan_id}.json", report.data, digests)
            manifest = {"format": BUNDLE_FORMAT, "created": created, "entries": count,
                        "last_hash": last_hash, "checkpoints": len(cps), "files": digests}
            zf.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError as exc:
        raise BundleError(f"cannot write the bundle: {exc.strerror or exc}",
                          source=str(path)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return manifest


def _put(zf: zipfile.ZipFile, name: str, data: bytes, digests: dict[str, str]) -> None:
    zf.writestr(name, data)
    digests[name] = hashlib.sha256(data).hexdigest()


@dataclass
class BundleVerification:
    """The log verification of a bundle plus what was checked about its reports and keys."""

    result: VerifyResult
    key_ids: list[str]
    keys_from_bundle: bool
    reports_checked: int


def verify_bundle(path: Path,
                  trusted_keys: Mapping[str, Ed25519PublicKey] | None = None
                  ) -> BundleVerification:
    """Verify a bundle offline; without `trusted_keys` the bundle's own keys are used (noted)."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"not a readable evidence bundle: {exc}", source=str(path)) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS or any(i.file_size > MAX_MEMBER_BYTES for i in infos):
            raise BundleError("the bundle is larger than the limits allow", source=str(path))
        names = {i.filename for i in infos}
        manifest = _json(zf, "manifest.json", path)
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"not a {BUNDLE_FORMAT} bundle", source=str(path))
        bundle_keys = {}
        for name in sorted(n for n in names if n.startswith("keys/") and n.endswith(".pem")):
            try:
                key = load_public_key(zf.read(name))
            except AuditKeyError as exc:
                raise BundleError(exc.message, source=f"{path}:{name}") from None
            bundle_keys[key_id(key)] = key
        keys = dict(trusted_keys) if trusted_keys else bundle_keys
        raw_cps = _json(zf, "checkpoints.json", path)
        try:
            checkpoints = [Checkpoint.from_dict(c) for c in raw_cps]
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"malformed checkpoints.json: {exc}", source=str(path)) from None
        entries = list(_entries(zf, path))
        result = verify_log(entries, checkpoints, keys)
        checked = _check_reports(zf, names, entries, result)
    if not trusted_keys:
        result.notes.append("trusting the public key(s) shipped in the bundle ("
                            + ", ".join(sorted(bundle_keys)) + "): compare with the server's "
                            "published key id, or pass --public-key")
    return BundleVerification(result, sorted(keys), not trusted_keys, checked)


def _json(zf: zipfile.ZipFile, name: str, path: Path) -> Any:
    try:
        return json.loads(zf.read(name))
    except KeyError:
        raise BundleError(f"{name} is missing", source=str(path)) from None
    except ValueError as exc:
        raise BundleError(f"{name} is not valid JSON: {exc}", source=str(path)) from None


def _entries(zf: zipfile.ZipFile, path: Path) -> Iterable[AuditEntry]:
    try:
        handle = zf.open("entries.jsonl")
    except KeyError:
        raise BundleError("entries.jsonl is missing", source=str(path)) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            try:
                yield AuditEntry.from_dict(json.loads(line))
            except (KeyError, TypeError, ValueError) as exc:
                raise BundleError(f"malformed entry ({type(exc).__name__}: {exc})",
                                  source=f"{path}:entries.jsonl:{number}") from None


def _check_reports(zf: zipfile.ZipFile, names: set[str], entries: list[AuditEntry],
                   result: VerifyResult) -> int:
    """Each bundled report must hash to the digest its `scan.submit` entry recorded."""
    recorded = {}
    for entry in entries:
        scan_id, digest = entry.details.get("scan_id"), entry.details.get("report_sha256")
        if entry.action == "scan.submit" and scan_id is not None and digest:
            recorded[f"reports/scan-{scan_id}.json"] = (entry.seq, str(digest))
    checked = 0
    for name in sorted(n for n in names if n.startswith("reports/")):
        sha = hashlib.sha256()
        with zf.open(name) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        if name not in recorded:
            result.problems.append(Problem(result.entries + 1,
                                           f"{name} is not referenced by any audit entry"))
        elif recorded[name][1] != sha.hexdigest():
            result.problems.append(Problem(recorded[name][0],
                                           f"{name} does not match the SHA-256 recorded in "
                                           f"entry {recorded[name][0]} (report modified)"))
        checked += 1
    return checked
