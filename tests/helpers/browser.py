"""The system Chromium through Playwright, for tests that look at pages in a real browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.helpers.env import unavailable

# No sandbox (tests run as root), no GPU, nothing fetched from the network by the browser itself.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def system_chromium() -> Iterator[Any]:
    """A launched Playwright browser on /usr/bin/chromium (skip, or fail under CI, without)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("no system Chromium (scripts/install-system-deps installs it)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
