"""StackWarden vs Checkov: misconfiguration scanning of the same corpus, in one run.

The corpus is the ground-truth generator of the test suite (tests/helpers/misconfig):
Kubernetes manifests, Dockerfiles and Terraform files (AWS, Azure, GCP): 330 generated files
(clean ones, and ones with 1-4 recorded planted misconfigurations), plus one file per check
with its true positive and one with its near miss (so every check is exercised). Both tools run as whole processes
(start-up included) over the same directory, interleaved, several times; the median wall
time, CPU time (user+sys) and peak memory are printed with the ratio. Then the findings are
compared on the checks both tools have (mapping below), per check: found by both, only by
StackWarden, only by Checkov, and how many of the planted cases each found.

    .venv/bin/python benchmarks/misconfig_vs_checkov.py [--runs 3] [--files-per-type 110]
        [--no-table] [--keep DIR]

Checkov is installed (once, needs PyPI) into its own virtualenv under
~/.cache/stackwarden-bench/checkov-venv, because its pinned dependencies clash with ours.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the corpus generator lives with the tests

from tests.helpers.misconfig import CorpusFile, Expected, all_plants, generate, single

CACHE = Path.home() / ".cache" / "stackwarden-bench"
CHECKOV_VERSION = "3.3.30"
FILE_TYPES = ("kubernetes", "dockerfile", "terraform")
# Our check(s) -> the Checkov checks that test the same thing (verified with `checkov
# --list`); "A+B" rows compare the union of two of our checks with one of Checkov's.
OVERLAP: dict[str, tuple[str, ...]] = {
    "SW-DF-001": ("CKV_DOCKER_3",), "SW-DF-002": ("CKV_DOCKER_8",),
    "SW-DF-003+SW-DF-004": ("CKV_DOCKER_7",), "SW-DF-006+SW-DF-007": ("CKV_DOCKER_4",),
    "SW-DF-012": ("CKV_DOCKER_2",),
    "SW-DF-014": ("CKV_DOCKER_5",), "SW-DF-018": ("CKV_DOCKER_1",),
    "SW-DF-027": ("CKV_DOCKER_10",),
    "SW-K8S-001": ("CKV_K8S_16",), "SW-K8S-002": ("CKV_K8S_20",), "SW-K8S-003": ("CKV_K8S_17",),
    "SW-K8S-004": ("CKV_K8S_18",), "SW-K8S-005": ("CKV_K8S_19",), "SW-K8S-006": ("CKV_K8S_23",),
    "SW-K8S-009": ("CKV_K8S_28",), "SW-K8S-010": ("CKV_K8S_25", "CKV_K8S_39"),
    "SW-K8S-011": ("CKV_K8S_37",), "SW-K8S-013": ("CKV_K8S_27",), "SW-K8S-015": ("CKV_K8S_26",),
    "SW-K8S-016": ("CKV_K8S_22",), "SW-K8S-017": ("CKV_K8S_31",), "SW-K8S-030": ("CKV_K8S_14",),
    "SW-K8S-031": ("CKV_K8S_43",), "SW-K8S-032": ("CKV_K8S_11",), "SW-K8S-033": ("CKV_K8S_13",),
    "SW-K8S-034": ("CKV_K8S_10",), "SW-K8S-035": ("CKV_K8S_12",), "SW-K8S-036": ("CKV_K8S_8",),
    "SW-K8S-037": ("CKV_K8S_9",), "SW-K8S-038": ("CKV_K8S_38",), "SW-K8S-040": ("CKV_K8S_35",),
    "SW-K8S-042": ("CKV_K8S_21",), "SW-K8S-050": ("CKV_K8S_49",),
    "SW-K8S-053": ("CKV_K8S_157", "CKV_K8S_158"), "SW-K8S-065": ("CKV_K8S_153",),
    "SW-AWS-001": ("CKV_AWS_20",), "SW-AWS-002": ("CKV2_AWS_6",),
    "SW-AWS-003": ("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"),
    "SW-AWS-004": ("CKV_AWS_145", "CKV_AWS_19"), "SW-AWS-005": ("CKV_AWS_21",),
    "SW-AWS-006": ("CKV_AWS_18",), "SW-AWS-007": ("CKV_AWS_70",), "SW-AWS-009": ("CKV_AWS_3",),
    "SW-AWS-010": ("CKV_AWS_8",), "SW-AWS-011": ("CKV_AWS_106",), "SW-AWS-012": ("CKV_AWS_16",),
    "SW-AWS-013": ("CKV_AWS_17",), "SW-AWS-014": ("CKV_AWS_133",),
    "SW-AWS-015": ("CKV_AWS_226",), "SW-AWS-016": ("CKV_AWS_42",), "SW-AWS-017": ("CKV_AWS_28",),
    "SW-AWS-018": ("CKV_AWS_27",), "SW-AWS-019": ("CKV_AWS_26",), "SW-AWS-020": ("CKV_AWS_163",),
    "SW-AWS-021": ("CKV_AWS_51",), "SW-AWS-022": ("CKV_AWS_5",), "SW-AWS-023": ("CKV_AWS_87",),
    "SW-AWS-024": ("CKV_AWS_30",), "SW-AWS-025": ("CKV_AWS_64",), "SW-AWS-030": ("CKV_AWS_24",),
    "SW-AWS-031": ("CKV_AWS_25",), "SW-AWS-032": ("CKV_AWS_277",),
    "SW-AWS-034": ("CKV2_AWS_12",), "SW-AWS-035": ("CKV_AWS_231", "CKV_AWS_232"),
    "SW-AWS-036": ("CKV_AWS_62", "CKV_AWS_1", "CKV_AWS_63", "CKV_AWS_49"),
    "SW-AWS-038": ("CKV_AWS_40",), "SW-AWS-039": ("CKV_AWS_60",), "SW-AWS-040": ("CKV_AWS_10",),
    "SW-AWS-041": ("CKV_AWS_13",), "SW-AWS-042": ("CKV_AWS_67",), "SW-AWS-043": ("CKV_AWS_36",),
    "SW-AWS-044": ("CKV_AWS_35",), "SW-AWS-047": ("CKV_AWS_7",), "SW-AWS-048": ("CKV2_AWS_11",),
    "SW-AWS-049": ("CKV_AWS_41",), "SW-AWS-050": ("CKV_AWS_2",), "SW-AWS-051": ("CKV_AWS_103",),
    "SW-AWS-052": ("CKV_AWS_38", "CKV_AWS_39"), "SW-AWS-053": ("CKV_AWS_37",),
    "SW-AWS-054": ("CKV_AWS_45",), "SW-AWS-055": ("CKV_AWS_34",), "SW-AWS-056": ("CKV_AWS_79",),
    "SW-AWS-057": ("CKV_AWS_88",), "SW-AWS-058": ("CKV_AWS_46",),
    "SW-AZ-001": ("CKV_AZURE_3",), "SW-AZ-002": ("CKV_AZURE_44",),
    "SW-AZ-003": ("CKV_AZURE_190",), "SW-AZ-004": ("CKV_AZURE_34",),
    "SW-AZ-005": ("CKV_AZURE_35",), "SW-AZ-006": ("CKV_AZURE_10",), "SW-AZ-007": ("CKV_AZURE_9",),
    "SW-AZ-009": ("CKV_AZURE_11",), "SW-AZ-010": ("CKV_AZURE_110",),
    "SW-AZ-011": ("CKV_AZURE_109",), "SW-AZ-012": ("CKV_AZURE_40",),
    "SW-AZ-013": ("CKV_AZURE_41",), "SW-AZ-014": ("CKV_AZURE_14",), "SW-AZ-015": ("CKV_AZURE_15",),
    "SW-AZ-016": ("CKV_AZURE_78",), "SW-AZ-017": ("CKV_AZURE_29",), "SW-AZ-018": ("CKV_AZURE_28",),
    "SW-AZ-019": ("CKV_AZURE_113",), "SW-AZ-020": ("CKV_AZURE_5",), "SW-AZ-021": ("CKV_AZURE_7",),
    "SW-AZ-022": ("CKV_AZURE_1",), "SW-AZ-023": ("CKV_AZURE_137",),
    "SW-GCP-001": ("CKV_GCP_28",), "SW-GCP-002": ("CKV_GCP_29",), "SW-GCP-003": ("CKV_GCP_2",),
    "SW-GCP-004": ("CKV_GCP_3",), "SW-GCP-006": ("CKV_GCP_60",), "SW-GCP-007": ("CKV_GCP_11",),
    "SW-GCP-008": ("CKV_GCP_6",), "SW-GCP-009": ("CKV_GCP_14",), "SW-GCP-011": ("CKV_GCP_42",),
    "SW-GCP-013": ("CKV_GCP_43",), "SW-GCP-014": ("CKV_GCP_30",), "SW-GCP-015": ("CKV_GCP_31",),
    "SW-GCP-016": ("CKV_GCP_35",), "SW-GCP-017": ("CKV_GCP_32",), "SW-GCP-018": ("CKV_GCP_34",),
    "SW-GCP-019": ("CKV_GCP_36",), "SW-GCP-020": ("CKV_GCP_40",), "SW-GCP-021": ("CKV_GCP_39",),
    "SW-GCP-022": ("CKV_GCP_15",), "SW-GCP-023": ("CKV_GCP_26",), "SW-GCP-024": ("CKV_GCP_16",),
    "SW-GCP-025": ("CKV_GCP_7",), "SW-GCP-026": ("CKV_GCP_20",),
}


def checkov_command() -> Path:
    """The checkov executable in its own virtualenv (created and installed once)."""
    venv = CACHE / "checkov-venv"
    binary = venv / "bin" / "checkov"
    marker = venv / f".checkov-{CHECKOV_VERSION}"
    if not marker.exists():
        print(f"installing checkov {CHECKOV_VERSION} into {venv} (once) …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                        f"checkov=={CHECKOV_VERSION}"], check=True)
        marker.touch()
    return binary


def table_files() -> list[CorpusFile]:
    """Each check's true positive and near miss, one file each (so every check is met)."""
    out = []
    for plant in all_plants():
        if plant.file_type not in FILE_TYPES:
            continue
        for bad in (True, False):
            item = single(plant, bad)
            path = f"{plant.file_type}/table/{plant.check_id}/{'bad' if bad else 'near'}/" \
                   f"{item.path}"
            out.append(CorpusFile(path, item.data, [Expected(e.check_id, path, e.resource)
                                                    for e in item.expected], item.also,
                                  item.clean))
    return out


