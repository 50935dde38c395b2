"""Which stack config a command works on: --stack ENV (stacks/Pulumi.ENV.yaml) or --config FILE."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.spec import FleetSpec
from core.spec_loader import load_stack_file

STACKS_DIR = Path(__file__).resolve().parent.parent / "stacks"
DEFAULT_STACK = "local"

EXIT_OK, EXIT_VIOLATION, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


def available_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def stack_path(stack: str) -> Path:
    path = STACKS_DIR / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise UsageError(f"--stack: unknown stack '{stack}' (stacks: {', '.join(available_stacks())})")
    return path


def load_named(value: str) -> tuple[FleetSpec, str]:
    """A stack name or a config file path (used by --compare-to)."""
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_config_file(path)
    return load_stack_file(stack_path(value)), value


def load_config_file(path: Path) -> tuple[FleetSpec, str]:
    name = path.name[len("Pulumi.") : -len(".yaml")] if path.name.startswith("Pulumi.") else path.stem
    return load_stack_file(path), name


def load_target(args: argparse.Namespace) -> tuple[FleetSpec, str]:
    """The spec and stack name from --config FILE or --stack ENV (default: local)."""
    if args.config:
        return load_config_file(Path(args.config))
    stack = args.stack or DEFAULT_STACK
    return load_stack_file(stack_path(stack)), stack


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--stack", metavar="ENV", help=f"a stack in stacks/ (default: {DEFAULT_STACK})")
    target.add_argument("--config", metavar="FILE", help="any Pulumi stack config file")


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default="text")


def emit(data: dict, text: str, fmt: str) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n" if fmt == "json" else text)
