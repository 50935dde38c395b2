"""gpufleet compat: does this driver (and CUDA version) work on this GPU or instance type, and why."""

from __future__ import annotations

import argparse

from core import compatibility as compat
from core.facts import load_facts
from core.mig import PROFILE as MIG_PROFILE

from ..targets import EXIT_OK, EXIT_VIOLATION, UsageError, add_format_argument, emit


def _target(args: argparse.Namespace):
    facts = load_facts()
    if args.instance_type:
        itype = facts.instance_type(args.instance_type)
        if itype is None:
            raise UsageError(f"--instance-type: unknown GPU instance type '{args.instance_type}'")
        return itype.gpu, itype
    gpu = facts.gpu(args.gpu)
    if gpu is None:
        raise UsageError(f"--gpu: unknown GPU model '{args.gpu}' (models: {', '.join(facts.gpus)})")
    return gpu, None


def _parsed(value, flag: str, what: str):
    try:
        return compat.parse_version(value, what)
    except compat.UnknownFact as error:
        raise UsageError(f"{flag}: {error}") from None


def _profiles(value: str | None) -> tuple[str, ...]:
    """--mig-profiles: a comma-separated list, each entry a MIG profile name (what migProfiles takes)."""
    if value is None:
        return ()
    profiles = tuple(p.strip() for p in value.split(","))
    bad = [p for p in profiles if not MIG_PROFILE.fullmatch(p)]
    if bad or not profiles:
        raise UsageError(f"--mig-profiles: {', '.join(map(repr, bad)) or 'nothing'} is not a MIG profile "
                         "(<n>g.<m>gb, e.g. 1g.10gb,1g.10gb,2g.20gb,3g.40gb)")
    return profiles


def run(args: argparse.Namespace) -> int:
    gpu, itype = _target(args)
    driver = _parsed(args.driver, "--driver", "driver")
    cuda = None
    if args.cuda is not None:
        cuda = _parsed(args.cuda, "--cuda", "CUDA")
        try:
            compat.cuda_min_driver(cuda)
        except compat.UnknownFact as error:
            raise UsageError(f"--cuda: {error}") from None
    try:
        verdict = compat.check(
            gpu, driver, cuda, args.minor_version_compat, instance_type=itype, mig_profile=args.mig_profile,
            open_kernel_modules=None if args.kernel_modules is None else args.kernel_modules == "open",
            mig_profiles=_profiles(args.mig_profiles),
        )
    except compat.UnknownFact as error:
        raise UsageError(str(error)) from None
    target = itype.name if itype else gpu.model
    subject = f"driver {driver}" + (f" with CUDA {cuda}" if cuda else "")
    head = f"{subject} on {target}: {'compatible' if verdict.compatible else 'NOT compatible'}"
    text = "\n".join([head, *(f"  - {reason}" for reason in verdict.reasons)]) + "\n"
    emit(verdict.as_dict(), text, args.format)
    return EXIT_OK if verdict.compatible else EXIT_VIOLATION


def register(commands) -> None:
    parser = commands.add_parser("compat", help="driver / CUDA / GPU compatibility, from the facts file")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--gpu", metavar="MODEL", help="T4, A10G, L4, L40S, V100, A100, H100, H200, B200")
    target.add_argument("--instance-type", metavar="TYPE", help="an AWS GPU instance type such as p5.48xlarge")
    parser.add_argument("--driver", required=True, metavar="VERSION", help="NVIDIA driver, e.g. 570.133.20")
    parser.add_argument("--cuda", metavar="VERSION", help="CUDA version of the workload, e.g. 12.8")
    mig = parser.add_mutually_exclusive_group()
    mig.add_argument("--mig-profile", metavar="PROFILE", help="also check a MIG profile such as 1g.10gb")
    mig.add_argument(
        "--mig-profiles", metavar="LIST",
        help="also check the MIG instances of one GPU under migStrategy mixed, e.g. 1g.10gb,1g.10gb,2g.20gb,3g.40gb "
        "(each exists on the part, and together they fit; needs --instance-type for the fit)",
    )
    parser.add_argument(
        "--minor-version-compat", action="store_true", help="accept NVIDIA minor-version compatibility for CUDA"
    )
    parser.add_argument(
        "--kernel-modules", choices=["open", "proprietary"], help="also check NVIDIA's open or proprietary kernel modules"
    )
    add_format_argument(parser)
    parser.set_defaults(handler=run)
