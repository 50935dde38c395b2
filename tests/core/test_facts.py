"""The facts file: complete for the families gpu-fleet supports, typed, and consistent."""

from __future__ import annotations

import pytest

from core.facts import NvidiaVersion, load_facts

FAMILIES = ["g4dn", "g5", "g6", "g6e", "p3", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_in_the_catalog(family):
    assert [t for t in load_facts().instance_types.values() if t.family == family]


def test_versions_compare_numerically_and_print_as_nvidia_writes_them():
    floor = load_facts().gpu("l4").driver_floor
    assert str(floor) == "520.61.05"
    assert NvidiaVersion("520.61.05") < NvidiaVersion("520.61.10") < NvidiaVersion("525.60.13")


def test_cuda_table_rises_with_the_toolkit():
    table = load_facts().cuda_driver_minimums
    ordered = sorted(table, key=lambda c: tuple(int(x) for x in c.split(".")))
    drivers = [table[c] for c in ordered]
    assert drivers == sorted(drivers)


def test_nvswitch_and_mig_facts():
    facts = load_facts()
    assert facts.instance_type("p5.48xlarge").nvswitch and not facts.instance_type("p5.4xlarge").nvswitch
    assert facts.instance_type("p4d.24xlarge").mig_profiles[0] == "1g.5gb"
    assert facts.instance_type("p4de.24xlarge").mig_profiles[-1] == "7g.80gb"
    assert facts.instance_type("g5.xlarge").mig_profiles == ()
    assert str(facts.gpu("B200").driver_floor) == "570.133.20"


def test_gpu_lookup_is_case_insensitive():
    assert load_facts().gpu("a10g").model == "A10G"
    assert load_facts().gpu("H9000") is None


def test_every_table_names_its_source_and_date():
    for name, source in load_facts().sources.items():
        assert source.source and source.read, name
