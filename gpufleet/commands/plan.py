"""gpufleet plan: what the stack deploys (resources, node pools, tenants, cost, violations)."""

from __future__ import annotations

import argparse
from datetime import datetime

from core.spec import timestamp

from ..check import add_policy_config_argument, evaluate, policy_config_for, quota_ratio
from ..offline import run_offline
from ..plan.build import build_plan
from ..plan.compare import compare_plans
from ..plan.text import plan_markdown, plan_text
from ..targets import EXIT_OK, add_target_arguments, emit, load_named, load_target, progress, target_region


def run(args: argparse.Namespace) -> int:
    spec, stack = load_target(args)
    progress(f"gpufleet: running the program for stack '{stack}' offline (under Pulumi's mocks)...")
    policy_config, _ = policy_config_for(args)
    region = target_region(args)
    offline = run_offline(spec, stack, region)
    plan = build_plan(offline, evaluate(offline, policy_config), quota_ratio(policy_config), region, args.as_of)
    if args.compare_to:
        base_spec, base_name = load_named(args.compare_to)
        plan["compare"] = compare_plans(plan, build_plan(run_offline(base_spec, base_name)), base_name)
    emit(plan, plan_markdown(plan) if args.format == "markdown" else plan_text(plan), args.format)
    return EXIT_OK


def register(commands) -> None:
    parser = commands.add_parser("plan", help="what the stack deploys: resources, node pools, tenants, cost")
    add_target_arguments(parser)
    parser.add_argument(
        "--format", choices=["text", "json", "markdown"], default="text",
        help="text for people, json for tools, markdown for a pull-request comment",
    )
    parser.add_argument(
        "--compare-to", metavar="OTHER", help="a stack name or config file: show resource and cost changes against it"
    )
    parser.add_argument(
        "--as-of", metavar="TIME", type=as_of_time, default=None,
        help="the time reservation windows and warnings are judged at, e.g. 2027-01-04T00:00:00Z (default: now)",
    )
    add_policy_config_argument(parser)
    parser.set_defaults(handler=run)


def as_of_time(value: str) -> datetime:
    try:
        return timestamp(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
