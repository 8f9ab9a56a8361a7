"""OSV advisories: JSON or YAML files, directories of them, and osv.dev's `all.zip` archives."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from stackwarden.vulndb.model import EVENT_KINDS, Advisory, Affected, Range
from stackwarden.vulndb.names import normalize_name, split_ecosystem
from stackwarden.vulndb.sources.base import MAX_RECORD_BYTES, BadRecord, SourceReader

try:
    _YAML_LOADER: Any = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _YAML_LOADER = yaml.SafeLoader


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _events(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise BadRecord("a range without events", where)
    events = []
    for event in raw:
        if not isinstance(event, dict) or len(event) != 1:
            raise BadRecord(f"malformed event {event!r:.80}", where)
        (kind, version), = event.items()
        if kind not in EVENT_KINDS or not isinstance(version, str) or not version:
            raise BadRecord(f"malformed event {event!r:.80}", where)
        events.append((kind, version))
    if not any(kind == "introduced" for kind, _ in events):
        raise BadRecord("a range with no 'introduced' event", where)
    return tuple(events)


def parse_affected(raw: Any, where: str, skipped_ranges: list[str]) -> Affected | None:
    """One `affected` entry; None for ecosystems StackWarden does not match."""
    if not isinstance(raw, dict) or not isinstance(raw.get("package"), dict):
        raise BadRecord("an affected entry without a package", where)
    package = raw["package"]
    split = split_ecosystem(_text(package.get("ecosystem")))
    name = _text(package.get("name"))
    if split is None or not name:
        return None
    ecosystem, release = split
    ranges = []
    for rng in raw.get("ranges") or []:
        if not isinstance(rng, dict):
            raise BadRecord("a range that is not an object", where)
        kind = _text(rng.get("type"))
        if kind == "GIT":
            skipped_ranges.append("GIT ranges name commits, not versions: not matched")
            continue
        if kind not in ("ECOSYSTEM", "SEMVER"):
            raise BadRecord(f"unknown range type {kind!r}", where)
        ranges.append(Range(kind, _events(rng.get("events"), where)))
    versions = tuple(v for v in raw.get("versions") or [] if isinstance(v, str))
    if not ranges and not versions:
        return None
    specific = raw.get("ecosystem_specific") if isinstance(raw.get("ecosystem_specific"),
                                                           dict) else {}
    database = raw.get("database_specific") if isinstance(raw.get("database_specific"),
                                                          dict) else {}
    severity = _text(specific.get("severity")) or _text(specific.get("urgency")) \
        or _text(database.get("severity"))
    return Affected(ecosystem, release, normalize_name(ecosystem, name), tuple(ranges),
                    versions, severity)


def parse_record(doc: Any, where: str, source: str) -> Advisory:
    """Turn one OSV document into an Advisory (BadRecord when it is not a valid one)."""
    if not isinstance(doc, dict):
        raise BadRecord("not an OSV object", where)
    vuln_id = doc.get("id")
    if not isinstance(vuln_id, str) or not vuln_id:
        raise BadRecord("no id", where)
    skipped_ranges: list[str] = []
    affected = []
    for raw in doc.get("affected") or []:
        entry = parse_affected(raw, f"{where} ({vuln_id})", skipped_ranges)
        if entry is not None:
            affected.append(entry)
    severity = tuple((_text(s.get("type")), _text(s.get("score")))
                     for s in doc.get("severity") or [] if isinstance(s, dict))
    database = doc.get("database_specific") if isinstance(doc.get("database_specific"),
                                                          dict) else {}
    if isinstance(database.get("severity"), str):
        severity += (("WORD", database["severity"]),)
    references = tuple(_text(r.get("url")) for r in doc.get("references") or []
                       if isinstance(r, dict) and r.get("url"))
    aliases = tuple(a for a in doc.get("aliases") or [] if isinstance(a, str) and a != vuln_id)
    return Advisory(
        id=vuln_id, source=source, aliases=aliases, summary=_text(doc.get("summary")),
        details=_text(doc.get("details"))[:20_000], published=_text(doc.get("published")),
        modified=_text(doc.get("modified")), withdrawn=_text(doc.get("withdrawn")),
        severity=severity, references=references, affected=tuple(affected),
        extra={"skipped_ranges": skipped_ranges} if skipped_ranges else {},
    )


def load_document(data: bytes, name: str) -> Any:
    """Parse JSON or YAML bytes (chosen by the file name)."""
    if len(data) > MAX_RECORD_BYTES:
        raise BadRecord(f"{len(data)} bytes is over the {MAX_RECORD_BYTES}-byte record limit",
                        name)
    try:
        if name.endswith((".yaml", ".yml")):
            return yaml.load(data, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        return json.loads(data)
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BadRecord(f"not valid {'YAML' if name.endswith(('yaml', 'yml')) else 'JSON'}: "
                        f"{str(exc).splitlines()[0][:160]}", name) from exc


class OSVReader(SourceReader):
    """Reads OSV records from a file, a directory tree, or a zip archive."""

    kind = "osv"

    def documents(self, path: Path) -> Iterator[tuple[str, bytes]]:
        """(name, bytes) of every candidate record file under `path`."""
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix in (".json", ".yaml", ".yml") \
                        and not child.name.startswith("."):
                    yield str(child), child.read_bytes()
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.filename.endswith((".json", ".yaml", ".yml")):
                        if info.file_size > MAX_RECORD_BYTES:
                            yield f"{path}:{info.filename}", b"\0" * (MAX_RECORD_BYTES + 1)
                            continue
                        yield f"{path}:{info.filename}", archive.read(info)
        else:
            yield str(path), path.read_bytes()

    def read(self, path: Path) -> Iterator[Advisory | BadRecord]:
        for name, data in self.documents(path):
            try:
                doc = load_document(data, name)
                if isinstance(doc, list):  # some exports hold several records per file
                    for i, item in enumerate(doc):
                        yield parse_record(item, f"{name}[{i}]", self.source_name(path))
                else:
                    yield parse_record(doc, name, self.source_name(path))
            except BadRecord as bad:
                yield bad
