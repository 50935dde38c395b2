"""The intended access matrix of a fleet's tenants: who may do what, where. Pure.

Stated from the documented roles (README, "What runs on the cluster"), not computed from the
ClusterRole rules, so that a live check against the API server (gpufleet tenancy) compares the
deployed RBAC with the intent:

    viewers  (view)                   read workloads, config maps, quota, limit ranges, network
                                      policies and their namespace; no Secrets, no RoleBindings
    editors  (gpufleet-tenant-edit)   viewers + write pods, deployments, jobs, secrets, config maps;
                                      read Secrets
    admins   (gpufleet-tenant-admin)  editors + read/write RoleBindings

Nobody writes ResourceQuotas, LimitRanges or NetworkPolicies, nobody touches another tenant's
namespace (so nobody reads another tenant's Secrets), kube-system, namespaces or nodes at
cluster scope. A principal in several tenants (or levels) gets the union, namespace by namespace.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from .access import ACCESS_ROLES, levels, rbac_subject
from .plan import FleetPlan

VERBS = ("get", "list", "create", "update", "delete")
READ_VERBS = frozenset({"get", "list"})
ALL_VERBS = frozenset(VERBS)

# Resource -> API group, and whether it is namespaced.
RESOURCES: dict[str, tuple[str, bool]] = {
    "pods": ("", True),
    "deployments": ("apps", True),
    "jobs": ("batch", True),
    "secrets": ("", True),
    "configmaps": ("", True),
    "resourcequotas": ("", True),
    "limitranges": ("", True),
    "networkpolicies": ("networking.k8s.io", True),
    "rolebindings": ("rbac.authorization.k8s.io", True),
    "namespaces": ("", False),
    "nodes": ("", False),
}

# Scope names in the matrix.
OWN, OTHER_TENANT, KUBE_SYSTEM, CLUSTER = "own", "other-tenant", "kube-system", "cluster"

WORKLOADS = ("pods", "deployments", "jobs", "configmaps")
FLEET_OWNED = ("resourcequotas", "limitranges", "networkpolicies")

# Access level -> resource -> verbs, inside the tenant's own namespace. `namespaces` means the
# namespace object itself (get/list with the namespace as the request's namespace).
LEVEL_GRANTS: dict[str, dict[str, frozenset]] = {
    "viewers": {
        **{r: READ_VERBS for r in WORKLOADS},
        **{r: READ_VERBS for r in FLEET_OWNED},
        "namespaces": READ_VERBS,
    },
    "editors": {
        **{r: ALL_VERBS for r in (*WORKLOADS, "secrets")},
        **{r: READ_VERBS for r in FLEET_OWNED},
        "namespaces": READ_VERBS,
    },
}
LEVEL_GRANTS["admins"] = {**LEVEL_GRANTS["editors"], "rolebindings": ALL_VERBS}
assert set(LEVEL_GRANTS) == set(ACCESS_ROLES)

# The group every authenticated request carries; RBAC's defaults grant it nothing in the matrix.
AUTHENTICATED_GROUP = "system:authenticated"
GROUP_PROBE_USER_PREFIX = "gpufleet-tenancy-probe:"


@dataclass(frozen=True)
class Identity:
    """A principal as the API server sees it: a user name and groups."""

    principal: str
    user: str
    groups: tuple[str, ...]


def identity(principal: str) -> Identity:
    """user:NAME / ARN -> that user; group:NAME -> a probe user in that group."""
    subject = rbac_subject(principal)
    if subject["kind"] == "Group":
        return Identity(principal, f"{GROUP_PROBE_USER_PREFIX}{subject['name']}", (subject["name"], AUTHENTICATED_GROUP))
    return Identity(principal, subject["name"], (AUTHENTICATED_GROUP,))


@dataclass(frozen=True)
class Access:
    """One cell of the matrix."""

    principal: str
    verb: str
    resource: str
    group: str
    scope: str
    namespace: str  # "" at cluster scope
    name: Optional[str]  # the object named (namespaces: the namespace itself), or None
    allowed: bool

    def as_dict(self) -> dict:
        return asdict(self)


def principals(plan: FleetPlan) -> dict[str, dict[str, set[str]]]:
    """Principal -> tenant name -> the access levels it holds there (every principal of the plan)."""
    found: dict[str, dict[str, set[str]]] = {}
    for tenant in plan.tenants:
        for level, names in levels(tenant):
            for principal in names:
                found.setdefault(principal, {}).setdefault(tenant.name, set()).add(level)
    return found


def granted(levels: set[str], resource: str, verb: str) -> bool:
    return any(verb in LEVEL_GRANTS[level].get(resource, frozenset()) for level in levels)


def _scopes(plan: FleetPlan, home: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(scope, namespace) for every tenant namespace, kube-system and cluster scope."""
    scopes = [(OWN if t.name in home else OTHER_TENANT, t.name) for t in plan.tenants]
    return [*scopes, (KUBE_SYSTEM, "kube-system"), (CLUSTER, "")]


def access_matrix(plan: FleetPlan) -> list[Access]:
    """Every (principal, verb, resource, namespace) of the plan with whether it should be allowed."""
    cells = []
    for principal, home in principals(plan).items():
        for scope, namespace in _scopes(plan, home):
            for resource, (group, namespaced) in RESOURCES.items():
                if not namespaced and resource != "namespaces" and scope != CLUSTER:
                    continue  # nodes: cluster scope only
                levels = home.get(namespace, set())
                for verb in VERBS:
                    name = None
                    if resource == "namespaces" and scope != CLUSTER and verb not in ("list", "create"):
                        name = namespace
                    allowed = scope != CLUSTER and granted(levels, resource, verb)
                    cells.append(Access(principal, verb, resource, group, scope, namespace, name, allowed))
    return cells


def rules_allow(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    """Whether RBAC policy rules grant verb on group/resource (no resourceNames, no subresources)."""
    for rule in rules:
        if rule.get("resourceNames"):
            continue
        if not ({group, "*"} & set(rule.get("apiGroups", []))):
            continue
        if not ({resource, "*"} & set(rule.get("resources", []))):
            continue
        if {verb, "*"} & set(rule.get("verbs", [])):
            return True
    return False
