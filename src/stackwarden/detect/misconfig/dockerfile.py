"""Dockerfiles and Containerfiles, parsed with the official BuildKit parser (`dockerfile`).

The document body is plain data (so CEL policies can read it):
`{"stages": [{"index", "image", "alias", "platform", "line", "end_line", "instructions"}],
  "instructions": [{"cmd", "args", "flags", "original", "json", "line", "end_line", "stage",
  "heredocs"}], "global_args": {name: default}}`.
"""

from __future__ import annotations

from typing import Any

from stackwarden.detect.misconfig.model import (
    ConfigParseError,
    Document,
    FileType,
    never,
    no_sniff,
)
from stackwarden.detect.misconfig.source import SourceFile

NAME = "dockerfile"
# BuildKit rejects anything else ("unknown instruction"); so do we, as a parse error.
INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})


def claims(path: str) -> bool:
    """Dockerfile, Containerfile, Dockerfile.*, *.Dockerfile, *.dockerfile."""
    name = path.rsplit("/", 1)[-1]
    lower = name.lower()
    return (lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.",
                                                                          "containerfile."))
            or lower.endswith((".dockerfile", ".containerfile")))




def parse(src: SourceFile) -> list[Document]:
    """One document for the whole Dockerfile."""
    import dockerfile as buildkit

    text = src.text  # decodes, refuses binary
    if not text.strip():
        raise ConfigParseError("empty Dockerfile", source=src.path)
    try:
        commands = buildkit.parse_string(text)
    except buildkit.GoParseError as exc:
        raise ConfigParseError(f"invalid Dockerfile: {exc}", source=src.path) from None
    body = build_model(commands, src.path)
    stages = body["stages"]
    last = stages[-1] if stages else None
    return [Document(NAME, "Dockerfile", f"Dockerfile stage {last['index']} ({last['image']})"
                     if last else "Dockerfile", body, path=src.path, line=1,
                     end_line=text.count("\n") + 1)]


def build_model(commands: Any, path: str = "") -> dict[str, Any]:
    """The stage/instruction model of BuildKit's parsed commands."""
    instructions: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    global_args: dict[str, str | None] = {}
    for command in commands:
        cmd = command.cmd.upper()
        if cmd not in INSTRUCTIONS:
            raise ConfigParseError(f"unknown instruction {command.cmd} at line "
                                   f"{command.start_line}", source=path)
        item = {
            "cmd": cmd, "args": list(command.value), "flags": list(command.flags),
            "original": command.original, "json": bool(command.json),
            "line": command.start_line, "end_line": command.end_line,
            "stage": len(stages) - 1,
            "heredocs": [h.content for h in command.heredocs],
            "script": _script(command),
        }
        if cmd == "FROM":
            args = list(command.value)
            if not args:
                raise ConfigParseError(f"FROM without an image at line {command.start_line}",
                                       source=path)
            alias = args[2] if len(args) >= 3 and args[1].upper() == "AS" else None
            platform = next((f.split("=", 1)[1] for f in command.flags
                             if f.startswith("--platform=")), None)
            stages.append({"index": len(stages), "image": args[0], "alias": alias,
                           "platform": platform, "line": command.start_line,
                           "end_line": command.end_line, "instructions": []})
            item["stage"] = len(stages) - 1
        elif cmd == "ARG" and not stages:
            for arg in command.value:
                name, _, default = arg.partition("=")
                global_args[name] = default if "=" in arg else None
        instructions.append(item)
        if stages:
            stages[-1]["instructions"].append(item)
            stages[-1]["end_line"] = command.end_line
    if not stages:
        raise ConfigParseError("no FROM instruction", source=path)
    return {"stages": stages, "instructions": instructions, "global_args": global_args}


FILE_TYPE = FileType(NAME, claims=claims, candidate=never, sniff=no_sniff, parse=parse)


def _script(command: Any) -> str:
    """The shell text a RUN (or other) instruction executes: heredoc bodies when present."""
    if command.heredocs:
        return "\n".join(h.content for h in command.heredocs)
    return " ".join(command.value)
