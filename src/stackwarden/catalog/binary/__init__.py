"""Unmanaged runtimes and libraries recognised by the version strings their binaries embed."""

from stackwarden.catalog.binary.cataloger import BinaryClassifierCataloger

__all__ = ["BinaryClassifierCataloger"]
