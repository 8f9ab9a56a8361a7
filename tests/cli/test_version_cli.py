"""`stackwarden version` and `stackwarden version compare`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stackwarden import __version__
from stackwarden.cli.main import app

runner = CliRunner()


def test_bare_version_prints_the_tool_version():
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.stdout.strip() == __version__


@pytest.mark.parametrize(("args", "expected"), [
    (["Debian:12", "1:2.0", "2.5"], ">"), (["dpkg", "1.0~rc1", "1.0"], "<"),
    (["Red Hat", "1.2-3", "0:1.2-3"], "="), (["npm", "1.0.0-rc.1", "1.0.0"], "<"),
    (["Maven", "1.0-SNAPSHOT", "1.0"], "<"),
])
def test_compare(args, expected):
    result = runner.invoke(app, ["version", "compare", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == expected + "\n"


def test_compare_reads_pairs_from_stdin_and_reports_bad_ones():
    result = runner.invoke(app, ["version", "compare", "Debian", "-"],
                           input="1.0 1.0~rc1\n1: 2\n\n2 2.0\nlonely\n")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [">", "?", "<", "?"]
    assert "line 2: 1: 2:" in result.stderr and "line 5" in result.stderr


@pytest.mark.parametrize("args", [["Nope", "1", "2"], ["dpkg", "1:", "2"], ["dpkg", "1"],
                                  ["dpkg", "-", "2"]])
def test_compare_usage_errors_exit_2_with_one_line(args):
    result = runner.invoke(app, ["version", "compare", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.output


def test_help_on_every_command():
    for args in (["version", "--help"], ["version", "compare", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "compare" in result.stdout.lower()
