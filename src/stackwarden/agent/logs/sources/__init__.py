"""Where log lines come from: files (rotation-safe, resumable) and the systemd journal."""

from stackwarden.agent.logs.sources.base import Batch, RawLine, read_lines
from stackwarden.agent.logs.sources.files import FileSource
from stackwarden.agent.logs.sources.journald import JournaldSource
from stackwarden.agent.logs.sources.offsets import OffsetStore

__all__ = ["Batch", "FileSource", "JournaldSource", "OffsetStore", "RawLine", "read_lines"]
