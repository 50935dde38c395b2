"""gpufleet tenancy: the tenancy a stack intends, checked live against an API server (exit 1 on a mismatch)."""

from __future__ import annotations

import argparse
import sys
from itertools import groupby

from core.plan import plan_fleet
from core.tenancy import VERBS

from ..kube import KubeClient
from ..targets import EXIT_OK, EXIT_VIOLATION, UsageError, add_format_argument, add_target_arguments, emit, load_target
from ..tenancy import Report, run_live
from ..text_table import table as text_table


def _verbs(cells: list[dict], key: str) -> str:
    allowed = [c["verb"] for c in cells if c[key]]
    if any(c[key] is None for c in cells):
        return "error"
    return ",".join(v for v in VERBS if v in allowed) or "-"


def access_rows(access: list[dict]) -> list[list[str]]:
    """One row per principal, namespace and resource: the verbs expected and allowed."""
    rows = []
    key = lambda c: (c["principal"], c["scope"], c["namespace"], c["resource"])  # noqa: E731
    for (principal, scope, namespace, resource), group in groupby(access, key=key):
        cells = list(group)
        where = f"{scope}:{namespace}" if namespace else scope
        mismatch = not all(c["ok"] for c in cells)
        rows.append([principal, where, resource, _verbs(cells, "expected"), _verbs(cells, "actual"),
                     "MISMATCH" if mismatch else "ok"])
    return rows


def tenancy_text(report: Report, show_all: bool) -> str:
    lines = [f"tenancy of stack {report.stack} on {report.server}", ""]
    lines.append("admission objects")
    for p in report.policies:
        lines.append(f"  {'ok' if p['ok'] else 'MISMATCH'}  {p['object']}" + (f": {p['message']}" if p["message"] else ""))
    rows = access_rows(report.access)
    shown = rows if show_all else [r for r in rows if r[-1] != "ok" or r[3] != "-"]
    lines += ["", f"access ({len(report.access)} SubjectAccessReviews"
              + ("" if show_all else "; rows where nothing is expected and nothing allowed left out, see --all") + ")"]
    lines.append(text_table(["principal", "namespace", "resource", "expected", "actual", ""], shown))
    lines += ["", f"admission probes (server-side dry run, {len(report.probes)} pods)"]
    probe_rows = [[p.namespace, p.probe, p.as_user, p.expected, p.actual, "ok" if p.ok else "MISMATCH"]
                  for p in report.probes]
    lines.append(text_table(["namespace", "probe", "as", "expected", "actual", ""], probe_rows))
    for p in report.probes:
        if not p.ok:
            lines.append(f"  MISMATCH {p.namespace}/{p.probe}: {p.message or 'admitted'}")
    verdict = "FAIL" if report.mismatches else "ok"
    lines += ["", f"{verdict}: {report.mismatches} mismatches "
              f"({len(report.access)} access reviews, {len(report.probes)} probes, {len(report.policies)} objects)"]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    spec, stack = load_target(args)
    if not spec.tenants:
        raise UsageError(f"stack {stack} has no tenants: nothing to check")
    client = KubeClient.from_kubeconfig(args.kubeconfig, args.context)
    progress = (lambda text: print(text, file=sys.stderr)) if args.format == "text" and args.verbose else (lambda _: None)
    report = run_live(client, plan_fleet(spec), stack, progress)
    emit(report.as_dict(), tenancy_text(report, args.all), args.format)
    return EXIT_VIOLATION if report.mismatches else EXIT_OK


def register(commands) -> None:
    parser = commands.add_parser(
        "tenancy", help="check a deployed stack's tenancy live: RBAC access reviews and admission dry runs"
    )
    add_target_arguments(parser)
    parser.add_argument("--kubeconfig", required=True, metavar="FILE", help="kubeconfig of the cluster to check")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: its current-context)")
    parser.add_argument("--all", action="store_true", help="text: list every access row, also the empty ones")
    parser.add_argument("--verbose", action="store_true", help="progress on stderr")
    add_format_argument(parser)
    parser.set_defaults(handler=run)
