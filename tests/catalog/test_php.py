"""PHP: composer.lock and Composer 1/2 installed.json, against Syft's composer catalogers.

The fixtures are written from Composer's schema (getcomposer.org/doc/04-schema.md and the
lock/installed files Composer 2.6 writes) with real package names and versions; their
`reference` hashes are stand-ins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackwarden.artifact.directory import DirectoryArtifact
from stackwarden.catalog.engine import catalog_artifact
from stackwarden.catalog.php import ComposerInstalledCataloger, ComposerLockCataloger, composer_purl
from stackwarden.core.models import SBOM
from tests.helpers.syft import agreement, syft_packages

FIXTURES = Path(__file__).parent.parent / "fixtures" / "php"
CATALOGERS = [ComposerLockCataloger(), ComposerInstalledCataloger()]


def identities(sbom: SBOM) -> set[tuple[str, str, str]]:
    """(type, name, version) of every package."""
    return {(str(p.type), p.name, p.version) for p in sbom.packages}


def test_composer_lock_agrees_with_syft_and_adds_dev_packages() -> None:
    root = FIXTURES / "composer-lock"
    sbom = catalog_artifact(DirectoryArtifact(root), CATALOGERS)
    ours = identities(sbom)
    theirs = syft_packages(f"dir:{root}", catalogers="directory", types={"php-composer"})
    dev = {(str(p.type), p.name, p.version) for p in sbom.packages if p.metadata["dev"]}
    assert len(ours) == 44 and len(dev) == 18
    # Syft 1.18 reads only `packages`; `packages-dev` is the one, deliberate, difference
    assert agreement(ours - dev, theirs) == 1.0, sorted((ours - dev) ^ theirs)
    assert not dev & theirs
    symfony = next(p for p in sbom.packages if p.name == "symfony/console")
    assert symfony.purl == "pkg:composer/symfony/console@v6.4.3"
    assert symfony.licenses == ("MIT",)
    assert symfony.metadata["source"]["url"] == "https://github.com/symfony/console.git"


@pytest.mark.parametrize(("fixture", "count", "dev_count"), [("composer1", 8, 0),
                                                             ("composer2", 44, 18)])
def test_installed_json_agrees_with_syft(fixture: str, count: int, dev_count: int) -> None:
    root = FIXTURES / fixture
    sbom = catalog_artifact(DirectoryArtifact(root), CATALOGERS)
    ours = identities(sbom)
    theirs = syft_packages(f"dir:{root}", catalogers="image", types={"php-composer"})
    assert agreement(ours, theirs) == 1.0, sorted(ours ^ theirs)
    assert len(ours) == count
    assert sum(1 for p in sbom.packages if p.metadata["dev"]) == dev_count


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("monolog/monolog", "3.5.0", "pkg:composer/monolog/monolog@3.5.0"),
        ("symfony/polyfill-php80", "v1.29.0", "pkg:composer/symfony/polyfill-php80@v1.29.0"),
        ("noslash", "1.0", "pkg:composer/noslash@1.0"),
        ("a/b/c", "1.0", "pkg:composer/a/b-c@1.0"),
    ],
)
def test_composer_purl(name: str, version: str, expected: str) -> None:
    assert composer_purl(name, version) == expected


@pytest.mark.parametrize(
    ("path", "content", "reason"),
    [
        ("composer.lock", '{"packages": [', "invalid JSON at line 1"),
        ("composer.lock", '["not", "an", "object"]', "not a composer.lock object"),
        ("composer.lock", '{"packages": {"name": "x"}}', "`packages` is not a list"),
        ("vendor/composer/installed.json", "", "invalid JSON"),
        ("vendor/composer/installed.json", '{"packages": 7}', "`packages` is not a list"),
        ("vendor/composer/installed.json", '{"other": []}', "neither a Composer 1 list"),
        ("vendor/composer/installed.json", "\xff\xfe{", "invalid JSON"),
    ],
)
def test_bad_composer_files_are_skipped_with_a_reason(tmp_path: Path, path: str, content: str,
                                                      reason: str) -> None:
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(content, encoding="latin-1")
    (tmp_path / "ok/vendor/composer").mkdir(parents=True)
    (tmp_path / "ok/vendor/composer/installed.json").write_text(
        '[{"name": "psr/log", "version": "1.1.4"}, {"name": "no-version"}, 5, null]')
    sbom = catalog_artifact(DirectoryArtifact(tmp_path), CATALOGERS)
    assert identities(sbom) == {("php-composer", "psr/log", "1.1.4")}
    assert len(sbom.skipped) == 1 and reason in sbom.skipped[0].reason, sbom.skipped


def test_installed_json_outside_composer_directory_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "installed.json").write_text('[{"name": "psr/log", "version": "1.1.4"}]')
    assert not catalog_artifact(DirectoryArtifact(tmp_path), CATALOGERS).packages
