"""Go: modules declared in go.mod and modules compiled into Go binaries."""

from stackwarden.catalog.golang.binary import GoModuleBinaryCataloger
from stackwarden.catalog.golang.modfile import GoModFileCataloger

__all__ = ["GoModFileCataloger", "GoModuleBinaryCataloger"]
