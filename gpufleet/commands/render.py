"""gpufleet render: every generated artifact, written into a directory for review."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..offline import run_offline
from ..render import check_out, render_artifacts, write_artifacts
from ..targets import EXIT_OK, add_target_arguments, load_target, progress, target_region


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_out(out, args.clean)
    spec, stack = load_target(args)
    progress(f"gpufleet: running the program for stack '{stack}' offline (under Pulumi's mocks)...")
    files = render_artifacts(run_offline(spec, stack, target_region(args)))
    write_artifacts(files, out)
    print(f"wrote {len(files)} files to {out}")
    return EXIT_OK


def register(commands) -> None:
    parser = commands.add_parser("render", help="write every generated artifact into a directory")
    add_target_arguments(parser)
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="where to write: a new or empty directory (see --clean)"
    )
    parser.add_argument(
        "--clean", action="store_true", help="replace the contents of a non-empty --out directory"
    )
    parser.set_defaults(handler=run)
