"""The error hierarchy: one root, one subclass per layer, each naming where it happened."""

from __future__ import annotations


class StackWardenError(Exception):
    """Root of every error StackWarden raises on purpose; the CLI prints it as one line."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.message = message
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class UsageError(StackWardenError):
    """The user asked for something that cannot work (bad target, bad flag combination)."""


class ArtifactError(StackWardenError):
    """A target could not be read as an artifact (missing file, bad archive, bad manifest)."""


class LimitExceeded(ArtifactError):
    """Input went past a safety limit (size, ratio, entry count, depth)."""


class DigestMismatch(ArtifactError):
    """Bytes did not hash to the digest their descriptor promised."""


class RegistryError(ArtifactError):
    """A registry answered with an error, garbage, or not at all."""


class AuthenticationError(RegistryError):
    """A registry refused the credentials we had (or we had none)."""


class CatalogError(StackWardenError):
    """One package file could not be parsed; the cataloger skips it and the inventory goes on."""


class ReportError(StackWardenError):
    """A report could not be rendered or written."""
