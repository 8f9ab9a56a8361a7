"""The bundled sample image `make demo` builds from real, downloaded packages."""
