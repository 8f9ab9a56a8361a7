"""Secrets in an image's configuration: ENV, labels and the commands in its history.

An image config is not a file, but `ENV API_TOKEN=…`, a label, or a `RUN curl -u user:pass`
recorded in `history[].created_by` ships with the image like a file would. Each part is
rendered as text a rule family already understands (environment and labels as a `.env`
file, history as a shell script) and scanned by the same detector; findings point at
`image-config:<part>` with the line of the variable, label or history entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackwarden.core.findings import Finding
from stackwarden.detect.base import DetectContext, ScanTarget
from stackwarden.detect.secrets.detector import SecretDetector

CONFIG_PATHS = {"env": "image-config/env.env", "labels": "image-config/labels.env",
                "history": "image-config/history.sh"}


def config_texts(config: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """(path, text) for the ENV list, the labels and the history commands of a config."""
    inner = config.get("config") or config.get("container_config") or {}
    env = [str(item) for item in inner.get("Env") or [] if isinstance(item, str)]
    labels = [f"{key}={value}" for key, value in sorted((inner.get("Labels") or {}).items())]
    history = [str(step.get("created_by", "")).replace("\n", " ")
               for step in config.get("history") or [] if isinstance(step, dict)]
    parts = [("env", env), ("labels", labels), ("history", history)]
    return [(CONFIG_PATHS[name], ("\n".join(lines) + "\n").encode("utf-8", "replace"))
            for name, lines in parts if lines]


def scan_image_config(detector: SecretDetector, config: Mapping[str, Any], ctx: DetectContext
                      ) -> Iterable[Finding]:
    """Findings in an image config (the parsed JSON of the image's config blob)."""
    for path, data in config_texts(config):
        yield from detector.scan(data, ScanTarget(path, len(data)), ctx)
