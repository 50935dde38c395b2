"""The simulated fleet for real: `.venv/bin/python -m benchmarks.live [--nodes N] [--scale S]`.

On the local control plane of the integration tests (scripts/local-cluster: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kwok) with N simulated GPU nodes spread over the generated
fleet's pools (benchmarks/fleet.py: S x 32 pools, S x 150 tenants), the Pulumi engine:

  1. `pulumi up` of the fleet: every tenant, the device plugin and dcgm-exporter DaemonSets rolled out on
     every GPU node (the engine waits for them: awaitWorkloads), the admission policies;
  2. `pulumi destroy` of it;
  3. the engine's floor in the same run, on the same cluster: `pulumi up` and `pulumi destroy` of as many
     plain ConfigMaps as the fleet had Kubernetes objects (benchmarks/floor_program).

Prints the four times and the ratios fleet/floor. Not part of pytest (timings on shared machines make
poor assertions); about 20 minutes on 2 cores with the tools cached (tools/build.sh).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from .fleet import fleet_config

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from local_engine import KubeApi, LocalEngine, copy_project, engine_env, output_of  # noqa: E402

STACK = "bench"
FLOOR_PROGRAM = Path(__file__).resolve().parent / "floor_program"
UP_TIMEOUT_S = 3600


def local_fleet_config(scale: int, nodes: int) -> dict:
    """The generated fleet as a stack of the local cluster: the local stack's cluster and drivers, every
    pool sized to its share of `nodes` (scripts/local-cluster creates one simulated node per desired node)."""
    local = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    config = fleet_config(scale)
    per_pool = math.ceil(nodes / len(config["nodePools"]))
    for pool in config["nodePools"]:
        pool.update(minSize=0, desiredSize=per_pool, maxSize=max(pool["maxSize"], per_pool))
    config["cluster"] = local["gpu-fleet:cluster"]
    config["drivers"] = local["gpu-fleet:drivers"]
    return {"config": {f"gpu-fleet:{key}": value for key, value in config.items()}}


def timed(engine: LocalEngine, *args: str, cwd: Path | None = None) -> float:
    started = time.monotonic()
    result = engine.pulumi(*args, timeout=UP_TIMEOUT_S, cwd=cwd)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"pulumi {' '.join(args)} failed:\n{output_of(result)}")
    return elapsed


def kubernetes_objects(engine: LocalEngine) -> int:
    """The Kubernetes objects in the fleet's state (providers excluded): the floor registers as many."""
    exported = engine.pulumi("stack", "export", "--stack", STACK)
    if exported.returncode != 0:
        raise SystemExit(f"pulumi stack export failed:\n{output_of(exported)}")
    resources = json.loads(exported.stdout)["deployment"].get("resources", [])
    return sum(1 for r in resources if r["type"].startswith("kubernetes:"))


def count(engine: LocalEngine, path: str) -> int:
    listed = engine.api.get(path)
    return len(listed["items"]) if listed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=300, help="simulated GPU nodes (default 300)")
    parser.add_argument("--scale", type=int, default=1, help="fleet scale: S x 32 pools, S x 150 tenants")
    args = parser.parse_args()

    built = subprocess.run([str(ROOT / "tools" / "build.sh")], cwd=ROOT, capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"tools/build.sh failed:\n{built.stderr[-4000:]}")
    bin_dir = Path(built.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory(prefix="gpufleet-live-bench-") as tmp:
        base = Path(tmp)
        project = copy_project(base / "project")
        stack_file = project / "stacks" / f"Pulumi.{STACK}.yaml"
        stack_file.write_text(yaml.safe_dump(local_fleet_config(args.scale, args.nodes), sort_keys=False))
        env = {**engine_env(base, bin_dir), "GPUFLEET_LOCAL_CONFIG": str(stack_file)}
        kubeconfig = project / ".state" / "local" / "kubeconfig"
        engine = LocalEngine(project=project, env=env, api=KubeApi(kubeconfig))
        floor = base / "floor"
        shutil.copytree(FLOOR_PROGRAM, floor)
        (floor / ".venv").symlink_to(ROOT / ".venv")
        try:
            started = engine.cluster("start", timeout=1800)
            if started.returncode != 0:
                raise SystemExit(f"scripts/local-cluster start failed:\n{output_of(started)}")
            nodes = count(engine, "/api/v1/nodes")
            timed(engine, "stack", "init", STACK)
            up = timed(engine, "up", "--stack", STACK, "--yes", "--skip-preview")
            objects = kubernetes_objects(engine)
            pods = count(engine, "/api/v1/pods")
            destroy = timed(engine, "destroy", "--stack", STACK, "--yes", "--skip-preview")

            timed(engine, "stack", "init", "floor", cwd=floor)
            for key, value in (("kubeconfig", str(kubeconfig)), ("context", engine.api.context), ("count", str(objects))):
                timed(engine, "config", "set", "--stack", "floor", key, value, cwd=floor)
            floor_up = timed(engine, "up", "--stack", "floor", "--yes", "--skip-preview", cwd=floor)
            floor_destroy = timed(engine, "destroy", "--stack", "floor", "--yes", "--skip-preview", cwd=floor)
        finally:
            engine.cluster("stop", timeout=300)

    print(f"nodes {nodes} (GPU and system), Kubernetes objects {objects}, pods after up {pods}")
    print("| step | fleet s | floor s | fleet/floor |")
    print("|---|---|---|---|")
    print(f"| pulumi up | {up:.1f} | {floor_up:.1f} | {up / floor_up:.2f} |")
    print(f"| pulumi destroy | {destroy:.1f} | {floor_destroy:.1f} | {destroy / floor_destroy:.2f} |")


if __name__ == "__main__":
    main()
