"""Which stack config a command works on: --stack ENV or --config FILE.

--stack ENV reads Pulumi.ENV.yaml from the stack config directory of the Pulumi project in the
current directory or the nearest one above it (Pulumi.yaml's stackConfigDir, default the project
directory), as `pulumi` itself finds it; --config FILE takes any stack config file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

import yaml

from core.spec import FleetSpec
from core.spec_loader import load_stack_file, stack_region

PROJECT_FILE = "Pulumi.yaml"

EXIT_OK, EXIT_VIOLATION, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


def find_project(start: Optional[Path] = None) -> Optional[Path]:
    """The directory of the nearest Pulumi.yaml at or above `start` (the current directory)."""
    here = (start or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / PROJECT_FILE).is_file()), None)


def stacks_dir(project: Path) -> Path:
    try:
        document = yaml.safe_load((project / PROJECT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UsageError(f"{project / PROJECT_FILE}: cannot read the Pulumi project: {error}") from None
    configured = document.get("stackConfigDir") if isinstance(document, dict) else None
    return project / configured if isinstance(configured, str) and configured else project


def available_stacks(directory: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml"))


def stack_path(stack: str) -> Path:
    project = find_project()
    if project is None:
        raise UsageError(
            f"--stack: no Pulumi project ({PROJECT_FILE}) in {Path.cwd()} or above: run from your project, "
            "or give the stack config file with --config FILE"
        )
    directory = stacks_dir(project)
    path = directory / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise UsageError(
            f"--stack: unknown stack '{stack}' in {directory} (stacks: {', '.join(available_stacks(directory)) or 'none'})"
        )
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
    """The spec and stack name from --config FILE or --stack ENV."""
    if args.config:
        return load_config_file(Path(args.config))
    if not args.stack:
        raise UsageError("give the stack: --stack ENV (a stack of the Pulumi project here) or --config FILE")
    return load_stack_file(stack_path(args.stack)), args.stack


def target_region(args: argparse.Namespace) -> Optional[str]:
    """The AWS region of the stack that --config FILE or --stack ENV names (its aws:region)."""
    return stack_region(Path(args.config) if args.config else stack_path(args.stack))


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--stack", metavar="ENV", help="a stack of the Pulumi project in this directory or above (its stackConfigDir)"
    )
    target.add_argument("--config", metavar="FILE", help="any Pulumi stack config file")


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default="text", help="text for people, json for tools")


def progress(message: str, stream=None) -> None:
    """A line on stderr while a command works, only where a person watches a terminal."""
    stream = stream or sys.stderr
    if stream.isatty():
        print(message, file=stream, flush=True)


def emit(data: dict, text: str, fmt: str) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n" if fmt == "json" else text)
