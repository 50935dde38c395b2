"""gpufleet plan: what the stack deploys (resources, node pools, tenants, cost, violations)."""

from __future__ import annotations

import argparse

from ..check import evaluate
from ..offline import run_offline
from ..plan.build import build_plan
from ..plan.compare import compare_plans
from ..plan.text import plan_markdown, plan_text
from ..targets import EXIT_OK, add_target_arguments, emit, load_named, load_target


def run(args: argparse.Namespace) -> int:
    spec, stack = load_target(args)
    offline = run_offline(spec, stack)
    plan = build_plan(offline, violations=evaluate(offline))
    if args.compare_to:
        base_spec, base_name = load_named(args.compare_to)
        plan["compare"] = compare_plans(plan, build_plan(run_offline(base_spec, base_name)), base_name)
    emit(plan, plan_markdown(plan) if args.format == "markdown" else plan_text(plan), args.format)
    return EXIT_OK


def register(commands) -> None:
    parser = commands.add_parser("plan", help="what the stack deploys: resources, node pools, tenants, cost")
    add_target_arguments(parser)
    parser.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    parser.add_argument(
        "--compare-to", metavar="OTHER", help="a stack name or config file: show resource and cost changes against it"
    )
    parser.set_defaults(handler=run)
