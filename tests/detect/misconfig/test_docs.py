"""docs/misconfig.md lists every built-in check (regenerate: STACKWARDEN_UPDATE_DOCS=1)."""

from __future__ import annotations

import os
from pathlib import Path

from stackwarden.detect.misconfig.registry import builtin_checks
from stackwarden.detect.misconfig.report import checks_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "misconfig.md"
BEGIN, END = "<!-- checks:begin -->\n", "<!-- checks:end -->"


def test_check_list_is_current() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    current = checks_markdown(builtin_checks())
    if os.environ.get("STACKWARDEN_UPDATE_DOCS"):
        DOC.write_text(head + BEGIN + current + END + tail)
        return
    assert rest.split(END, 1)[0] == current, "run with STACKWARDEN_UPDATE_DOCS=1"
