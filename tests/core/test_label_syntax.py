"""The kubelet's --node-labels rule (k8s.io/kubernetes cmd/kubelet/app/options/options.go
ValidateKubeletFlags, k8s.io/kubelet pkg/apis/well_known_labels.go IsKubeletLabel): labels in the
kubernetes.io and k8s.io namespaces only from the allowed set or the kubelet.kubernetes.io and
node.kubernetes.io namespaces, their subdomains included; the kubelet refuses to start otherwise.
The key and value syntax is checked against the real API server in tests/integration."""

from __future__ import annotations

import pytest

from core.label_syntax import kubelet_refuses


@pytest.mark.parametrize(
    "key",
    [
        "team",
        "acme.io/team",
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "node.kubernetes.io/instance-type",
        "node.kubernetes.io/lifecycle",
        "kubelet.kubernetes.io/x",
        "a.node.kubernetes.io/x",
        "notkubernetes.io/x",
    ],
)
def test_the_kubelet_accepts(key):
    assert not kubelet_refuses(key)


@pytest.mark.parametrize(
    "key",
    ["kubernetes.io/role", "node-role.kubernetes.io/gpu", "k8s.io/x", "example.k8s.io/x", "a.kubernetes.io/x"],
)
def test_the_kubelet_refuses(key):
    assert kubelet_refuses(key)