def write_corpus(root: Path, files_per_type: int, table: bool) -> list[CorpusFile]:
    """The generated corpus (plus the per-check files), written under `root` (Terraform:
    one module per directory)."""
    corpus = generate(seed=2024, files_per_type=files_per_type, file_types=FILE_TYPES)
    if table:
        corpus += table_files()
    for item in corpus:
        path = root / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(item.data)
    return corpus


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + sys) and peak RSS (KiB) of one run, via GNU time."""
    with tempfile.NamedTemporaryFile("r") as report:
        done = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", report.name, *cmd],
                              capture_output=True, env=env, check=False)
        if done.returncode not in (0, 1):  # checkov exits 1 when a check fails
            raise SystemExit(f"{cmd[0]} failed ({done.returncode}): "
                             f"{done.stderr.decode()[-800:]}")
        wall, user, system, rss = report.read().split()[-4:]
    return float(wall), float(user) + float(system), int(rss)


def _k8s_key(resource: str) -> str:
    """Kind.namespace.name, the form Checkov uses (namespace `default` when unset)."""
    parts = resource.replace("/", ".").split(".")
    if len(parts) == 2:
        parts.insert(1, "default")
    return ".".join(parts)


def key(file_type: str, path: str, resource: str | None) -> tuple[str, str]:
    """What identifies one finding across both tools: file and resource (file alone for
    Dockerfiles and provider blocks, which the tools name differently)."""
    path = path.lstrip("/")
    if file_type == "dockerfile" or not resource or resource.startswith(("provider.", "aws.",
                                                                         "azurerm.")):
        return path, ""
    if file_type == "kubernetes":
        return path, _k8s_key(resource)
    return path, resource


def ours(report: dict) -> dict[str, set[tuple[str, str]]]:  # type: ignore[type-arg]
    """Our findings: check id -> keys."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for f in report["findings"]:
        file_type = f["evidence"]["file_type"]
        found[f["id"]].add(key(file_type, f["location"]["path"], f["location"]["resource"]))
    return found


