"""Golden files: compare output with a committed file, after redacting what changes run to run.

Update them with `STACKWARDEN_UPDATE_GOLDEN=1 pytest tests/report` and review the diff.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from stackwarden import __version__

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "report" / "golden"
UPDATE = os.environ.get("STACKWARDEN_UPDATE_GOLDEN", "").lower() in ("1", "true", "yes")

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
# Document serial numbers derived from the creation time (CycloneDX serial, SPDX namespace).
_UUID = re.compile(r"(urn:uuid:|/spdxdocs/[^\s\"]*-)"
                   r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_JSON_TIMINGS = re.compile(r'"timings": \{[^}]*\}')
_NUMBER = re.compile(r"(?<=: )-?[0-9][0-9.e+-]*")
_DURATIONS = (
    re.compile(r'(\btime=")[0-9.]+(")'),  # JUnit
    re.compile(r'(<span class="duration">)[^<]*(</span>)'),  # HTML
)


def redact(text: str, *, tmp: Path | None = None) -> str:
    """Replace temporary paths, timestamps, time-derived serials, durations and the tool version."""
    if tmp is not None:
        # As written, as a relative URI (SARIF), and with Markdown's escaped underscores.
        plain = str(tmp)
        for variant in (plain, plain.replace("_", "\\_"), plain.lstrip("/")):
            text = text.replace(variant, "<TMP>")
    text = _TIMESTAMP.sub("<TIMESTAMP>", text)
    text = _UUID.sub(r"\1<UUID>", text)
    text = _JSON_TIMINGS.sub(lambda m: _NUMBER.sub('"<DURATION>"', m.group()), text)
    for pattern in _DURATIONS:
        text = pattern.sub(r"\1<DURATION>\2", text)
    return re.sub(rf"(?<![\w.]){re.escape(__version__)}(?![\w.])", "<VERSION>", text)


def assert_golden(name: str, data: bytes, *, tmp: Path | None = None) -> None:
    """Compare `data` (redacted) with tests/report/golden/NAME, or rewrite it when updating."""
    text = redact(data.decode("utf-8"), tmp=tmp)
    path = GOLDEN_DIR / name
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            raise AssertionError(f"{path} did not exist and was written: review and commit it")
        return
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                                 "golden", "actual"))[:60])
        raise AssertionError(f"{name} differs from its golden file; if the change is intended, "
                             f"run with STACKWARDEN_UPDATE_GOLDEN=1 and review the diff:\n{diff}")
