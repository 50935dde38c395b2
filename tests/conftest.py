"""Fixtures shared by every test folder; the helpers behind them live in fleet_fixtures.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fleet_fixtures import ROOT, gpufleet_command


@pytest.fixture
def gpufleet():
    """Runs the installed gpufleet console script and returns the CompletedProcess."""

    def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
        return subprocess.run([gpufleet_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=300)

    return run
