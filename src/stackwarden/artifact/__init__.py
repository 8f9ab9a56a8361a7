"""Targets become artifacts: read-only, layered filesystem views (see `base.Artifact`)."""

from stackwarden.artifact.base import Artifact, FileEntry, FileType
from stackwarden.artifact.targets import TargetOptions, open_target

__all__ = ["Artifact", "FileEntry", "FileType", "TargetOptions", "open_target"]
