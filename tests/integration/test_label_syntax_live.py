"""core.label_syntax agrees with the real kube-apiserver: for each key and value of a corpus, the
spec's verdict equals whether the API server admits a Node carrying it (a server-side dry run of
a Node create: k8s.io/kubernetes ValidateNode, validateNodeTaints and the label validation)."""

from __future__ import annotations

import pytest

from core.label_syntax import label_value_error, qualified_name_error
from gpufleet.kube import KubeClient

pytestmark = pytest.mark.integration

KEYS = [
    "team", "acme.io/team", "Acme.io/team", "acme.io/Team_1.x", "acme.io/", "/team", "a/b/c", "acme_io/team",
    "-team", "team-", "a" * 63, "a" * 64, f"{'a' * 63}.io/x", f"{'a.' * 126}a/x", f"{'a.' * 127}a/x",
    "acme.io/x y", "acme.io/x\ny", "acme.io/x\n", "é/x", "node.kubernetes.io/lifecycle", "1/2",
]
VALUES = ["", "x", "ml.infra_2", "-x", "x-", "a" * 63, "a" * 64, "a b", "a,b", "a=b", "$(reboot)", "x\n", "é"]


def node(name: str, labels: dict, taints: list) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}


def admitted(client: KubeClient, labels: dict, taints: list) -> bool:
    reply = client.post("/api/v1/nodes", node("gpufleet-syntax-probe", labels, taints), dry_run=True)
    assert reply.ok or reply.status == 422, (reply.status, reply.message)
    return reply.ok


def test_qualified_names_and_label_values_agree_with_the_api_server(local_cluster):
    client = KubeClient.from_kubeconfig(str(local_cluster.api.kubeconfig), local_cluster.api.context)
    disagreements = []
    for key in KEYS:
        ours = qualified_name_error(key) is None
        for what, labels, taints in (
            ("label key", {key: "x"}, []),
            ("taint key", {}, [{"key": key, "value": "x", "effect": "NoSchedule"}]),
        ):
            if admitted(client, labels, taints) != ours:
                disagreements.append((what, key, ours))
    for value in VALUES:
        ours = label_value_error(value) is None
        for what, labels, taints in (
            ("label value", {"acme.io/team": value}, []),
            ("taint value", {}, [{"key": "acme.io/t", "value": value, "effect": "NoSchedule"}]),
        ):
            if admitted(client, labels, taints) != ours:
                disagreements.append((what, value, ours))
    assert not disagreements, disagreements
