"""Builders shared by every policy: one place that filters resource types, reads config with
its defaults, and turns a check's findings into violations."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from . import resource_types
from .observed_fleet import Fleet, Pool, fleet_of, pools_of_resource

DOCS = "policies/README.md"  # each policy is documented under its own heading there

# The resources that describe pools (pools_of_resource).
POOL_RESOURCES = (resource_types.NODE_GROUP, resource_types.NODE_POOL, resource_types.CONFIG_MAP)

ResourceCheck = Callable[[str, Any, str, str, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Fleet, Mapping[str, Any]], Iterable[tuple[Optional[str], str]]]


def options(schema: Optional[PolicyConfigSchema], config: Mapping[str, Any]) -> dict[str, Any]:
    """The policy's options: schema defaults overlaid with what the policy config sets."""
    merged = {k: v["default"] for k, v in (schema.properties if schema else {}).items() if "default" in v}
    merged.update({k: v for k, v in (config or {}).items() if k != "enforcementLevel"})
    return merged


def resource_policy(
    *,
    name: str,
    description: str,
    types: Iterable[str],
    check: ResourceCheck,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    severity: Severity = Severity.HIGH,
    remediation_steps: str,
    config_schema: Optional[PolicyConfigSchema] = None,
) -> ResourceValidationPolicy:
    """A policy over single resources of `types`; `check(type, props, urn, name, options)` yields messages."""
    wanted = frozenset(types)

    def validate(args, report_violation) -> None:
        if args.resource_type not in wanted:
            return
        for message in check(args.resource_type, args.props, args.urn, args.name, options(config_schema, args.get_config())):
            report_violation(message)

    return ResourceValidationPolicy(
        validate=validate,
        **_described(name, description, enforcement_level, config_schema, severity, remediation_steps),
    )


def pool_policy(*, name: str, description: str, judge: Callable[[Pool], Iterable[str]], **described) -> ResourceValidationPolicy:
    """A policy that judges every pool a resource describes (observed_fleet.pools_of_resource): node
    groups of this stack, and the inventory's pools of nodes it does not create."""

    def check(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
        for pool in pools_of_resource(resource_type, props, urn, name):
            yield from judge(pool)

    return resource_policy(name=name, description=description, types=POOL_RESOURCES, check=check, **described)


def stack_policy(
    *,
    name: str,
    description: str,
    check: StackCheck,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    severity: Severity = Severity.HIGH,
    remediation_steps: str,
    config_schema: Optional[PolicyConfigSchema] = None,
) -> StackValidationPolicy:
    """A policy over the whole stack; `check(fleet, options)` yields (urn or None, message)."""

    def validate(args, report_violation) -> None:
        fleet = fleet_of(args.resources)
        for urn, message in check(fleet, options(config_schema, args.get_config())):
            report_violation(message, urn)

    return StackValidationPolicy(
        validate=validate,
        **_described(name, description, enforcement_level, config_schema, severity, remediation_steps),
    )


def _described(name, description, enforcement_level, config_schema, severity, remediation_steps) -> dict:
    """What every gpu-fleet policy carries besides its validation: level, severity, remediation, link."""
    return {
        "name": name,
        "description": description,
        "enforcement_level": enforcement_level,
        "config_schema": config_schema,
        "severity": severity,
        "remediation_steps": remediation_steps,
        "url": f"{DOCS}#{name}",
        "tags": ["gpu-fleet"],
    }


def schema(**properties: dict) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)
