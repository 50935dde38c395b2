"""The gpufleet command: the same plan, artifacts and policy verdicts as `pulumi`, offline.

Exit status: 0 fine; 1 a mandatory violation (check) or incompatible (compat); 2 invalid input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from importlib.metadata import version
from typing import Optional, Sequence

from core.spec_loader import SpecError

from .targets import EXIT_INVALID, UsageError

# Subcommand modules under gpufleet/commands, in help order.
COMMANDS = ["plan", "check", "compat", "render", "tenancy", "pack"]


EPILOG = "exit status: 0 fine; 1 a mandatory policy violation (check), incompatible (compat) or a tenancy mismatch (tenancy); 2 invalid input"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpufleet", description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('gpu-fleet')}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"gpufleet.commands.{name}").register(commands)
    for command in commands.choices.values():
        command.epilog = EPILOG
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (SpecError, UsageError) as error:
        if getattr(args, "format", "text") == "json":
            # A tool reading JSON gets JSON back, on stdout as every other answer.
            print(json.dumps({"error": str(error), "problems": error_problems(error)}, indent=2))
        else:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID


def error_problems(error: Exception) -> list[dict]:
    """Each problem of an invalid input: the file, the config path and the message where known."""
    if isinstance(error, SpecError):
        return [{"file": error.source, "path": path, "message": message} for path, message in error.problems]
    return [{"file": "", "path": "", "message": str(error)}]


if __name__ == "__main__":
    sys.exit(main())
