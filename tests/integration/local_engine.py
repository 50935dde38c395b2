"""Helpers for the engine integration tests: a throwaway copy of the project, the pinned tools, a file
backend, the local control plane (scripts/local-cluster) and a minimal client for its API.

Import as `from local_engine import ...`.

Why a copy of the project: the tests get their own `.state/local` (cluster data, certificates and the
kubeconfig at the path stacks/Pulumi.local.yaml names, relative to the project), their own ports and their
own extra stack files (the seeded policy violation), so a developer's `make local-up` cluster and the
working tree's stacks/ are never touched. `.venv` is a symlink to the project's, so nothing is installed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from fleet_fixtures import ROOT
from tool_build import BUILD

# The executables of the control plane (scripts/local-cluster) and of the engine on it.
CLUSTER_TOOLS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
ENGINE_TOOLS = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".state", ".git", "out", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", "venv"
)
SECRETS_KEYS = ("encryptionsalt", "secretsprovider", "encryptedkey")
PASSPHRASE = "gpufleet-integration-tests"  # protects nothing: the local stack holds no secrets


def build_tools(executables: tuple[str, ...] = CLUSTER_TOOLS + ENGINE_TOOLS) -> Path:
    """The bin dir of tools/build.sh (started in the background at collection, tests/tool_build.py) once these
    executables are built. A missing tool is a failure, never a skip."""
    bin_dir = BUILD.wait_for(executables)
    missing = [tool for tool in executables if not (bin_dir / tool).is_file()]
    if missing:
        pytest.fail(f"tools/build.sh did not produce {missing} in {bin_dir}")
    return bin_dir


def _free_port(exclude: set[int], plus: int = 0) -> int:
    """A free loopback port p (and p + plus, when plus) not in exclude."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in exclude or (plus and port + plus in exclude) or port + plus > 65535:
            continue
        if plus:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + plus))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free loopback port")


def copy_project(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=COPY_IGNORE, symlinks=True)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    # A stack file may carry the secrets settings of someone's own backend (`make local-up` records an
    # encryptionsalt for its passphrase): the tests' stacks get fresh ones for their own passphrase.
    for stack_file in (dest / "stacks").glob("Pulumi.*.yaml"):
        document = yaml.safe_load(stack_file.read_text()) or {}
        if any(key in document for key in SECRETS_KEYS):
            for key in SECRETS_KEYS:
                document.pop(key, None)
            stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return dest


@dataclass
class KubeApi:
    """GET against the API server with the kubeconfig's client certificate (context gpufleet-local)."""

    kubeconfig: Path
    context: str = "gpufleet-local"
    _ctx: ssl.SSLContext | None = field(default=None, init=False, repr=False)
    _server: str = field(default="", init=False)

    def _load(self) -> None:
        config = yaml.safe_load(self.kubeconfig.read_text())
        ctx_entry = next(c["context"] for c in config["contexts"] if c["name"] == self.context)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx_entry["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == ctx_entry["user"])
        self._server = cluster["server"]
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        ssl_ctx = ssl.create_default_context(cadata=ca)
        # ssl loads a client certificate from files only: write them to a private temporary directory.
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp, "client.crt"), Path(tmp, "client.key")
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            key.chmod(0o600)
            ssl_ctx.load_cert_chain(cert, key)
        self._ctx = ssl_ctx

    def get(self, path: str) -> dict | None:
        """The object at path, or None when the API server answers 404."""
        if self._ctx is None:
            self._load()
        request = urllib.request.Request(self._server + path, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self._ctx, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


@dataclass
class LocalEngine:
    """The Pulumi CLI on a copy of the project, against its own local control plane and file backend."""

    project: Path
    env: dict[str, str]
    api: KubeApi

    def pulumi(self, *args: str, timeout: int = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """The CLI in the project (or another program's directory, cwd) with the engine's environment."""
        return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=cwd or self.project, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def cluster(self, command: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.project / "scripts" / "local-cluster"), command], cwd=self.project,
                              env=self.env, capture_output=True, text=True, timeout=timeout)


def engine_env(base: Path, bin_dir: Path) -> dict[str, str]:
    """The environment every command of the tests runs in: pinned tools first on PATH, no plugin downloads,
    an isolated PULUMI_HOME and a file backend, free loopback ports for the control plane."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KUBECONFIG", "GPUFLEET_"))}
    backend = base / "backend"
    backend.mkdir(parents=True, exist_ok=True)
    taken: set[int] = set()
    etcd = _free_port(taken, plus=10)
    taken |= {etcd, etcd + 10}
    apiserver = _free_port(taken)
    taken.add(apiserver)
    kcm = _free_port(taken)
    taken.add(kcm)
    scheduler = _free_port(taken)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PULUMI_HOME=str(base / "pulumi-home"),
        PULUMI_BACKEND_URL=backend.as_uri(),
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        GPUFLEET_KUBE_BIN=str(bin_dir),
        GPUFLEET_ETCD_PORT=str(etcd),
        GPUFLEET_APISERVER_PORT=str(apiserver),
        GPUFLEET_KCM_PORT=str(kcm),
        GPUFLEET_SCHEDULER_PORT=str(scheduler),
    )
    return env


def output_of(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"
