"""Kubernetes' own syntax for label keys, label values and taints, and what the kubelet accepts.

The same rules as upstream, so that a value the spec accepts is one the API server and the kubelet
accept too, and nothing else reaches node user data:

- k8s.io/apimachinery pkg/util/validation/validation.go: IsQualifiedName (an optional DNS-1123
  subdomain prefix of at most 253 characters, '/', and a name of at most 63 characters matching
  ``([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]``) and IsValidLabelValue (empty, or that name syntax).
- k8s.io/kubernetes pkg/apis/core/validation/validation.go validateNodeTaints: a taint key is a
  label name (qualified name), its value a label value.
- k8s.io/kubernetes cmd/kubelet/app/options/options.go ValidateKubeletFlags and
  k8s.io/kubelet pkg/apis/well_known_labels.go IsKubeletLabel: --node-labels in the kubernetes.io
  or k8s.io namespaces only from the kubelet's allowed set or the kubelet.kubernetes.io and
  node.kubernetes.io namespaces; the kubelet refuses to start otherwise.
tests/core/test_label_syntax.py encodes the kubelet's rule; tests/integration/test_label_syntax_live.py
checks the syntax against the real kube-apiserver.
"""

from __future__ import annotations

import re
from typing import Optional

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
NAME_MAX = 63
PREFIX_MAX = 253
LABEL_VALUE_MAX = 63

# What the kubelet may set itself with --node-labels in the kubernetes.io and k8s.io namespaces.
KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    }
)
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
KUBERNETES_NAMESPACES = ("kubernetes.io", "k8s.io")


def _in_namespace(prefix: str, namespaces: tuple[str, ...]) -> bool:
    return any(prefix == n or prefix.endswith("." + n) for n in namespaces)


def qualified_name_error(key: str) -> Optional[str]:
    """Why `key` is not a Kubernetes qualified name (label key, taint key), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and "/" in prefix:
        return "more than one '/'"
    if slash:
        if not prefix:
            return "an empty prefix before '/'"
        if len(prefix) > PREFIX_MAX or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return f"the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.', at most {PREFIX_MAX})"
    if not name:
        return "an empty name"
    if len(name) > NAME_MAX:
        return f"the name part is longer than {NAME_MAX} characters"
    if not _NAME.fullmatch(name):
        return "the name part must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    return None


def label_value_error(value: str) -> Optional[str]:
    """Why `value` is not a Kubernetes label value (also a taint value), or None."""
    if len(value) > LABEL_VALUE_MAX:
        return f"longer than {LABEL_VALUE_MAX} characters"
    if value and not _NAME.fullmatch(value):
        return "it must be empty, or letters, digits, '-', '_' or '.' starting and ending with a letter or digit"
    return None


def kubelet_refuses(key: str) -> bool:
    """Whether the kubelet refuses the label in --node-labels (a kubernetes.io / k8s.io label it may not set)."""
    prefix = key.rpartition("/")[0]
    if not _in_namespace(prefix, KUBERNETES_NAMESPACES):
        return False
    return key not in KUBELET_LABELS and not _in_namespace(prefix, KUBELET_LABEL_NAMESPACES)
