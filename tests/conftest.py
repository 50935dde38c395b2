"""Fixtures shared by every test folder; the helpers behind them live in fleet_fixtures.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import tool_build
from fleet_fixtures import ROOT, gpufleet_command


@pytest.hookimpl(trylast=True)  # after -m/-k deselection: only tests that will run count
def pytest_collection_modifyitems(config, items):
    tool_build.schedule(items)


def pytest_terminal_summary(terminalreporter):
    for line in tool_build.BUILD.summary():
        terminalreporter.write_line(line)


@pytest.fixture
def gpufleet():
    """Runs the installed gpufleet console script and returns the CompletedProcess."""

    def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
        return subprocess.run([gpufleet_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=300)

    return run
