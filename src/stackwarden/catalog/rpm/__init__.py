"""Installed rpm packages: rpm's header format and its three database backends."""

from stackwarden.catalog.rpm.cataloger import RpmDBCataloger

__all__ = ["RpmDBCataloger"]
