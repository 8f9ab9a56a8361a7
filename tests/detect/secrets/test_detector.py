"""The Detector interface: what the scan pipeline gets for one file, layer copy or hunk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from stackwarden.core.findings import FindingKind, fingerprint
from stackwarden.detect.base import DetectContext, ScanTarget
from stackwarden.detect.secrets.detector import SecretDetector, redact
from stackwarden.detect.secrets.directory import scan_directory
from stackwarden.detect.secrets.engine import Engine
from tests.helpers.env import shared_data

TOKEN = "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"
DATA = f'# settings\nTOKEN = "{TOKEN}"\n'.encode()


@pytest.fixture(scope="module")
def detector(engine: Engine) -> SecretDetector:
    return SecretDetector(engine=engine)


def test_finding_fields(detector: SecretDetector) -> None:
    target = ScanTarget("etc/app/settings.py", len(DATA), layer="sha256:abc", deleted=True)
    [finding] = detector.scan(DATA, target, DetectContext())
    assert finding.kind == FindingKind.SECRET and finding.id == "github-pat"
    assert finding.severity == "critical" and finding.title.startswith("GitHub")
    assert (finding.location.path, finding.location.line, finding.location.end_line,
            finding.location.layer) == ("etc/app/settings.py", 2, 2, "sha256:abc")
    assert finding.references and finding.remediation
    evidence = finding.evidence
    assert evidence["secret"] == "ghp_************" and TOKEN not in evidence["match"]
    assert evidence["match"] == 'ghp_************'
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    assert evidence["secret_sha256"] == digest
    assert evidence["deleted_in_later_layer"] is True
    assert finding.fingerprint == fingerprint("secret", "github-pat", "etc/app/settings.py",
                                              digest)


def test_show_secrets(detector: SecretDetector) -> None:
    [finding] = detector.scan(DATA, ScanTarget("a.py", len(DATA)),
                              DetectContext(show_secrets=True))
    assert finding.evidence["secret"] == TOKEN


def test_fingerprint_is_stable_across_lines_layers_and_commits(detector: SecretDetector) -> None:
    moved = b"\n\n\n" + DATA
    first = next(iter(detector.scan(DATA, ScanTarget("a.py", 1, layer="l1"), DetectContext())))
    second = next(iter(detector.scan(moved, ScanTarget("a.py", 1, commit="c0ffee"),
                                     DetectContext())))
    assert first.location.line != second.location.line
    assert first.fingerprint == second.fingerprint


def test_hunk_line_offset(detector: SecretDetector) -> None:
    [finding] = detector.scan(DATA, ScanTarget("a.py", len(DATA), commit="c0ffee",
                                               line_offset=41), DetectContext())
    assert finding.location.line == 42 and finding.location.commit == "c0ffee"


def test_wants_is_cheap_and_honest(detector: SecretDetector) -> None:
    assert detector.wants(ScanTarget("node_modules/x/index.js", 10))
    assert detector.wants(ScanTarget("a.py", 10, mode=0o100644))
    assert not detector.wants(ScanTarget("dev/sda", 0, mode=0o060600))  # block device
    assert not detector.wants(ScanTarget("link", 0, mode=0o120777))
    huge = ScanTarget("dump.sql", detector.max_bytes + 1)
    assert not detector.wants(huge) and "byte limit" in (detector.oversize(huge) or "")
    assert detector.oversize(ScanTarget("a.py", 10)) is None


def test_oversize_content_is_recorded_as_skipped(engine: Engine) -> None:
    detector = SecretDetector(engine=engine)
    ctx = DetectContext()
    big = b"x" * (engine.settings.max_file_bytes + 1)
    assert list(detector.scan(big, ScanTarget("big.bin", len(big)), ctx)) == []
    assert [(s.path, s.by) for s in ctx.skipped] == [("big.bin", "secret")]


@pytest.mark.parametrize(("text", "shown"), [("ghp_abcdef", "ghp_******"), ("ab", "ab"),
                                             ("x" * 40, "xxxx" + "*" * 12)])
def test_redact(text: str, shown: str) -> None:
    assert redact(text, False) == shown and redact(text, True) == text


DETECT_SECRETS = {  # detect-secrets' own test data: what a scanner must report there
    ("config.ini", 2, "generic-password-config"),  # password = 123456789a1234
    ("config.ini", 32, "generic-config-secret"),  # real_secret_which_isnt_an_i_d = …
    ("config.md", 10, "generic-key"),  # key="ToCynx5Se4e2PtoZxEhW7lUJcOX15c54"
    ("files/private_key", 1, "private-key-openssh"),
}


def test_detect_secrets_fixtures(engine: Engine) -> None:
    result = scan_directory(shared_data("detect-secrets", "test_data"), engine=engine)
    found = {(f.location.path, f.location.line, f.id) for f in result.findings}
    assert found == DETECT_SECRETS
    # not secrets: ids, uuids, hashes, low-entropy values, pragma-allowlisted lines
    assert not any(f.location.path in ("baseline.file", "config2.yaml", "only_comments.yaml")
                   for f in result.findings)


def test_gitleaks_env_fixture(engine: Engine, tmp_path: Path) -> None:
    src = shared_data("gitleaks", "testdata", "repos", "nogit", ".env.prod")
    (tmp_path / ".env.prod").write_bytes(Path(src).read_bytes())
    result = scan_directory(tmp_path, engine=engine)
    assert [(f.id, f.location.line, f.evidence["secret"]) for f in result.findings] == [
        ("dotenv-secret", 4, "8ae3" + "*" * 12)]
    assert os.path.basename(src) == ".env.prod"


def test_image_config(detector: SecretDetector) -> None:
    from stackwarden.detect.secrets.image import scan_image_config

    config = {"config": {"Env": ["PATH=/usr/bin", "DB_PASSWORD=8ae31cacf141669ddfb5da"],
                         "Labels": {"org.opencontainers.image.source": "https://x.io/y",
                                    "deploy.token": TOKEN}},
              "history": [{"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
                          {"created_by": "RUN curl -u deploy:Zk3mQ9vB2xT7 https://x.io/a"}]}
    found = sorted((f.location.path, f.location.line, f.id)
                   for f in scan_image_config(detector, config, DetectContext()))
    assert found == [("image-config/env.env", 2, "dotenv-secret"),
                     ("image-config/history.sh", 2, "curl-auth-user"),
                     ("image-config/labels.env", 1, "github-pat")]
