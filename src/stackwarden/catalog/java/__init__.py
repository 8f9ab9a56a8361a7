"""Java: archives (JAR, WAR, EAR, Jenkins plugins, ...) read from memory, nested ones included."""

from stackwarden.catalog.java.cataloger import JavaArchiveCataloger

__all__ = ["JavaArchiveCataloger"]
