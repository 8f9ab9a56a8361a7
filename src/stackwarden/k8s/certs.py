"""A private CA and a serving certificate for the webhook's Service DNS names.

The API server calls a webhook Service at `https://NAME.NAMESPACE.svc:PORT/PATH` and checks the
certificate against the `caBundle` of the ValidatingWebhookConfiguration: the serving
certificate must name `NAME.NAMESPACE.svc` (and may name the other spellings).
"""

from __future__ import annotations

import base64
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stackwarden.core.errors import UsageError


@dataclass(frozen=True, slots=True)
class CertificateSet:
    """PEM bytes of the CA certificate, the serving certificate and its private key."""

    ca_cert: bytes
    cert: bytes
    key: bytes
    ca_key: bytes

    @property
    def ca_bundle(self) -> str:
        """The CA certificate base64-encoded, as `caBundle` wants it."""
        return base64.b64encode(self.ca_cert).decode()


def service_names(service: str, namespace: str) -> list[str]:
    """Every name the API server may use for a Service: short, namespaced, `.svc`, full."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local"]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def generate(names: list[str], *, days: int = 365, ca_days: int = 3650) -> CertificateSet:
    """A new ECDSA P-256 CA and a serving certificate for `names` (DNS names or IPs)."""
    if not names:
        raise UsageError("at least one DNS name or IP address is needed", source="--dns-name")
    now = datetime.now(UTC) - timedelta(minutes=5)  # tolerate small clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("stackwarden-admission-ca")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + timedelta(days=ca_days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=days))
            .add_extension(_san(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    private = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    return CertificateSet(ca_cert=ca.public_bytes(pem), cert=cert.public_bytes(pem),
                          key=key.private_bytes(pem, private, plain),
                          ca_key=ca_key.private_bytes(pem, private, plain))


def write(certs: CertificateSet, directory: Path, *, keep_ca_key: bool = False) -> list[Path]:
    """Write `ca.crt`, `tls.crt`, `tls.key` (0600) and, if asked, `ca.key` (0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = [("ca.crt", certs.ca_cert, 0o644), ("tls.crt", certs.cert, 0o644),
             ("tls.key", certs.key, 0o600)]
    if keep_ca_key:
        files.append(("ca.key", certs.ca_key, 0o600))
    written = []
    for name, data, mode in files:
        path = directory / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(path, mode)
        except OSError as exc:
            raise UsageError(f"cannot write {name}: {exc.strerror or exc}",
                             source=str(directory)) from None
        written.append(path)
    return written
