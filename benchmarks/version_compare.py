"""Version comparisons per second, per scheme: parse cached (the matcher's case) and uncached.

Pairs are osv-scalibr's real-version vectors (../shared/data, STACKWARDEN_SHARED_DATA).
Run: PYTHONPATH=src python benchmarks/version_compare.py
"""

from __future__ import annotations

import os
import time

from stackwarden.vulndb.versions import InvalidVersion, scheme_for

DATA = os.environ.get("STACKWARDEN_SHARED_DATA") or os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data")
FILES = {"dpkg": "debian-versions-generated.txt", "rpm": "debian-versions-generated.txt",
         "apk": "alpine-versions-generated.txt", "pep440": "pypi-versions-generated.txt",
         "semver": "semver-versions.txt", "npm": "semver-versions.txt",
         "go": "semver-versions.txt", "maven": "maven-versions-generated.txt",
         "rubygems": "rubygems-versions-generated.txt",
         "composer": "packagist-versions-generated.txt", "nuget": "nuget-versions.txt",
         "pub": "pub-versions.txt"}


def pairs_for(name: str) -> list[tuple[str, str]]:
    """Valid (a, b) pairs from the scheme's vector file."""
    scheme = scheme_for(name)
    path = os.path.join(DATA, "osv-scalibr-version-vectors", "testdata", FILES[name])
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) == 3 and not line.startswith(("#", "//")):
                if scheme.is_valid(fields[0]) and scheme.is_valid(fields[2]):
                    out.append((fields[0], fields[2]))
    return out


def rate(pairs: list[tuple[str, str]], compare, seconds: float = 0.4) -> float:
    """Comparisons per second over repeated passes for about `seconds`."""
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a, b in pairs:
            compare(a, b)
        done += len(pairs)
    return done / (time.perf_counter() - start)


def main() -> None:
    """Print one line per scheme."""
    print(f"{'scheme':10} {'pairs':>6} {'cached/s':>12} {'uncached/s':>12}")
    for name in FILES:
        scheme = scheme_for(name)
        pairs = pairs_for(name)
        uncached = scheme.parse_uncached  # type: ignore[attr-defined]

        def fresh(a: str, b: str) -> bool:
            try:
                return uncached(a) < uncached(b)
            except (ValueError, InvalidVersion):
                return False

        for a, b in pairs:
            scheme.compare(a, b)  # warm the cache
        print(f"{name:10} {len(pairs):6d} {rate(pairs, scheme.compare):12,.0f} "
              f"{rate(pairs, fresh):12,.0f}")


if __name__ == "__main__":
    main()
