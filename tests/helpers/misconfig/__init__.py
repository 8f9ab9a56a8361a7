"""A ground-truth corpus for the misconfiguration scanner: clean files, and files with
planted misconfigurations whose expected findings are recorded.

Each built-in check has a `Plant`: `bad` plants the misconfiguration, `good` is its near
miss (a close variant that is compliant). File types come in two shapes:
- document types (Kubernetes, Terraform, CloudFormation, Compose): a file is a list of
  independent units; a plant adds its own unit (own resource name) to the file;
- single-model types (Dockerfile, GitHub Actions, GitLab CI, image config): a plant mutates
  the one clean model; plants of the same `group` are never combined in one file.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[Any, ...]
Mutation = Callable[[Any, int], Any]  # changes a file model; returns the expected resource


@dataclass(frozen=True)
class Plant:
    """One check's true positive and near miss."""

    check_id: str
    file_type: str
    bad: Mutation  # plants the misconfiguration
    good: Mutation  # plants the near miss
    group: str = ""
    also: tuple[str, ...] = ()  # other checks the bad variant legitimately triggers


@dataclass
class Expected:
    """A finding the corpus expects: check id, file, resource (None: any resource)."""

    check_id: str
    path: str
    resource: str | None


@dataclass
class CorpusFile:
    """A generated file and the findings it must produce."""

    path: str
    data: bytes
    expected: list[Expected] = field(default_factory=list)
    also: set[str] = field(default_factory=set)
    clean: bool = False


@dataclass(frozen=True)
class FileKind:
    """How to make a clean model and render it for one file type."""

    file_type: str
    new: Callable[[], Any]
    render: Callable[[Any], bytes]
    filename: Callable[[int], str]
    single_model: bool


def set_in(obj: Any, path: Path_, value: Any) -> None:
    """obj[p0][p1]… = value, creating dicts on the way."""
    for key in path[:-1]:
        if isinstance(obj, list):
            obj = obj[key]
        else:
            obj = obj.setdefault(key, {})
    obj[path[-1]] = value


def del_in(obj: Any, path: Path_) -> None:
    """Delete obj[p0][p1]… when present."""
    for key in path[:-1]:
        obj = obj[key] if isinstance(obj, list) else obj.get(key, {})
    if isinstance(obj, dict):
        obj.pop(path[-1], None)


def get_in(obj: Any, path: Path_) -> Any:
    """obj[p0][p1]…"""
    for key in path:
        obj = obj[key]
    return obj


def apply_ops(obj: Any, ops: list[tuple[Any, ...]]) -> None:
    """Apply ("set", path, value) / ("del", path) / ("append", path, value) operations."""
    for op in ops:
        if op[0] == "set":
            set_in(obj, op[1], copy.deepcopy(op[2]))
        elif op[0] == "del":
            del_in(obj, op[1])
        elif op[0] == "append":
            get_in(obj, op[1]).append(copy.deepcopy(op[2]))
        else:
            raise ValueError(op)


def all_plants() -> list[Plant]:
    """Every plant of every file type."""
    from tests.helpers.misconfig import (
        ci,
        cloudformation,
        compose,
        dockerfile,
        image,
        kubernetes,
        terraform_aws,
        terraform_azure,
        terraform_gcp,
    )

    return [*dockerfile.PLANTS, *image.PLANTS, *kubernetes.PLANTS, *compose.PLANTS,
            *terraform_aws.PLANTS, *terraform_azure.PLANTS, *terraform_gcp.PLANTS,
            *cloudformation.PLANTS, *ci.GITHUB_PLANTS, *ci.GITLAB_PLANTS]


def file_kinds() -> dict[str, FileKind]:
    """The FileKind of every file type."""
    from tests.helpers.misconfig import (
        ci,
        cloudformation,
        compose,
        dockerfile,
        image,
        kubernetes,
        terraform_aws,
    )

    kinds = [dockerfile.KIND, image.KIND, kubernetes.KIND, compose.KIND, terraform_aws.KIND,
             cloudformation.KIND, ci.GITHUB_KIND, ci.GITLAB_KIND]
    return {k.file_type: k for k in kinds}


def single(plant: Plant, bad: bool, index: int = 0) -> CorpusFile:
    """A file holding the clean model plus one plant (bad) or its near miss (good)."""
    kind = file_kinds()[plant.file_type]
    model = kind.new()
    resource = (plant.bad if bad else plant.good)(model, index)
    path = kind.filename(index)
    expected = [Expected(plant.check_id, path, resource)] if bad else []
    return CorpusFile(path, kind.render(model), expected, set(plant.also), clean=not bad)


def generate(seed: int = 7, files_per_type: int = 40, max_plants: int = 4,
             file_types: tuple[str, ...] | None = None) -> list[CorpusFile]:
    """A reproducible corpus: per file type, clean files and files with 1..max plants."""
    rng = random.Random(seed)
    by_type: dict[str, list[Plant]] = {}
    for plant in all_plants():
        by_type.setdefault(plant.file_type, []).append(plant)
    corpus: list[CorpusFile] = []
    for file_type, kind in file_kinds().items():
        if file_types is not None and file_type not in file_types:
            continue
        plants = by_type[file_type]
        for number in range(files_per_type):
            index = len(corpus)
            model = kind.new()
            path = f"{file_type}/{number:03d}/{kind.filename(index)}"
            if number % 5 == 0:  # every fifth file is clean
                corpus.append(CorpusFile(path, kind.render(model), clean=True))
                continue
            chosen: list[Plant] = []
            groups: set[str] = set()
            for plant in rng.sample(plants, len(plants)):
                if len(chosen) >= rng.randint(1, max_plants):
                    break
                if kind.single_model and (plant.group or plant.check_id) in groups:
                    continue
                groups.add(plant.group or plant.check_id)
                chosen.append(plant)
            expected: list[Expected] = []
            also: set[str] = set()
            for offset, plant in enumerate(chosen):
                resource = plant.bad(model, index * 10 + offset)
                expected.append(Expected(plant.check_id, path, resource))
                also.update(plant.also)
            corpus.append(CorpusFile(path, kind.render(model), expected, also))
    return corpus
