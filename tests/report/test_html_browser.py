"""The HTML report in a real browser (system Chromium): the script runs under the page's CSP,
sorts and filters, and nothing injected ever executes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackwarden.report import render_scan
from tests.helpers.browser import system_chromium
from tests.report.sample import sample_result


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with system_chromium() as instance:
        yield instance


def test_sort_filter_and_nothing_executes(browser: Any, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_bytes(render_scan(sample_result(tmp_path), "html"))
    page = browser.new_page()
    console: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: console.append(f"request {r.url}")
            if not r.url.startswith("file://") else None)
    page.goto(page_file.as_uri())
    assert page.text_content("#shown") == "8 of 8 shown"  # the script ran (CSP hash accepted)

    def column(n: int) -> list[str]:
        return [t.strip() for t in page.locator(
            f"#findings tbody tr:not([hidden]) td:nth-child({n})").all_text_contents()]

    assert column(1)[:2] == ["critical", "critical"]
    page.click("th:nth-child(1) button")  # severity ascending: mediums first
    assert column(1)[0] == "medium"
    assert page.get_attribute("th:nth-child(1)", "aria-sort") == "ascending"
    page.click("th:nth-child(1) button")
    assert column(1)[0] == "critical"
    page.click("th:nth-child(3) button")
    ids = column(3)
    assert ids == sorted(ids, key=str.lower)

    page.select_option("#filter-severity", "5")
    assert page.text_content("#shown") == "2 of 8 shown"
    page.select_option("#filter-severity", "")
    page.select_option("#filter-kind", "misconfiguration")
    assert column(3) == ["DS002", "KSV001"]
    page.select_option("#filter-kind", "")
    page.fill("#filter-text", "<script>")
    assert column(3) == ["GHSA-xxxx-yyyy-zzzz"]
    page.click("#findings tbody tr:not([hidden]) details summary")  # open the description
    assert dialogs == [] and console == []
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    page.close()
