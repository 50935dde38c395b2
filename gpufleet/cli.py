"""The gpufleet command: the same plan, artifacts and policy verdicts as `pulumi`, offline.

Exit status: 0 fine; 1 a mandatory violation (check) or incompatible (compat); 2 invalid input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from components.spec import FleetSpec
from components.spec_loader import SpecError, load_stack_file

from .offline import run_offline
from .plan import build_plan
from .plan_text import plan_text
from .render import render_artifacts, write_artifacts

STACKS_DIR = Path(__file__).resolve().parent.parent / "stacks"
DEFAULT_STACK = "local"

EXIT_OK, EXIT_VIOLATION, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


def available_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def load_target(args: argparse.Namespace) -> tuple[FleetSpec, str]:
    """The spec and stack name from --config FILE or --stack ENV (default: local)."""
    if args.config:
        path = Path(args.config)
        name = path.name[len("Pulumi.") : -len(".yaml")] if path.name.startswith("Pulumi.") else path.stem
        return load_stack_file(path), name
    stack = args.stack or DEFAULT_STACK
    path = STACKS_DIR / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise UsageError(f"--stack: unknown stack '{stack}' (stacks: {', '.join(available_stacks())})")
    return load_stack_file(path), stack


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--stack", metavar="ENV", help=f"a stack in stacks/ (default: {DEFAULT_STACK})")
    target.add_argument("--config", metavar="FILE", help="any Pulumi stack config file")


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default="text")


def emit(data: dict, text: str, fmt: str) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n" if fmt == "json" else text)


def cmd_plan(args: argparse.Namespace) -> int:
    spec, stack = load_target(args)
    plan = build_plan(run_offline(spec, stack))
    emit(plan, plan_text(plan), args.format)
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    spec, stack = load_target(args)
    files = render_artifacts(run_offline(spec, stack))
    out = Path(args.out)
    write_artifacts(files, out)
    print(f"wrote {len(files)} files to {out}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpufleet", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="what the stack deploys: resources, node pools, tenants, cost")
    add_target_arguments(plan)
    add_format_argument(plan)
    plan.set_defaults(handler=cmd_plan)

    render = commands.add_parser("render", help="write every generated artifact into a directory")
    add_target_arguments(render)
    render.add_argument("--out", required=True, metavar="DIR")
    render.set_defaults(handler=cmd_render)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (SpecError, UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
