"""The integration tests' tools, built in the background while the other tests run.

On a cold machine tools/build.sh compiles the pinned Go tools (the Pulumi CLI and the Kubernetes
provider, the control plane, the simulated kubelets) for many minutes. A session that will use them
starts the build as soon as collection ends and runs the tests that need them last, so the compiler
works beside the unit tests instead of before them (at a lower priority: build.sh runs under nice).
A cached build returns at once. The terminal summary repeats build.sh's time per tool.

Import as `from tool_build import ...` (tests/conftest.py wires the hooks).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest
from fleet_fixtures import ROOT

# The session fixture that needs the tools (tests/integration/conftest.py): a test that uses it runs last.
TOOLS_FIXTURE = "local_engine"
BUILD_TIMEOUT_S = 2 * 3600  # a cold build on a busy 2-core machine took 68 minutes
TIMES_PREFIX = "[tools] times:"


class ToolBuild:
    """One run of tools/build.sh in the background; `wait` returns its bin directory."""

    def __init__(self) -> None:
        self._process: Optional[subprocess.Popen] = None
        self._log: Optional[Path] = None
        self._started = 0.0

    def start(self) -> None:
        if self._process is not None:
            return
        handle, name = tempfile.mkstemp(prefix="gpufleet-tools-", suffix=".log")
        self._log = Path(name)
        self._started = time.monotonic()
        with open(handle, "w") as log:
            # stdout (the bin directory, last line) and stderr (progress and times) both go to the log.
            self._process = subprocess.Popen([str(ROOT / "tools" / "build.sh")], cwd=ROOT, stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait(self) -> Path:
        """The bin directory, once the build has finished. A failed build is a failure, never a skip."""
        self.start()
        assert self._process is not None and self._log is not None
        try:
            code = self._process.wait(timeout=max(1.0, BUILD_TIMEOUT_S - (time.monotonic() - self._started)))
        except subprocess.TimeoutExpired:
            self._process.kill()
            pytest.fail(f"tools/build.sh ran past {BUILD_TIMEOUT_S} s; log: {self._log}")
        lines = self._log.read_text(errors="replace").splitlines()
        if code != 0 or not lines:
            pytest.fail(f"tools/build.sh failed ({code}):\n" + "\n".join(lines[-60:]))
        return Path(lines[-1].strip())

    def summary(self) -> list[str]:
        """build.sh's per-tool times, once it has finished (nothing when it never ran)."""
        if self._process is None or self._process.poll() is None or self._log is None:
            return []
        return [line for line in self._log.read_text(errors="replace").splitlines() if line.startswith(TIMES_PREFIX)]


BUILD = ToolBuild()


def needs_tools(item: pytest.Item) -> bool:
    return TOOLS_FIXTURE in getattr(item, "fixturenames", ())


def schedule(items: list[pytest.Item]) -> None:
    """Start the build when a selected test needs the tools, and run those tests last (in their order)."""
    later = [item for item in items if needs_tools(item)]
    if not later:
        return
    BUILD.start()
    items[:] = [item for item in items if not needs_tools(item)] + later
