"""Version requirements as RustSec (Cargo) and RubySec (RubyGems) write them.

Both feeds list what is *not* affected ("patched", "unaffected"); a version is affected when
it satisfies none of them. Comparisons use the ecosystem's own version scheme.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Compare = Callable[[str, str], int]
_OP = re.compile(r"^\s*(?P<op>~>|>=|<=|!=|\^|~|=|>|<)?\s*(?P<version>\S+)\s*$")


def _numbers(version: str) -> list[int]:
    parts = []
    for piece in re.split(r"[.+-]", version):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return parts


def _join(parts: list[int]) -> str:
    return ".".join(str(p) for p in parts)


@lru_cache(maxsize=16384)
def cargo_bounds(comparator: str) -> list[tuple[str, str]]:
    """One Cargo comparator as (op, version) bounds: `^0.2.3` -> [(>=, 0.2.3), (<, 0.3.0)]."""
    text = comparator.strip()
    if text in ("*", ""):
        return []
    match = _OP.match(text)
    if not match:
        raise ValueError(f"not a Cargo requirement: {comparator!r}")
    op, version = match.group("op") or "^", match.group("version")
    if "*" in version or "x" in version.split(".") or "X" in version.split("."):
        fixed = [int(p) for p in version.split(".") if p.isdigit()]
        if not fixed:
            return []
        upper = fixed[:-1] + [fixed[-1] + 1]
        return [(">=", _join(fixed + [0] * (3 - len(fixed)))), ("<", _join(upper + [0] * (
            3 - len(upper))))]
    nums = _numbers(version)
    full = version if len(nums) >= 3 else _join(nums + [0] * (3 - len(nums)))
    if op in ("=", ">", ">=", "<", "<="):
        if op == "=" and len(nums) < 3:  # =1.2 means 1.2.*
            return cargo_bounds(_join(nums) + ".*")
        return [(op, full)]
    if op == "~":
        if len(nums) == 1:
            return [(">=", full), ("<", _join([nums[0] + 1, 0, 0]))]
        return [(">=", full), ("<", _join([nums[0], nums[1] + 1, 0]))]
    # caret: the left-most non-zero component may not change
    if nums[0] > 0 or len(nums) == 1:
        upper = [nums[0] + 1, 0, 0]
    elif len(nums) == 2 or nums[1] > 0:
        upper = [0, nums[1] + 1, 0]
    else:
        upper = [0, 0, nums[2] + 1]
    return [(">=", full), ("<", _join(upper))]


@lru_cache(maxsize=16384)
def gem_bounds(comparator: str) -> list[tuple[str, str]]:
    """One RubyGems comparator: `~> 5.2.4.3` -> [(>=, 5.2.4.3), (<, 5.2.5)]."""
    match = _OP.match(comparator)
    if not match:
        raise ValueError(f"not a RubyGems requirement: {comparator!r}")
    op, version = match.group("op") or "=", match.group("version")
    if op != "~>":
        return [(op, version)]
    nums = _numbers(version)
    if len(nums) <= 1:
        return [(">=", version)]
    upper = nums[:-1]
    upper[-1] += 1
    return [(">=", version), ("<", _join(upper))]


def _holds(op: str, version: str, bound: str, compare: Compare) -> bool:
    c = compare(version, bound)
    return {"=": c == 0, "!=": c != 0, ">": c > 0, ">=": c >= 0, "<": c < 0,
            "<=": c <= 0}[op]


def satisfies(version: str, requirement: str, *, style: str, compare: Compare) -> bool:
    """Whether `version` satisfies a requirement string (comparators joined by commas)."""
    bounds_for = cargo_bounds if style == "cargo" else gem_bounds
    for comparator in requirement.split(","):
        if not comparator.strip():
            continue
        for op, bound in bounds_for(comparator):
            if not _holds(op, version, bound, compare):
                return False
    return True
