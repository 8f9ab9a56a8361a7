"""Ground truth: a generated corpus of every file type with recorded planted
misconfigurations and clean files. Recall >= 0.95; no finding at all on clean files."""

from __future__ import annotations

from collections import Counter

from stackwarden.detect.misconfig.scanner import MisconfigScanner
from tests.helpers.misconfig import generate


def test_recall_and_clean_files() -> None:
    corpus = generate(seed=11, files_per_type=50)
    outcome = MisconfigScanner().scan_files([(c.path, c.data) for c in corpus])
    assert not outcome.skipped
    found: dict[tuple[str, str], set[str | None]] = {}
    for finding in outcome.findings:
        found.setdefault((finding.location.path, finding.id), set()).add(
            finding.location.resource)
    expected = [e for c in corpus for e in c.expected]
    hits = [e for e in expected if (e.path, e.check_id) in found and (
        e.resource is None or e.resource in found[(e.path, e.check_id)])]
    recall = len(hits) / len(expected)
    per_type = Counter(e.path.split("/", 1)[0] for e in expected)
    assert len(per_type) == 8 and min(per_type.values()) >= 40, per_type
    assert recall >= 0.95, [e for e in expected if e not in hits][:20]
    clean = {c.path for c in corpus if c.clean}
    assert len(clean) >= 80
    on_clean = [(f.location.path, f.id) for f in outcome.findings if f.location.path in clean]
    assert on_clean == []
    allowed = {(e.path, e.check_id) for e in expected} | {
        (c.path, other) for c in corpus for other in c.also}
    unexpected = [(f.location.path, f.id) for f in outcome.findings
                  if (f.location.path, f.id) not in allowed]
    assert unexpected == []
