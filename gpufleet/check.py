"""Evaluates the policy pack offline: the very policy objects the pack registers, fed the
resources an offline run recorded, in the shapes the engine would send them.

Policy config follows the engine's format: {"all": "mandatory", "<policy>": "advisory",
"<policy>": {"enforcementLevel": "...", "<option>": ...}}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policies import ALL, tenancy
from policies.builders import options

from .offline import OfflineRun, PlannedResource
from .targets import UsageError, find_project

LEVELS = {level.value: level for level in EnforcementLevel}
_JSON_TYPES = {"boolean": bool, "number": (int, float), "integer": int, "string": str, "array": list, "object": dict}
STACK = "stack"


class PolicyConfigError(UsageError):
    """An invalid --policy-config file or entry (exit 2)."""


def _level(value: Any, where: str) -> EnforcementLevel:
    if value not in LEVELS:
        raise PolicyConfigError(f"{where}: '{value}' is not an enforcement level ({', '.join(LEVELS)})")
    return LEVELS[value]


def resolve_config(policy_config: Optional[Mapping[str, Any]], policies=ALL) -> dict[str, tuple[EnforcementLevel, dict]]:
    """Each policy's effective level and options; PolicyConfigError naming a bad entry."""
    config = dict(policy_config or {})
    by_name = {p.name: p for p in policies}
    for name in config:
        if name != "all" and name not in by_name:
            raise PolicyConfigError(f"--policy-config: unknown policy '{name}' (policies: {', '.join(by_name)})")
    default = _level(config["all"], "--policy-config: all") if "all" in config else None
    resolved = {}
    for name, policy in by_name.items():
        level = default or policy.enforcement_level or EnforcementLevel.ADVISORY
        entry = config.get(name)
        given: dict = {}
        if isinstance(entry, str):
            level = _level(entry, f"--policy-config: {name}")
        elif isinstance(entry, Mapping):
            given = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            if "enforcementLevel" in entry:
                level = _level(entry["enforcementLevel"], f"--policy-config: {name}.enforcementLevel")
            _check_options(policy, given)
        elif entry is not None:
            raise PolicyConfigError(f"--policy-config: {name}: expected an enforcement level or an object")
        resolved[name] = (level, options(policy.config_schema, given))
    return resolved


def _check_options(policy, given: Mapping[str, Any]) -> None:
    properties = policy.config_schema.properties if policy.config_schema else {}
    for key, value in given.items():
        where = f"--policy-config: {policy.name}.{key}"
        if key not in properties:
            known = ", ".join(properties) or "none"
            raise PolicyConfigError(f"{where}: unknown option (options: {known})")
        prop = properties[key]
        kind = _JSON_TYPES.get(prop.get("type", ""))
        if kind is not None and (not isinstance(value, kind) or (isinstance(value, bool) and prop["type"] != "boolean")):
            raise PolicyConfigError(f"{where}: expected {prop['type']}, got {json.dumps(value)}")
        if "enum" in prop and value not in prop["enum"]:
            raise PolicyConfigError(f"{where}: expected one of {', '.join(map(str, prop['enum']))}, got {json.dumps(value)}")
        if "minimum" in prop and isinstance(value, (int, float)) and value < prop["minimum"]:
            raise PolicyConfigError(f"{where}: must be >= {prop['minimum']}, got {value}")


def load_policy_config(path: str) -> dict:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyConfigError(f"--policy-config: cannot read '{path}': {error.strerror}") from None
    except ValueError as error:
        raise PolicyConfigError(f"--policy-config: '{path}' is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise PolicyConfigError(f"--policy-config: '{path}' must hold a JSON object of policy names")
    return document


# A stack's own policy config, where the project keeps one (what CI passes the engine).
STACK_POLICY_CONFIG = "policies/config/{stack}.json"


def add_policy_config_argument(parser) -> None:
    parser.add_argument(
        "--policy-config",
        metavar="FILE",
        help='policy pack config as the engine takes it: {"all": "mandatory", "<policy>": {"enforcementLevel": ..., ...}}; '
        f"default with --stack: the project's {STACK_POLICY_CONFIG} where it exists",
    )


def policy_config_for(args) -> tuple[Optional[dict], Optional[str]]:
    """The policy config to evaluate with and where it came from: --policy-config, else the stack's own."""
    path = args.policy_config
    if path is None and args.stack:
        project = find_project()
        candidate = project / STACK_POLICY_CONFIG.format(stack=args.stack) if project is not None else None
        path = str(candidate) if candidate is not None and candidate.is_file() else None
    return (load_policy_config(path), path) if path else (None, None)


def quota_ratio(policy_config: Optional[Mapping[str, Any]]) -> float:
    """The oversubscription ratio tenant-quota-within-capacity judges with under this policy config."""
    _, opts = resolve_config(policy_config)[tenancy.tenant_quota_within_capacity.name]
    return float(opts[tenancy.OVERSUBSCRIPTION_RATIO])


def _options(resource: PlannedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def policy_resources(run: OfflineRun) -> list[PolicyResource]:
    """The recorded resources as the engine hands them to policies (inputs behind its unknown-checking proxy)."""
    return [
        PolicyResource(r.type, unknown_checking_proxy(dict(r.inputs)), r.urn, r.name, _options(r), None, None, [], {})
        for r in run.resources
    ]


def evaluate(run: OfflineRun, policy_config: Optional[Mapping[str, Any]] = None, policies=ALL) -> list[dict]:
    """Every violation of the pack on the run: [{"policy", "level", "resource", "message"}].

    A value unknown during preview yields an advisory note instead of a verdict, as the engine does.
    """
    resolved = resolve_config(policy_config, policies)
    resources = policy_resources(run)
    violations: list[dict] = []
    for policy in policies:
        level, opts = resolved[policy.name]
        if level == EnforcementLevel.DISABLED:
            continue
        shown = "mandatory" if level == EnforcementLevel.REMEDIATE else level.value

        def report(message: str, urn: Optional[str] = None, _policy=policy, _shown=shown, _default=STACK) -> None:
            violations.append({"policy": _policy.name, "level": _shown, "resource": urn or _default, "message": message})

        def unknown(error: UnknownValueError, urn: str, _policy=policy) -> None:
            violations.append(
                {"policy": _policy.name, "level": "advisory", "resource": urn, "message": f"not checked: {error.message}"}
            )

        if isinstance(policy, StackValidationPolicy):
            try:
                policy.validate(StackValidationArgs(resources, opts), report)
            except UnknownValueError as error:
                unknown(error, STACK)
        elif isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = ResourceValidationArgs(
                    resource.resource_type, resource.props, resource.urn, resource.name, resource.opts, None, opts
                )

                def report_resource(message: str, urn: Optional[str] = None, _urn=resource.urn) -> None:
                    report(message, _urn)

                try:
                    policy.validate(args, report_resource)
                except UnknownValueError as error:
                    unknown(error, resource.urn)
    return violations


def has_mandatory(violations: list[dict]) -> bool:
    return any(v["level"] == "mandatory" for v in violations)
