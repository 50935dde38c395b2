"""`gpufleet plan` on prod's reserved pools: which pools are elastic, static and reserved, what the reservations
cost, and the warning before a Capacity Block ends while a tenant's quota depends on it (--as-of)."""

from __future__ import annotations

import json

import pytest

BEFORE_THE_BLOCK = "2026-12-01T00:00:00Z"
NEAR_ITS_END = "2027-01-05T00:00:00Z"


def column(lines: list[str], header: str, name: str, pool: str) -> str:
    """The value under `name` in the row of `pool` of the table whose header line starts with `header`."""
    head = next(i for i, line in enumerate(lines) if line.startswith(header) and name in line)
    row = next(line for line in lines[head + 2:] if line.startswith(pool + " "))
    return row[lines[head].index(name):].split()[0]


def test_the_pools_table_says_elastic_static_and_reserved(gpufleet):
    lines = gpufleet("plan", "--stack", "prod", "--as-of", BEFORE_THE_BLOCK).stdout.splitlines()
    got = {pool: (column(lines, "pool ", "capacity", pool), column(lines, "pool ", "scaling", pool))
           for pool in ("inference-l4", "inference-h100", "training-h100", "training-a100")}
    assert got == {"inference-l4": ("on-demand", "static"), "inference-h100": ("reserved", "static"),
                   "training-h100": ("reserved", "elastic"), "training-a100": ("spot", "elastic")}


def test_the_json_plan_reports_each_reservation(gpufleet):
    plan = json.loads(gpufleet("plan", "--stack", "prod", "--format", "json", "--as-of", BEFORE_THE_BLOCK).stdout)
    reservations = {r["pool"]: r for r in plan["reservations"]}
    assert sorted(reservations) == ["inference-h100", "training-h100"]
    block = reservations["training-h100"]
    assert (block["type"], block["state"], block["hours"]) == ("capacity-block", "scheduled", 672)
    assert block["warning"].startswith("the reservation starts 2026-12-14 11:30 UTC")
    assert block["dependentTenants"] == ["foundation-models"] and block["provisioner"] == "karpenter"
    odcr = reservations["inference-h100"]
    assert (odcr["type"], odcr["availabilityZone"], odcr["end"], odcr["warning"]) == ("odcr", "us-east-1a", None, None)
    cost = {p["name"]: p for p in plan["cost"]["pools"]}
    assert cost["training-h100"]["pricing"] == "reserved"
    assert cost["training-h100"]["reservation"]["total"] == pytest.approx(31.464 * 8 * 672, abs=0.01)


def test_the_plan_warns_days_before_the_block_ends(gpufleet):
    result = gpufleet("plan", "--stack", "prod", "--as-of", NEAR_ITS_END)
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stdout.splitlines() if line.startswith("WARNING ")]
    assert warning.startswith("WARNING training-h100: the reservation ends 2027-01-11 11:30 UTC, in 6.5 days")
    assert "foundation-models" in warning
    markdown = gpufleet("plan", "--stack", "prod", "--as-of", NEAR_ITS_END, "--format", "markdown").stdout
    assert "WARNING training-h100" in markdown


def test_a_bad_as_of_is_refused_with_status_2(gpufleet):
    result = gpufleet("plan", "--stack", "prod", "--as-of", "2027-01-05")
    assert result.returncode == 2 and "--as-of" in result.stderr and "has no time zone" in result.stderr
    assert "Traceback" not in result.stderr
