"""What Karpenter's release says its controller needs, read from the files vendored from it (vendor/karpenter/
SOURCE.md), so the program grants and wires exactly what upstream does:

- its CRDs (the AWS provider's pkg/apis/crds);
- its RBAC: the rules of the chart's ClusterRoles and Roles (charts/karpenter/templates, Helm templates whose
  rules are plain YAML);
- its AWS side, from the getting-started CloudFormation template: the controller's IAM policies, the interruption
  queue's properties and policy, and the EventBridge rules that feed the queue.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

VENDOR = Path(__file__).resolve().parent / "vendor" / "karpenter"
CLOUDFORMATION = VENDOR / "getting-started" / "cloudformation.yaml"
CHART = VENDOR / "chart"
# The template's names for what the program creates itself.
NODE_ROLE = "KarpenterNodeRole"
QUEUE = "KarpenterInterruptionQueue"
QUEUE_POLICY = "KarpenterInterruptionQueuePolicy"
_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")


class _TemplateLoader(yaml.SafeLoader):
    """CloudFormation's short-form functions (!Sub, !Ref, !GetAtt) as ("Fn", argument) pairs."""


for _tag in ("Sub", "Ref", "GetAtt"):
    _TemplateLoader.add_constructor(f"!{_tag}", lambda loader, node, tag=_tag: (tag, loader.construct_scalar(node)))


@functools.cache
def template() -> dict[str, Any]:
    return yaml.load(CLOUDFORMATION.read_text(encoding="utf-8"), Loader=_TemplateLoader)


def _resources(kind: str) -> dict[str, dict]:
    return {name: r["Properties"] for name, r in template()["Resources"].items() if r["Type"] == kind}


@dataclass(frozen=True)
class Substitutions:
    """The values the template's ${...} placeholders stand for in one cluster's account."""

    partition: str
    region: str
    account_id: str
    cluster_name: str
    node_role_arn: str
    queue_arn: str
    url_suffix: str = "amazonaws.com"

    def apply(self, text: str) -> str:
        """`text` with every placeholder replaced; an unknown one is an error, never left in a policy."""
        values = {
            "AWS::Partition": self.partition, "AWS::Region": self.region, "AWS::AccountId": self.account_id,
            "AWS::URLSuffix": self.url_suffix, "ClusterName": self.cluster_name,
            f"{NODE_ROLE}.Arn": self.node_role_arn, f"{QUEUE}.Arn": self.queue_arn,
        }

        def value(match: re.Match) -> str:
            if match.group(1) not in values:
                raise ValueError(f"{CLOUDFORMATION.name}: no value for ${{{match.group(1)}}}")
            return values[match.group(1)]

        return _SUBSTITUTION.sub(value, text)


def controller_policy_names() -> list[str]:
    return list(_resources("AWS::IAM::ManagedPolicy"))


def controller_policies(values: Substitutions) -> dict[str, dict]:
    """The controller's IAM policies by the template's resource name (NodeLifecyclePolicy, IAMIntegrationPolicy,
    EKSIntegrationPolicy, InterruptionPolicy, ResourceDiscoveryPolicy, ZonalShiftPolicy), as policy documents."""
    policies = {}
    for name, props in _resources("AWS::IAM::ManagedPolicy").items():
        function, text = props["PolicyDocument"]
        if function != "Sub":
            raise ValueError(f"{CLOUDFORMATION.name}: {name}'s PolicyDocument is not a !Sub string")
        policies[name] = json.loads(values.apply(text))
    return policies


def interruption_rules() -> dict[str, dict]:
    """The EventBridge rules whose events the controller reads from the queue, by resource name: event patterns."""
    return {name: props["EventPattern"] for name, props in _resources("AWS::Events::Rule").items()}


def queue_properties() -> dict[str, Any]:
    """The interruption queue's properties but its name (MessageRetentionPeriod, SqsManagedSseEnabled)."""
    return {k: v for k, v in _resources("AWS::SQS::Queue")[QUEUE].items() if k != "QueueName"}


def queue_policy(queue_arn: str) -> dict:
    """The queue's policy: EventBridge (and SQS) may send, nothing may use it without TLS."""
    document = _resources("AWS::SQS::QueuePolicy")[QUEUE_POLICY]["PolicyDocument"]
    return _resolve(document, {("GetAtt", f"{QUEUE}.Arn"): queue_arn})


def _resolve(value: Any, functions: dict[tuple[str, str], str]) -> Any:
    """`value` with the template's functions replaced, and YAML's booleans as IAM's condition strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return functions[value]
    if isinstance(value, dict):
        return {k: _resolve(v, functions) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, functions) for v in value]
    return value


@functools.cache
def chart_documents(file: str) -> tuple[dict, ...]:
    """The documents of a vendored chart template without its Helm directives (lines with {{ }}): what remains of
    a ClusterRole or Role is its kind, namespace where fixed, and rules."""
    text = "\n".join(line for line in (CHART / file).read_text(encoding="utf-8").splitlines() if "{{" not in line)
    return tuple(d for d in yaml.safe_load_all(text) if d)


def chart_rules(file: str, kind: str, namespace: str | None = None) -> list[dict]:
    """The rules of the one `kind` (ClusterRole, Role) in `file` whose fixed namespace is `namespace` (None: the
    release's namespace, which the template leaves to Helm)."""
    (document,) = [d for d in chart_documents(file)
                   if d["kind"] == kind and (d.get("metadata") or {}).get("namespace") == namespace]
    return document["rules"]
