"""gpufleet compat through the installed console script."""

import json

import pytest


def compat_json(gpufleet, *args):
    result = gpufleet("compat", *args, "--format", "json")
    return result, json.loads(result.stdout) if result.returncode != 2 else None


def test_b200_on_565_is_incompatible_and_says_why(gpufleet):
    result = gpufleet("compat", "--gpu", "B200", "--driver", "565.57.01")
    assert result.returncode == 1
    assert "NOT compatible" in result.stdout and "570.133.20" in result.stdout


def test_json_shape(gpufleet):
    result, report = compat_json(gpufleet, "--gpu", "b200", "--driver", "565.57.01")
    assert set(report) == {"compatible", "reasons"}
    assert report["compatible"] is False and any("570.133.20" in r for r in report["reasons"])


def test_compatible_says_why(gpufleet):
    result, report = compat_json(gpufleet, "--instance-type", "p5.48xlarge", "--driver", "570.133.20", "--cuda", "12.8")
    assert result.returncode == 0 and report["compatible"] is True
    assert any("fabric manager" in r for r in report["reasons"])


def test_minor_version_compat_flag(gpufleet):
    args = ("--gpu", "L4", "--driver", "550.54.14", "--cuda", "12.8")
    assert gpufleet("compat", *args).returncode == 1
    assert gpufleet("compat", *args, "--minor-version-compat").returncode == 0


def test_cuda_13_on_v100_is_incompatible(gpufleet):
    result, report = compat_json(gpufleet, "--instance-type", "p3.2xlarge", "--driver", "580.65.06", "--cuda", "13.0")
    assert result.returncode == 1 and any("Volta" in r for r in report["reasons"])


def test_mig_profile_for_the_memory_size(gpufleet):
    assert gpufleet("compat", "--instance-type", "p4d.24xlarge", "--driver", "570.133.20", "--mig-profile", "1g.5gb").returncode == 0
    assert gpufleet("compat", "--instance-type", "p4de.24xlarge", "--driver", "570.133.20", "--mig-profile", "1g.5gb").returncode == 1
    assert gpufleet("compat", "--gpu", "L4", "--driver", "570.133.20", "--mig-profile", "1g.10gb").returncode == 1


@pytest.mark.parametrize(
    "args, flag",
    [
        (("--gpu", "Z9", "--driver", "570.133.20"), "--gpu"),
        (("--instance-type", "p9.huge", "--driver", "570.133.20"), "--instance-type"),
        (("--gpu", "T4", "--driver", "new"), "--driver"),
        (("--gpu", "T4", "--driver", "570.133.20", "--cuda", "12.7"), "--cuda"),
        (("--gpu", "T4", "--driver", "570.133.20", "--cuda", "twelve"), "--cuda"),
    ],
)
def test_bad_input_exits_2_naming_the_flag(gpufleet, args, flag):
    result = gpufleet("compat", *args)
    assert result.returncode == 2 and flag in result.stderr and "Traceback" not in result.stderr


def test_gpu_or_instance_type_is_required(gpufleet):
    assert gpufleet("compat", "--driver", "570.133.20").returncode == 2


@pytest.mark.parametrize("driver, compatible", [("580.95.05", True), ("590.44.01", False), ("610.43.02", False)])
def test_v100_ends_with_the_r580_branch(gpufleet, driver, compatible):
    """NVIDIA: "The release 580 series will be the last to support GPUs based on the Maxwell, Pascal, and
    Volta architectures" (forums.developer.nvidia.com, Unix Graphics Feature Deprecation Schedule)."""
    result, report = compat_json(gpufleet, "--gpu", "V100", "--driver", driver)
    assert report["compatible"] is compatible and result.returncode == (0 if compatible else 1)
    if not compatible:
        assert any("R580 is the last driver branch that supports Volta" in r for r in report["reasons"])


@pytest.mark.parametrize("modules, compatible", [("open", True), ("proprietary", False)])
def test_blackwell_needs_the_open_kernel_modules(gpufleet, modules, compatible):
    """NVIDIA: "For cutting-edge platforms such as NVIDIA Grace Hopper or NVIDIA Blackwell, you must use the
    open-source GPU kernel modules. The proprietary drivers are unsupported on these platforms." (NVIDIA
    developer blog, NVIDIA Transitions Fully Towards Open-Source GPU Kernel Modules, 2024-07)."""
    result, report = compat_json(gpufleet, "--gpu", "B200", "--driver", "580.95.05", "--kernel-modules", modules)
    assert report["compatible"] is compatible
    if not compatible:
        assert any("proprietary kernel modules do not support B200" in r for r in report["reasons"])


def test_the_cuda_table_reaches_13_3(gpufleet):
    """CUDA 13.3 needs >= 610.43.02 (CUDA release notes, table 3; the 13.3 runfile bundles 610.43.02)."""
    assert gpufleet("compat", "--gpu", "H100", "--driver", "610.43.02", "--cuda", "13.3").returncode == 0
    assert gpufleet("compat", "--gpu", "H100", "--driver", "595.71.05", "--cuda", "13.3").returncode == 1


def test_a_mixed_geometry_is_checked_whole(gpufleet):
    """NVIDIA's balanced geometry for an H100 80GB fits one GPU (NVIDIA/mig-parted pkg/mig/builder/balanced_test.go);
    three 3g.40gb instances need 9 compute slices of 7 (MIG user guide, H100 profiles)."""
    fits = gpufleet("compat", "--instance-type", "p5.48xlarge", "--driver", "570.133.20",
                    "--mig-profiles", "1g.10gb,1g.10gb,2g.20gb,3g.40gb")
    assert fits.returncode == 0 and "fit on one GPU of p5.48xlarge" in fits.stdout, fits.stdout
    too_big = gpufleet("compat", "--instance-type", "p5.48xlarge", "--driver", "570.133.20",
                       "--mig-profiles", "3g.40gb,3g.40gb,3g.40gb")
    assert too_big.returncode == 1 and "do not fit on one GPU" in too_big.stdout, too_big.stdout


def test_mig_profiles_must_be_profile_names(gpufleet):
    bad = gpufleet("compat", "--instance-type", "p5.48xlarge", "--driver", "570.133.20", "--mig-profiles", "1g.10gb,$(id)")
    assert bad.returncode == 2 and "--mig-profiles: '$(id)' is not a MIG profile" in bad.stderr, bad.stderr
    both = gpufleet("compat", "--gpu", "H100", "--driver", "570.133.20", "--mig-profile", "1g.10gb",
                    "--mig-profiles", "1g.10gb")
    assert both.returncode == 2
