"""Real Go binaries for the Go tests, built offline with the machine's Go toolchain.

The dependencies come from a `file://` module proxy made here from tests/fixtures/golang/modules
(module zips in the layout proxy.golang.org serves), plus one local `replace` directory, so the
build info holds real versions, `=>` replacements and h1 sums without any network.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from tests.helpers.builds import cached_build, fingerprint, run
from tests.helpers.env import unavailable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "golang"
COMMIT_DATE = "2024-03-05T06:07:08Z"

# name -> (environment, go build flags)
VARIANTS: dict[str, tuple[dict[str, str], list[str]]] = {
    "app": ({}, []),
    "app-stripped": ({}, ["-trimpath", "-ldflags", "-s -w -X main.version=1.4.2"]),
    "app-ldflags": ({}, ["-ldflags", "-X main.version=v1.4.2"]),
    "app-arm64": ({"GOARCH": "arm64", "CGO_ENABLED": "0"}, ["-trimpath"]),
    "app-386": ({"GOARCH": "386", "CGO_ENABLED": "0"}, ["-trimpath"]),
    "app-mips": ({"GOARCH": "mips", "CGO_ENABLED": "0"}, ["-trimpath"]),
    "app-ppc64": ({"GOARCH": "ppc64", "CGO_ENABLED": "0"}, ["-trimpath"]),
    "app-vcs": ({}, ["-trimpath"]),  # built inside a git repository: vcs.revision, vcs.time
}


def go_tool() -> str:
    """The `go` command, or a visible skip (a failure under CI)."""
    found = shutil.which("go")
    if not found:
        unavailable("the Go toolchain is missing (scripts/install-system-deps installs golang-go)")
    assert found is not None
    return found


def go_env() -> dict[str, str]:
    """An environment that can never reach the network."""
    return {"GOFLAGS": "-mod=mod -modcacherw", "GOSUMDB": "off", "GOTOOLCHAIN": "local",
            "GOWORK": "off", "GONOSUMDB": "*", "GOPRIVATE": "", "CGO_ENABLED": "0"}


def make_proxy(target: Path) -> None:
    """A file:// GOPROXY serving every module under fixtures/golang/modules."""
    modules = FIXTURES / "modules"
    for directory in sorted(p for p in modules.rglob("*@v*") if p.is_dir()):
        module, version = str(directory.relative_to(modules)).rsplit("@", 1)
        base = target / module / "@v"
        base.mkdir(parents=True, exist_ok=True)
        with open(base / "list", "a") as listing:
            listing.write(version + "\n")
        (base / f"{version}.info").write_text(json.dumps({"Version": version,
                                                          "Time": COMMIT_DATE}))
        shutil.copy(directory / "go.mod", base / f"{version}.mod")
        with zipfile.ZipFile(base / f"{version}.zip", "w") as archive:
            for file in sorted(directory.rglob("*")):
                if file.is_file():
                    name = f"{module}@{version}/{file.relative_to(directory)}"
                    info = zipfile.ZipInfo(name, date_time=(2024, 3, 5, 6, 7, 8))
                    archive.writestr(info, file.read_bytes())


def _build(work: Path) -> None:
    go = go_tool()
    make_proxy(work / "proxy")
    shutil.copytree(FIXTURES / "src", work / "src")
    app = work / "src" / "app"
    env = {**go_env(), "GOPROXY": f"file://{work / 'proxy'}", "GOPATH": str(work / "gopath"),
           "GOMODCACHE": str(work / "gopath" / "pkg" / "mod")}
    (work / "bin").mkdir()
    (work / "oracle").mkdir()
    for name, (extra, flags) in VARIANTS.items():
        if name == "app-vcs":
            continue
        out = work / "bin" / name
        run([go, "build", *flags, "-o", str(out), "."], cwd=app, env={**env, **extra})
        (work / "oracle" / f"{name}.txt").write_text(run([go, "version", "-m", str(out)], env=env))
    vcs = work / "vcs"
    shutil.copytree(app, vcs / "app")
    shutil.copytree(work / "src" / "libs", vcs / "libs")
    dates = {"GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE,
             "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    run(["git", "init", "-q", "."], cwd=vcs / "app")
    run(["git", "add", "-A"], cwd=vcs / "app")
    run(["git", "commit", "-q", "-m", "fixture"], cwd=vcs / "app", env=dates)
    out = work / "bin" / "app-vcs"
    run([go, "build", *VARIANTS["app-vcs"][1], "-o", str(out), "."], cwd=vcs / "app", env=env)
    (work / "oracle" / "app-vcs.txt").write_text(run([go, "version", "-m", str(out)], env=env))
    shutil.rmtree(work / "gopath", ignore_errors=True)  # read-only module cache: large, unneeded
    shutil.rmtree(vcs)


def go_binaries() -> Path:
    """The cached build: bin/<variant>, oracle/<variant>.txt (`go version -m`), src/app (with
    the go.sum the build wrote) and proxy/."""
    go = go_tool()
    version = run([go, "version"])
    key = fingerprint(version, json.dumps(VARIANTS, sort_keys=True),
                      files=[p for d in ("src", "modules") for p in (FIXTURES / d).rglob("*")
                             if p.is_file()])
    return cached_build("go-binaries", key, _build)


def goroot() -> Path:
    """The toolchain's GOROOT (its bin/go and VERSION feed the binary classifier tests)."""
    return Path(run([go_tool(), "env", "GOROOT"]).strip())

