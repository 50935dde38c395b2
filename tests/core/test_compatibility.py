"""Property-based tests of core.compatibility against the facts table."""

from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from core import compatibility as compat
from core.facts import load_facts

FACTS = load_facts()
CUDA = sorted(FACTS.cuda_driver_minimums, key=Version)
GPUS = sorted(FACTS.gpus)

drivers = st.builds(lambda a, b, c: f"{a}.{b}.{c:02d}", st.integers(380, 620), st.integers(0, 200), st.integers(0, 99))


@given(st.sampled_from(CUDA), drivers)
def test_strict_matches_the_table(cuda, driver):
    floor = FACTS.cuda_driver_minimums[cuda]
    assert compat.cuda_on_driver(cuda, driver).compatible == (Version(driver) >= floor)


@given(st.sampled_from(CUDA), drivers)
def test_minor_version_compat_only_widens_and_respects_the_major_floor(cuda, driver):
    strict = compat.cuda_on_driver(cuda, driver).compatible
    relaxed = compat.cuda_on_driver(cuda, driver, minor_version_compat=True).compatible
    assert strict <= relaxed
    major = int(cuda.split(".")[0])
    floor = FACTS.minor_version_floors.get(major)
    if relaxed and not strict:
        assert floor is not None and Version(driver) >= floor


@given(st.sampled_from(CUDA), st.sampled_from(CUDA), drivers)
def test_newer_cuda_never_needs_an_older_driver(a, b, driver):
    older, newer = sorted([a, b], key=Version)
    if compat.cuda_on_driver(newer, driver).compatible:
        assert compat.cuda_on_driver(older, driver).compatible


@given(st.sampled_from(GPUS), drivers)
def test_driver_floor_per_gpu(model, driver):
    gpu = FACTS.gpus[model]
    last_branch = gpu.architecture.last_driver_branch
    supported = last_branch is None or Version(driver).release[0] <= last_branch
    assert compat.driver_on_gpu(gpu, driver).compatible == (Version(driver) >= gpu.driver_floor and supported)


@given(st.sampled_from(GPUS), st.sampled_from(CUDA))
def test_cuda_major_against_architecture(model, cuda):
    gpu = FACTS.gpus[model]
    limit = gpu.architecture.max_cuda_major
    expected = limit is None or int(cuda.split(".")[0]) <= limit
    assert compat.cuda_on_gpu(gpu, cuda).compatible == expected


@given(st.sampled_from(sorted(FACTS.instance_types)), st.sampled_from(sorted({p for g in FACTS.gpus.values() if g.mig for ps in g.mig.profiles_by_memory_gib.values() for p in ps})), drivers)
def test_mig_needs_capable_gpu_matching_profile_and_floor(name, profile, driver):
    itype = FACTS.instance_types[name]
    verdict = compat.mig_on(itype.gpu, profile, driver, itype)
    expected = itype.gpu.mig is not None and profile in itype.mig_profiles and Version(driver) >= itype.gpu.mig.driver_floor
    assert verdict.compatible == expected
    assert verdict.reasons


def test_b200_below_floor_is_incompatible():
    verdict = compat.check(FACTS.gpus["B200"], "565.57.01")
    assert not verdict.compatible and any("570.133.20" in r for r in verdict.reasons)


def test_versions_compare_numerically_not_as_strings():
    assert compat.cuda_on_driver("12.8", "570.133.20").compatible  # "570.133" < "570.26" as strings
    assert not compat.cuda_on_driver("12.8", "570.9").compatible


def test_open_kernel_modules_turing_and_newer_only():
    assert not compat.open_kernel_modules_on(FACTS.gpus["V100"], True).compatible
    assert compat.open_kernel_modules_on(FACTS.gpus["T4"], True).compatible
    assert compat.open_kernel_modules_on(FACTS.gpus["V100"], False).compatible


def test_fabric_manager_on_nvswitch_types():
    assert not compat.fabric_manager(FACTS.instance_types["p5.48xlarge"], "570.133.20", enabled=False).compatible
    assert compat.fabric_manager(FACTS.instance_types["p5.4xlarge"], enabled=False).compatible
    assert "fabric manager" in compat.fabric_manager(FACTS.instance_types["p4d.24xlarge"]).reasons[0]


def test_unknown_cuda_and_bad_versions_raise():
    import pytest

    with pytest.raises(compat.UnknownFact):
        compat.cuda_on_driver("12.7", "570.133.20")
    with pytest.raises(compat.UnknownFact):
        compat.parse_version("five")
