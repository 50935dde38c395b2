"""The integration tests' tools, built in the background while the other tests run.

On a cold machine tools/build.sh compiles the pinned Go tools (the Pulumi CLI and the Kubernetes
provider, the control plane, the simulated kubelets) for many minutes. A session that will use them
starts the build as soon as collection ends and runs the tests that need them last, so the compiler
works beside the unit tests instead of before them (at a lower priority: build.sh runs under nice), and the
control plane's tests beside the build of the Pulumi CLI and provider, which only the engine's tests need.
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

# The session fixtures that need tools (tests/integration/conftest.py): the local control plane, and the engine
# on it. Their tests run last: the control plane's first, while the build goes on with the Pulumi CLI and the
# Kubernetes provider (tools/build.sh builds those last), then the engine's.
CLUSTER_FIXTURE = "local_cluster"
ENGINE_FIXTURE = "local_engine"
BUILD_TIMEOUT_S = 2 * 3600  # a cold build on a busy 2-core machine took 68 minutes
POLL_S = 2.0
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

    def bin_dir(self) -> Path:
        """The bin directory, known before anything is built (`tools/build.sh --print-bin`): a link per executable,
        which resolves once its tool is built."""
        printed = subprocess.run([str(ROOT / "tools" / "build.sh"), "--print-bin"], cwd=ROOT, capture_output=True,
                                 text=True, check=True)
        return Path(printed.stdout.strip().splitlines()[-1])

    def wait_for(self, executables: tuple[str, ...]) -> Path:
        """The bin directory once these executables are built; the build goes on with the other tools."""
        self.start()
        assert self._process is not None
        bin_dir = self.bin_dir()
        while not all((bin_dir / name).is_file() for name in executables):
            if self._process.poll() is not None or time.monotonic() - self._started > BUILD_TIMEOUT_S:
                return self.wait()  # ended, or ran too long: wait() says how
            time.sleep(POLL_S)
        return bin_dir

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


def _uses(item: pytest.Item, fixture: str) -> bool:
    return fixture in getattr(item, "fixturenames", ())  # the whole closure: local_engine brings local_cluster


def schedule(items: list[pytest.Item]) -> None:
    """Start the build when a selected test needs tools, and run those tests last (in their order): the control
    plane's, then the engine's."""
    engine = [item for item in items if _uses(item, ENGINE_FIXTURE)]
    cluster = [item for item in items if _uses(item, CLUSTER_FIXTURE) and not _uses(item, ENGINE_FIXTURE)]
    if not engine and not cluster:
        return
    BUILD.start()
    later = {id(item) for item in engine + cluster}
    items[:] = [item for item in items if id(item) not in later] + cluster + engine
