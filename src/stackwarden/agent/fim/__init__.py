"""File integrity monitoring: baselines of files' content and attributes, checks, realtime watch.

    result = Baseline.build(["/etc", "/usr/bin"], "fim.db")
    for change in check("fim.db").changes:
        print(change.path, change.change, change.fields)
"""

from stackwarden.agent.fim.baseline import Baseline, BuildResult
from stackwarden.agent.fim.check import check, compare
from stackwarden.agent.fim.model import (
    Change,
    ChangeKind,
    CheckResult,
    FileRecord,
    FimError,
    FimOptions,
    ScanNote,
)

__all__ = ["Baseline", "BuildResult", "Change", "ChangeKind", "CheckResult", "FileRecord",
           "FimError", "FimOptions", "ScanNote", "check", "compare"]
