"""gpufleet pack: the policy pack as a self-contained folder for `pulumi policy publish`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..policy_pack import PACK_VIRTUALENV, pack_files
from ..render import check_out, write_artifacts
from ..targets import EXIT_OK


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_out(out, args.clean)
    files = pack_files(args.virtualenv)
    write_artifacts(files, out)
    print(f"wrote the policy pack ({len(files)} files) to {out}: pulumi policy publish {out}")
    return EXIT_OK


def register(commands) -> None:
    parser = commands.add_parser(
        "pack", help="write the policy pack as a self-contained folder (pulumi policy publish / --policy-pack)"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="where to write: a new or empty directory (see --clean)"
    )
    parser.add_argument(
        "--clean", action="store_true", help="replace the contents of a non-empty --out directory"
    )
    parser.add_argument(
        "--virtualenv",
        default=PACK_VIRTUALENV,
        metavar="PATH",
        help=f"the pack's virtualenv (default {PACK_VIRTUALENV!r}: made by the engine from requirements.txt, "
        "relative to DIR); an existing one must hold requirements.txt's packages",
    )
    parser.set_defaults(handler=run)
