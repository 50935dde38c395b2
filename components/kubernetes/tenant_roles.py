"""TenantRoles: the ClusterRoles tenant principals are bound to, namespace by namespace.

The built-in `admin` and `edit` roles both write NetworkPolicies (admin also RoleBindings), so
a team holding them could open its own default-deny. gpu-fleet binds tenant admins and editors
to explicit roles instead: the usual workload verbs, read-only NetworkPolicies, ResourceQuotas
and LimitRanges. Tenant admins may also manage Roles/RoleBindings in their namespace; RBAC's
escalation check means they can only grant what they hold, so never a NetworkPolicy write.
These roles are always used through RoleBindings; nothing binds them cluster-wide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from core.names import TENANT_ADMIN_ROLE, TENANT_EDIT_ROLE

from .meta import object_meta

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# What no tenant role may write: the isolation and the budget the fleet set for the namespace.
PROTECTED_RESOURCES = ("networkpolicies", "resourcequotas", "limitranges")


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def tenant_edit_rules() -> list[dict]:
    return [
        _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "configmaps",
                     "secrets", "services", "services/proxy", "persistentvolumeclaims", "serviceaccounts",
                     "replicationcontrollers", "replicationcontrollers/scale"], WRITE),
        _rule([""], ["pods/eviction", "serviceaccounts/token"], ["create"]),
        _rule([""], ["pods/log", "pods/status", "events", "endpoints", "limitranges", "resourcequotas",
                     "resourcequotas/status", "namespaces", "namespaces/status", "bindings"], READ),
        _rule(["apps"], ["deployments", "deployments/scale", "replicasets", "replicasets/scale",
                         "statefulsets", "statefulsets/scale", "daemonsets"], WRITE),
        _rule(["apps"], ["controllerrevisions"], READ),
        _rule(["batch"], ["jobs", "cronjobs"], WRITE),
        _rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
        _rule(["policy"], ["poddisruptionbudgets"], WRITE),
        _rule(["networking.k8s.io"], ["ingresses"], WRITE),
        _rule(["networking.k8s.io"], ["networkpolicies"], READ),
        _rule(["discovery.k8s.io"], ["endpointslices"], READ),
        _rule(["events.k8s.io"], ["events"], READ),
    ]


def tenant_admin_rules() -> list[dict]:
    return [
        *tenant_edit_rules(),
        _rule(["rbac.authorization.k8s.io"], ["roles", "rolebindings"], WRITE),
        _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    ]


def role_rules() -> dict[str, list[dict]]:
    return {TENANT_ADMIN_ROLE: tenant_admin_rules(), TENANT_EDIT_ROLE: tenant_edit_rules()}


@dataclass(frozen=True)
class TenantRolesArgs:
    rules: Mapping[str, list[dict]] = field(default_factory=role_rules)
    """ClusterRole name -> its policy rules."""


class TenantRoles(pulumi.ComponentResource):
    """gpufleet-tenant-admin and gpufleet-tenant-edit (the built-in `view` serves viewers)."""

    def __init__(self, name: str, args: TenantRolesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:tenant_roles:TenantRoles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.roles = {
            role: k8s.rbac.v1.ClusterRole(role, metadata=object_meta(role), rules=rules, opts=child)
            for role, rules in args.rules.items()
        }
        self.register_outputs({"roles": list(self.roles)})
