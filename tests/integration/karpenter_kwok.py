"""Karpenter's core with its KWOK cloud provider (sigs.k8s.io/karpenter/kwok, built by tools/build.sh as
`karpenter-kwok`) as a local process against a control plane such as scripts/local-cluster's. Import as
`from karpenter_kwok import ...`.

    with KarpenterKwok(kubeconfig, karpenter_binary(bin_dir), instance_types=["g6.xlarge"], context=...) as k:
        k.client.post("/apis/karpenter.sh/v1/nodepools", node_pool(pool, LOCAL_NODE_CLASS))

start() applies the vendored CRDs (components/aws/vendor/karpenter: the AWS provider's NodePool, NodeClaim,
NodeOverlay and EC2NodeClass, the KWOK provider's KWOKNodeClass) and the local node class, writes the simulated
cloud's instance types (the program's catalog: GPUs and on-demand prices from core/data/gpu-facts.yaml), starts
the process with leader election off and waits for /readyz. The provider creates a Node object per NodeClaim,
annotated kwok.x-k8s.io/node=fake (kwok/cloudprovider/cloudprovider.go toNode, addKwokAnnotation): the local
cluster's kwok controller keeps it Ready, as a kubelet would. stop() ends the process; CRDs stay.

Paths below are relative to the module root of sigs.k8s.io/karpenter@v1.13.0.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional, Sequence

import yaml
from fleet_fixtures import ROOT
from kueue_manager import apply_crds, free_port

from core.facts import load_facts
from core.karpenter import CAPACITY_TYPE_LABEL, NodeClassRef
from core.names import GPU_RESOURCE
from gpufleet.kube import KubeClient

VENDOR = ROOT / "components" / "aws" / "vendor" / "karpenter"
# The node class every NodePool of the local cluster launches from (kwok/apis/v1alpha1: group karpenter.kwok.sh,
# kind KWOKNodeClass); the program's pools name their EC2NodeClass instead, the one difference.
LOCAL_NODE_CLASS = NodeClassRef("gpufleet-local", group="karpenter.kwok.sh", kind="KWOKNodeClass")
ZONE_LABEL = "topology.kubernetes.io/zone"
ZONE = "local-a"
# The simulated instances' CPUs and memory (EC2's published sizes, aws.amazon.com/ec2/instance-types/g6): the
# catalog holds GPUs and prices only, and the tests' pods ask for CPU where the size matters.
HOST_SIZES = {"g6.xlarge": ("4", "16Gi"), "g6.2xlarge": ("8", "32Gi"), "g6.4xlarge": ("16", "64Gi"),
              "g6.12xlarge": ("48", "192Gi"), "g6.48xlarge": ("192", "768Gi")}


class KarpenterError(RuntimeError):
    """Karpenter did not start; the message ends with the log's tail."""


def karpenter_binary(bin_dir: Path) -> Path:
    binary = Path(bin_dir) / "karpenter-kwok"
    if not binary.is_file():
        raise KarpenterError(f"{binary} is missing: run tools/build.sh karpenter")
    return binary


def instance_types(names: Sequence[str]) -> list[dict]:
    """The KWOK provider's instance types file (kwok/cloudprovider/helpers.go InstanceTypeOptions, the format of
    kwok/cloudprovider/instance_types.json): one zone, an on-demand offering at the catalog's price and a spot
    offering at the plan's spot estimate, the type's GPUs as nvidia.com/gpu."""
    facts = load_facts()
    discount = facts.prices.spot_discount_estimate
    types = []
    for name in names:
        itype = facts.instance_types[name]
        cpu, memory = HOST_SIZES[name]
        offerings = [
            {"Price": price, "Available": True, "Requirements": [
                {"key": CAPACITY_TYPE_LABEL, "operator": "In", "values": [capacity]},
                {"key": ZONE_LABEL, "operator": "In", "values": [ZONE]}]}
            for capacity, price in (("on-demand", itype.on_demand_price),
                                    ("spot", round(itype.on_demand_price * (1 - discount), 4)))
        ]
        types.append({"name": name, "offerings": offerings, "architecture": "amd64", "operatingSystems": ["linux"],
                      "resources": {"cpu": cpu, "memory": memory, "ephemeral-storage": "200Gi", "pods": "110",
                                    GPU_RESOURCE: str(itype.gpus)}})
    return types


class KarpenterKwok:
    """One `karpenter-kwok` process. start() returns self; stop() is idempotent.

    instance_types: the simulated cloud's types (names in the program's catalog). args: more flags, e.g.
    "--log-level=debug". workdir: instance types file, kubeconfig and karpenter.log (kept after stop)."""

    def __init__(self, kubeconfig: Path, binary: Path, *, instance_types: Sequence[str], context: Optional[str] = None,
                 args: tuple[str, ...] = (), workdir: Optional[Path] = None):
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self.binary = Path(binary)
        self.types = tuple(instance_types)
        self.args = tuple(args)
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="gpufleet-karpenter-"))
        self.client = KubeClient.from_kubeconfig(str(self.kubeconfig), context)
        self.log_path = self.workdir / "karpenter.log"
        self.health_port = 0
        self.process: Optional[subprocess.Popen] = None

    def __enter__(self) -> "KarpenterKwok":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 120.0) -> "KarpenterKwok":
        try:
            self._start(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, deadline: float) -> None:
        apply_crds(self.client, VENDOR / "crds")
        apply_crds(self.client, VENDOR / "kwok")
        reply = self.client.post("/apis/karpenter.kwok.sh/v1alpha1/kwoknodeclasses", {
            "apiVersion": "karpenter.kwok.sh/v1alpha1", "kind": LOCAL_NODE_CLASS.kind,
            "metadata": {"name": LOCAL_NODE_CLASS.name}})
        if not reply.ok and reply.status != 409:
            raise KarpenterError(f"creating the KWOKNodeClass: HTTP {reply.status}: {reply.message}")
        types_file = self.workdir / "instance-types.json"
        types_file.write_text(json.dumps(instance_types(self.types), indent=1))
        self.health_port = free_port()
        env = {**os.environ, "KUBECONFIG": str(self._kubeconfig())}
        command = [str(self.binary), "--disable-leader-election", f"--instance-types-file-path={types_file}",
                   f"--health-probe-port={self.health_port}", f"--metrics-port={free_port()}",
                   "--log-level=debug", *self.args]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.workdir, env=env, start_new_session=True)
        while not self._ready():
            if not self.running:
                raise KarpenterError(f"karpenter exited ({self.process.returncode}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise KarpenterError(f"karpenter not ready:\n{self.log_tail()}")
            time.sleep(0.5)

    def _kubeconfig(self) -> Path:
        """The kubeconfig with current-context set (controller-runtime's GetConfig reads KUBECONFIG's)."""
        document = yaml.safe_load(self.kubeconfig.read_text())
        if self.context is not None:
            document["current-context"] = self.context
        path = self.workdir / "kubeconfig"
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(document))
        return path

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/readyz", timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