def checkov(reports: list[dict]) -> dict[str, set[tuple[str, str]]]:  # type: ignore[type-arg]
    """Checkov's failed checks: check id -> keys."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for report in reports:
        file_type = report.get("check_type", "")
        for f in report["results"]["failed_checks"]:
            found[f["check_id"]].add(key(file_type, f["file_path"], f.get("resource")))
    return found


def compare(corpus: list[CorpusFile], mine: dict[str, set[tuple[str, str]]],
            theirs: dict[str, set[tuple[str, str]]]) -> None:
    """Per overlapping check: agreement, and recall on the planted cases."""
    planted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for item in corpus:
        file_type = item.path.split("/", 1)[0]
        for expected in item.expected:
            planted[expected.check_id].add(key(file_type, expected.path, expected.resource))
    print(f"\n{'our check':<20} {'Checkov':<22} {'both':>5} {'only us':>8} {'only them':>10} "
          f"{'planted':>8} {'we found':>9} {'they found':>11}")
    totals = [0, 0, 0, 0, 0, 0]
    for label, their_ids in OVERLAP.items():
        our_ids = label.split("+")
        a = set().union(*(mine.get(i, set()) for i in our_ids))
        b = set().union(*(theirs.get(t, set()) for t in their_ids))
        p = set().union(*(planted.get(i, set()) for i in our_ids))
        row = [len(a & b), len(a - b), len(b - a), len(p), len(p & a), len(p & b)]
        totals = [x + y for x, y in zip(totals, row, strict=True)]
        print(f"{label:<20} {','.join(their_ids)[:22]:<22} {row[0]:>5} {row[1]:>8} "
              f"{row[2]:>10} {row[3]:>8} {row[4]:>9} {row[5]:>11}")
    print(f"{'total':<20} {'':<22} {totals[0]:>5} {totals[1]:>8} {totals[2]:>10} "
          f"{totals[3]:>8} {totals[4]:>9} {totals[5]:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files-per-type", type=int, default=110)
    parser.add_argument("--no-table", action="store_true",
                        help="only the generated files, not the per-check files")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the corpus and both reports here (kept) for inspection")
    args = parser.parse_args()
    binary = checkov_command()
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_VERSION_CHECK": "false",
           "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="misconfig-bench-") as scratch:
        tmp = str(args.keep) if args.keep else scratch
        root = Path(tmp) / "corpus"
        corpus = write_corpus(root, args.files_per_type, table=not args.no_table)
        ours_out, theirs_out = Path(tmp) / "ours.json", Path(tmp) / "checkov"
        commands = {
            "stackwarden": [sys.executable, "-m", "stackwarden", "scan-config", str(root),
                            "--format", "json", "-o", str(ours_out)],
            "checkov": [str(binary), "-d", str(root), "--framework", *FILE_TYPES,
                        "-o", "json", "--output-file-path", str(theirs_out), "--quiet",
                        "--compact", "--skip-download"],
        }
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
        for _ in range(args.runs):  # interleaved: both see the same page cache
            for name, cmd in commands.items():
                runs[name].append(timed(cmd, env))
        counts = {t: sum(1 for c in corpus if c.path.startswith(t)) for t in FILE_TYPES}
        print(f"corpus: {len(corpus)} files {counts}, "
              f"{sum(len(c.expected) for c in corpus)} planted misconfigurations, "
              f"{sum(c.clean for c in corpus)} clean or near-miss files; {args.runs} runs each; "
              f"checkov {CHECKOV_VERSION}")
        print(f"{'tool':<12} {'median wall s':>14} {'median CPU s':>13} {'peak RSS MiB':>13}")
        medians = {}
        for name, results in runs.items():
            wall = statistics.median(r[0] for r in results)
            cpu = statistics.median(r[1] for r in results)
            rss = max(r[2] for r in results) / 1024
            medians[name] = (wall, cpu, rss)
            print(f"{name:<12} {wall:>14.2f} {cpu:>13.2f} {rss:>13.0f}")
        speed = medians["checkov"][0] / medians["stackwarden"][0]
        cpu_ratio = medians["checkov"][1] / medians["stackwarden"][1]
        print(f"speed: StackWarden is {speed:.1f}x faster than Checkov in wall time "
              f"({cpu_ratio:.1f}x in CPU time; goal >= 5x)")
        mine = ours(json.loads(ours_out.read_text()))
        reports = json.loads((theirs_out / "results_json.json").read_text())
        compare(corpus, mine, checkov(reports if isinstance(reports, list) else [reports]))


if __name__ == "__main__":
    main()
