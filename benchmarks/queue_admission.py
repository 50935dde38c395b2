"""Kueue admission latency on the local control plane: `.venv/bin/python -m benchmarks.queue_admission [--jobs N]`.

On the integration tests' control plane (scripts/local-cluster: kube-apiserver, kube-controller-manager,
kube-scheduler, kwok) with the real Kueue manager (tests/integration/kueue_manager.py, the program's
Configuration), in the same run:

  1. baseline: N Jobs (default 200) without a queue (Kueue leaves them alone): seconds from the first create until
     every Job's pod runs;
  2. queued: N Jobs to a LocalQueue whose ClusterQueue has room for all: the same time, and each Job's
     admission latency (its create until its Workload is Admitted, polled every 0.2 s).

Prints both times, their ratio (what the queue adds to getting N Jobs running) and the admission
latency's median, 95th percentile and maximum. Not part of pytest; about 5 minutes with the tools cached.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from kueue_manager import RUN_FOR, KueueManager, condition_true, kueue_binary  # noqa: E402
from local_engine import KubeApi, LocalEngine, copy_project, engine_env, output_of  # noqa: E402

from core.names import KUEUE_API_VERSION, QUEUE_NAME_LABEL  # noqa: E402
from gpufleet.kube import KubeClient  # noqa: E402

KUEUE = f"/apis/{KUEUE_API_VERSION}"
POLL_S = 0.2
TIMEOUT_S = 900


def job(name: str, namespace: str, queue: str | None) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": {QUEUE_NAME_LABEL: queue} if queue else {}},
            "spec": {"template": {"metadata": {"annotations": RUN_FOR}, "spec": {"restartPolicy": "Never", "containers": [
                {"name": "work", "image": "work", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


def post(client: KubeClient, path: str, body: dict) -> None:
    reply = client.post(path, body)
    if not reply.ok:
        raise SystemExit(f"POST {path}: {reply.status} {reply.message}")


def until(what: str, check) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {what}")
        time.sleep(POLL_S)


def running(client: KubeClient, namespace: str) -> int:
    pods = client.get(f"/api/v1/namespaces/{namespace}/pods").body["items"]
    return sum(p["status"].get("phase") == "Running" for p in pods)


def run_jobs(client: KubeClient, namespace: str, count: int, queue: str | None) -> tuple[float, list[float]]:
    """Seconds until every pod runs, and (queued) each Job's admission latency."""
    created: dict[str, float] = {}
    admitted: dict[str, float] = {}
    started = time.monotonic()
    for i in range(count):
        post(client, f"/apis/batch/v1/namespaces/{namespace}/jobs", job(f"job-{i}", namespace, queue))
        created[f"job-{i}"] = time.monotonic()

    def all_admitted() -> bool:
        now = time.monotonic()
        for workload in client.get(f"{KUEUE}/namespaces/{namespace}/workloads").body["items"]:
            owner = next((o["name"] for o in workload["metadata"].get("ownerReferences", [])), None)
            if owner in created and owner not in admitted and condition_true(workload, "Admitted"):
                admitted[owner] = now
        return len(admitted) == count

    if queue:
        until("every Job admitted", all_admitted)
    until("every pod running", lambda: running(client, namespace) == count)
    return time.monotonic() - started, [admitted[n] - created[n] for n in admitted]


def delete_namespace(client: KubeClient, namespace: str) -> None:
    """Deleted with its Jobs, pods and workloads (while the manager runs: it removes their finalizers)."""
    client.request("DELETE", f"/api/v1/namespaces/{namespace}")
    until(f"namespace {namespace} gone", lambda: client.get(f"/api/v1/namespaces/{namespace}").status == 404)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The simulated cluster's two untainted system nodes hold 110 pods each (scripts/local_nodes.py).
    parser.add_argument("--jobs", type=int, default=200, help="Jobs per phase (default 200, at most about 210)")
    args = parser.parse_args()
    built = subprocess.run([str(ROOT / "tools" / "build.sh")], cwd=ROOT, capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"tools/build.sh failed:\n{built.stderr[-4000:]}")
    bin_dir = Path(built.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory(prefix="gpufleet-queue-bench-") as tmp:
        base = Path(tmp)
        project = copy_project(base / "project")
        engine = LocalEngine(project=project, env=engine_env(base, bin_dir),
                             api=KubeApi(project / ".state" / "local" / "kubeconfig"))
        try:
            started = engine.cluster("start", timeout=1800)
            if started.returncode != 0:
                raise SystemExit(f"scripts/local-cluster start failed:\n{output_of(started)}")
            with KueueManager(engine.api.kubeconfig, kueue_binary(bin_dir), context=engine.api.context,
                              workdir=base / "kueue") as kueue:
                client = kueue.client
                for namespace in ("bench-plain", "bench-queued"):
                    post(client, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
                post(client, f"{KUEUE}/resourceflavors", {"apiVersion": KUEUE_API_VERSION, "kind": "ResourceFlavor",
                                                          "metadata": {"name": "bench"}})
                post(client, f"{KUEUE}/clusterqueues", {
                    "apiVersion": KUEUE_API_VERSION, "kind": "ClusterQueue", "metadata": {"name": "bench"},
                    "spec": {"namespaceSelector": {}, "resourceGroups": [{"coveredResources": ["cpu", "memory"], "flavors": [
                        {"name": "bench", "resources": [{"name": "cpu", "nominalQuota": "1000"},
                                                        {"name": "memory", "nominalQuota": "1Ti"}]}]}]}})
                post(client, f"{KUEUE}/namespaces/bench-queued/localqueues", {
                    "apiVersion": KUEUE_API_VERSION, "kind": "LocalQueue",
                    "metadata": {"name": "bench", "namespace": "bench-queued"}, "spec": {"clusterQueue": "bench"}})
                until("the ClusterQueue active", lambda: condition_true(client.get(f"{KUEUE}/clusterqueues/bench").body, "Active"))
                plain, _ = run_jobs(client, "bench-plain", args.jobs, None)
                delete_namespace(client, "bench-plain")  # its pods' room, for the queued phase
                queued, latencies = run_jobs(client, "bench-queued", args.jobs, "bench")
                delete_namespace(client, "bench-queued")
        finally:
            engine.cluster("stop", timeout=300)

    quantiles = statistics.quantiles(latencies, n=20)
    print(f"| Jobs | without queue s | queued s | queued/without | admission p50 s | p95 s | max s |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.jobs} | {plain:.1f} | {queued:.1f} | {queued / plain:.2f} | {statistics.median(latencies):.2f} "
          f"| {quantiles[18]:.2f} | {max(latencies):.2f} |")


if __name__ == "__main__":
    main()
