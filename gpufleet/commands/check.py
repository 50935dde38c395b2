"""gpufleet check: the policy pack's verdicts on a stack, offline (exit 1 on a mandatory violation)."""

from __future__ import annotations

import argparse
from itertools import groupby

from ..check import STACK, add_policy_config_argument, evaluate, has_mandatory, policy_config_for
from ..offline import run_offline
from ..targets import (
    EXIT_OK,
    EXIT_VIOLATION,
    add_format_argument,
    add_target_arguments,
    emit,
    load_target,
    progress,
    target_region,
)


def resource_title(resource: str) -> str:
    """'type name' from a URN; 'stack' for stack-wide findings."""
    if resource == STACK or "::" not in resource:
        return resource
    parts = resource.split("::")
    return f"{parts[2].rsplit('$', 1)[-1]} {parts[3]}"


def check_text(stack: str, resources: int, violations: list[dict], policy_config: str | None = None) -> str:
    lines = [f"policy config: {policy_config}", ""] if policy_config else []
    ordered = sorted(violations, key=lambda v: (v["resource"], v["level"] != "mandatory", v["policy"]))
    for resource, group in groupby(ordered, key=lambda v: v["resource"]):
        lines.append(resource_title(resource))
        for v in group:
            lines.append(f"  [{v['level']}] {v['policy']}: {v['message']}")
        lines.append("")
    mandatory = sum(v["level"] == "mandatory" for v in violations)
    verdict = "FAIL" if mandatory else "ok"
    lines.append(
        f"{verdict}: stack {stack}, {resources} resources checked, {len(violations)} violations ({mandatory} mandatory)"
    )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    spec, stack = load_target(args)
    progress(f"gpufleet: running the program for stack '{stack}' offline (under Pulumi's mocks)...")
    policy_config, source = policy_config_for(args)
    offline = run_offline(spec, stack, target_region(args))
    violations = evaluate(offline, policy_config)
    resources = len(offline.custom_resources)
    text = check_text(stack, resources, violations, source)
    emit({"resources": resources, "violations": violations}, text, args.format)
    return EXIT_VIOLATION if has_mandatory(violations) else EXIT_OK


def register(commands) -> None:
    parser = commands.add_parser("check", help="run the policy pack on a stack offline")
    add_target_arguments(parser)
    add_format_argument(parser)
    add_policy_config_argument(parser)
    parser.set_defaults(handler=run)
