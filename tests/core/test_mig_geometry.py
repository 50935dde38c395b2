"""MIG geometry (core/mig.py) against NVIDIA's published geometries.

Sources: NVIDIA MIG user guide, "Supported MIG Profiles" (docs.nvidia.com/datacenter/tesla/mig-user-guide/
supported-mig-profiles.html): the A100-SXM4-40GB table's "Fraction of Memory" column (1g.5gb 1/8, 1g.10gb 2/8,
2g.10gb 2/8, 3g.20gb 4/8, 4g.20gb 4/8, 7g.40gb full) and "Number of Instances Available"; NVIDIA/mig-parted
pkg/mig/builder/balanced_test.go: the all-balanced geometry of every 7-slice GPU (2 x 1g + 1 x 2g + 1 x 3g),
which NVIDIA's MIG manager applies, so it must fit.
"""

from __future__ import annotations

import pytest

from core import mig
from core.facts import load_facts

FACTS = load_facts()
A100_40 = FACTS.instance_type("p4d.24xlarge")

# mig-parted balanced_test.go expectedBalanced, for the parts AWS sells.
BALANCED = {
    "p4d.24xlarge": {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1},  # A100-40GB
    "p4de.24xlarge": {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1},  # A100-80GB
    "p5.48xlarge": {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1},  # H100-80GB
    "p5e.48xlarge": {"1g.18gb": 2, "2g.35gb": 1, "3g.71gb": 1},  # H200-141GB
    "p6-b200.48xlarge": {"1g.23gb": 2, "2g.45gb": 1, "3g.90gb": 1},  # B200-180GB
}


def expand(counts: dict[str, int]) -> list[str]:
    return [p for p, n in counts.items() for _ in range(n)]


def test_memory_fractions_are_the_guides():
    eighths = {p: mig.memory_slices(A100_40, p) for p in A100_40.mig_profiles}
    assert eighths == {"1g.5gb": 1, "1g.10gb": 2, "2g.10gb": 2, "3g.20gb": 4, "4g.20gb": 4, "7g.40gb": 8}


@pytest.mark.parametrize("itype", sorted(BALANCED))
def test_nvidias_balanced_geometry_fits(itype):
    assert mig.fits(FACTS.instance_type(itype), expand(BALANCED[itype]))


@pytest.mark.parametrize("itype", sorted(BALANCED))
def test_as_many_of_one_profile_as_the_guide_lists_fit_and_one_more_does_not(itype):
    part = FACTS.instance_type(itype)
    for profile in part.mig_profiles:
        assert mig.fits(part, mig.uniform(part, profile)), profile
        assert not mig.fits(part, [*mig.uniform(part, profile), profile]), profile


@pytest.mark.parametrize("geometry, ok", [
    (["4g.20gb", "3g.20gb"], True),  # the guide's 4-3 split: 4g at slice 0, 3g at 4
    (["2g.10gb", "2g.10gb", "2g.10gb", "1g.5gb"], True),
    (["4g.20gb", "2g.10gb", "1g.5gb"], True),
    (["4g.20gb", "4g.20gb"], False),  # 4g.20gb: one instance per GPU
    (["7g.40gb", "1g.5gb"], False),  # the whole GPU
    (["3g.20gb", "3g.20gb", "1g.5gb"], False),  # the two 3g take all 8 memory slices
    (["1g.10gb"] * 4 + ["1g.5gb"], False),  # 1g.10gb takes two memory slices
    (["9g.40gb"], False),
    ([], False),
])
def test_combinations_on_an_a100_40gb(geometry, ok):
    assert mig.fits(A100_40, geometry) is ok


@pytest.mark.parametrize("profile, profiles", [("3g.40gb", ()), (None, ("1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"))])
def test_the_config_label_names_the_geometry_and_reads_back(profile, profiles):
    label = mig.config_label(profile, profiles)
    assert label == ("all-3g.40gb" if profile else "custom-2x1g.10gb_1x2g.20gb_1x3g.40gb")
    assert mig.parse_config_label(label) == (profile, tuple(sorted(profiles)))
    assert len(label) <= 63


@pytest.mark.parametrize("value", ["all-disabled", "custom-", "custom-8x1g.5gb", "custom-1x1g.5gb;", "3g.40gb", ""])
def test_other_labels_name_no_geometry(value):
    assert mig.parse_config_label(value) == (None, ())


def test_a_pool_of_types_that_do_not_all_fit_the_list_has_no_geometry():
    catalog = [FACTS.instance_type("p5.48xlarge")]
    assert mig.pool_geometry(catalog, None, ["3g.40gb", "1g.10gb"]) == ("1g.10gb", "3g.40gb")
    assert mig.pool_geometry(catalog, None, ["3g.40gb", "3g.40gb", "1g.10gb"]) == ()
    assert mig.pool_geometry(catalog, "3g.40gb") == ("3g.40gb", "3g.40gb")
