"""Driver / CUDA / GPU compatibility, decided from the facts file alone.

Pure functions shared by the policy pack and `gpufleet compat`. Each check returns a Verdict:
`compatible` and the reasons, as sentences a person can act on. Versions are compared with
packaging (facts.NvidiaVersion), never as strings; no driver floor is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from packaging.version import InvalidVersion, Version

from . import mig
from .facts import Facts, Gpu, InstanceType, NvidiaVersion, load_facts

VersionLike = Union[str, Version]


class UnknownFact(ValueError):
    """An input the facts do not know (a GPU, instance type, CUDA release) or a malformed version."""


@dataclass(frozen=True)
class Finding:
    ok: bool
    message: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of one or more checks: compatible, and why (the failures if any, else the passes)."""

    findings: tuple[Finding, ...]

    @property
    def compatible(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def reasons(self) -> list[str]:
        failures = [f.message for f in self.findings if not f.ok]
        return failures if failures else [f.message for f in self.findings]

    def __bool__(self) -> bool:
        return self.compatible

    def __add__(self, other: "Verdict") -> "Verdict":
        return Verdict(self.findings + other.findings)

    @staticmethod
    def of(findings: Iterable[Finding]) -> "Verdict":
        return Verdict(tuple(findings))

    def as_dict(self) -> dict:
        return {"compatible": self.compatible, "reasons": self.reasons}


def _ok(message: str) -> Verdict:
    return Verdict((Finding(True, message),))


def _fail(message: str) -> Verdict:
    return Verdict((Finding(False, message),))


def parse_version(value: VersionLike, what: str = "driver") -> NvidiaVersion:
    """A version as NVIDIA writes it; UnknownFact naming `what` when it is not one."""
    if isinstance(value, NvidiaVersion):
        return value
    try:
        return NvidiaVersion(str(value).strip())
    except InvalidVersion:
        raise UnknownFact(f"'{value}' is not a {what} version") from None


def cuda_release(cuda: VersionLike) -> tuple[int, int]:
    release = parse_version(cuda, "CUDA").release
    return release[0], release[1] if len(release) > 1 else 0


def _facts(facts: Optional[Facts]) -> Facts:
    return facts if facts is not None else load_facts()


def cuda_min_driver(cuda: VersionLike, facts: Optional[Facts] = None) -> NvidiaVersion:
    major, minor = cuda_release(cuda)
    floor = _facts(facts).cuda_min_driver(f"{major}.{minor}")
    if floor is None:
        known = ", ".join(_facts(facts).cuda_driver_minimums)
        raise UnknownFact(f"unknown CUDA version '{cuda}' (known: {known})")
    return floor


def cuda_on_driver(
    cuda: VersionLike, driver: VersionLike, minor_version_compat: bool = False, facts: Optional[Facts] = None
) -> Verdict:
    """Whether CUDA `cuda` runs on `driver`: the strict toolkit table, or NVIDIA's minor-version
    compatibility floor of the CUDA major when `minor_version_compat` is on."""
    facts = _facts(facts)
    driver_v = parse_version(driver)
    strict = cuda_min_driver(cuda, facts)
    if driver_v >= strict:
        return _ok(f"CUDA {cuda} needs driver >= {strict}; {driver_v} meets it")
    major, _ = cuda_release(cuda)
    floor = facts.minor_version_floors.get(major)
    if minor_version_compat and floor is not None and driver_v >= floor:
        return _ok(
            f"CUDA {cuda} runs on {driver_v} through minor-version compatibility (CUDA {major}.x needs >= {floor}; "
            f"features newer than the driver and PTX JIT may fail)"
        )
    message = f"CUDA {cuda} needs driver >= {strict}, got {driver_v}: upgrade the driver to {strict} or later"
    if floor is not None and not minor_version_compat and driver_v >= floor:
        message += f" (or allow minor-version compatibility: CUDA {major}.x runs on >= {floor} with limits)"
    return _fail(message)


def driver_on_gpu(gpu: Gpu, driver: VersionLike) -> Verdict:
    """The driver is at or above the GPU's floor, and of a branch that still supports its architecture."""
    driver_v = parse_version(driver)
    if driver_v < gpu.driver_floor:
        return _fail(f"{gpu.model} needs driver >= {gpu.driver_floor}, got {driver_v}: upgrade the driver to {gpu.driver_floor} or later")
    floor = Finding(True, f"{gpu.model} needs driver >= {gpu.driver_floor}; {driver_v} meets it")
    arch, branch = gpu.architecture, driver_v.release[0]
    if arch.last_driver_branch is not None and branch > arch.last_driver_branch:
        return Verdict.of([floor, Finding(False, (
            f"R{arch.last_driver_branch} is the last driver branch that supports {arch.name} GPUs ({gpu.model}), "
            f"got {driver_v} (R{branch}): keep the pool on an R{arch.last_driver_branch} driver or move it to a newer GPU"))])
    return Verdict.of([floor])


def cuda_on_gpu(gpu: Gpu, cuda: VersionLike) -> Verdict:
    """Whether CUDA `cuda` still targets the GPU's architecture (CUDA 13 dropped Volta)."""
    major, _ = cuda_release(cuda)
    arch = gpu.architecture
    if arch.max_cuda_major is not None and major > arch.max_cuda_major:
        return _fail(
            f"CUDA {cuda} does not support {gpu.model} ({arch.name}): CUDA {arch.max_cuda_major}.x is the last "
            f"for {arch.name}; build the image with CUDA {arch.max_cuda_major}.x or use a newer GPU"
        )
    return _ok(f"CUDA {cuda} supports {gpu.model} ({arch.name})")


def mig_profiles(gpu: Gpu, instance_type: Optional[InstanceType] = None) -> tuple[str, ...]:
    """MIG profiles for the instance type's memory size, or for any size of the GPU."""
    if gpu.mig is None:
        return ()
    if instance_type is not None:
        return instance_type.mig_profiles
    seen: list[str] = []
    for profiles in gpu.mig.profiles_by_memory_gib.values():
        seen += [p for p in profiles if p not in seen]
    return tuple(seen)


def mig_on(
    gpu: Gpu,
    profile: Optional[str],
    driver: Optional[VersionLike],
    instance_type: Optional[InstanceType] = None,
    profiles: Sequence[str] = (),
) -> Verdict:
    """MIG only on MIG-capable GPUs, with a profile (or a list of them, core.mig) that exists for the part and,
    for a list, fits on it together, on a driver >= the MIG floor."""
    where = instance_type.name if instance_type is not None else gpu.model
    if gpu.mig is None:
        return _fail(f"{where} ({gpu.model}) does not support MIG: use time-slicing or exclusive sharing, or a MIG-capable GPU (A100, H100, H200, B200)")
    findings = []
    valid = mig_profiles(gpu, instance_type)
    asked = sorted(set(profiles)) or ([profile] if profile is not None else [])
    if not asked:
        findings.append(Finding(False, f"MIG on {where} needs a profile, one of {', '.join(valid)}"))
    unknown = [p for p in asked if p not in valid]
    for p in unknown:
        findings.append(Finding(False, f"MIG profile '{p}' does not exist on {where}: use one of {', '.join(valid)}"))
    if asked and not unknown:
        findings.append(Finding(True, f"MIG profile{'s' if len(asked) > 1 else ''} {', '.join(asked)} exist{'' if len(asked) > 1 else 's'} on {where}"))
        if profiles and instance_type is not None:
            geometry = ", ".join(sorted(profiles))
            if mig.fits(instance_type, profiles):
                findings.append(Finding(True, f"MIG instances {geometry} fit on one GPU of {where}"))
            else:
                findings.append(Finding(False, f"MIG instances {geometry} do not fit on one GPU of {where} (7 compute and 8 "
                                               "memory slices, NVIDIA's placements): drop or shrink some"))
    if driver is not None:
        driver_v = parse_version(driver)
        floor = gpu.mig.driver_floor
        if driver_v < floor:
            findings.append(Finding(False, f"MIG on {gpu.model} needs driver >= {floor}, got {driver_v}: upgrade the driver"))
        else:
            findings.append(Finding(True, f"MIG on {gpu.model} needs driver >= {floor}; {driver_v} meets it"))
    return Verdict.of(findings)


def fabric_manager(instance_type: InstanceType, driver: Optional[VersionLike] = None, enabled: Optional[bool] = None) -> Verdict:
    """NVSwitch systems need NVIDIA fabric manager, at exactly the driver's version."""
    if not instance_type.nvswitch:
        return _ok(f"{instance_type.name} has no NVSwitch: no fabric manager needed")
    version = f" {parse_version(driver)}" if driver is not None else ""
    if enabled is False:
        return _fail(f"{instance_type.name} has NVSwitch: enable NVIDIA fabric manager{version} (same version as the driver)")
    return _ok(f"{instance_type.name} has NVSwitch: NVIDIA fabric manager{version} is required (same version as the driver)")


def open_kernel_modules_on(gpu: Gpu, open_modules: bool) -> Verdict:
    arch = gpu.architecture
    if open_modules and not arch.open_kernel_modules:
        return _fail(f"open kernel modules do not support {gpu.model} ({arch.name}): use the proprietary modules (Turing and newer only)")
    if not open_modules and arch.requires_open_kernel_modules:
        return _fail(f"the proprietary kernel modules do not support {gpu.model} ({arch.name}): use the open kernel modules")
    if open_modules:
        return _ok(f"open kernel modules support {gpu.model} ({arch.name})")
    return _ok(f"proprietary kernel modules support {gpu.model}")


def check(
    gpu: Gpu,
    driver: VersionLike,
    cuda: Optional[VersionLike] = None,
    minor_version_compat: bool = False,
    instance_type: Optional[InstanceType] = None,
    mig_profile: Optional[str] = None,
    open_kernel_modules: Optional[bool] = None,
    facts: Optional[Facts] = None,
    mig_profiles: Sequence[str] = (),
) -> Verdict:
    """Every rule that applies to one GPU (or instance type), driver and optional CUDA version; a MIG profile,
    or the instances of one GPU under migStrategy mixed (mig_profiles), where given."""
    verdict = driver_on_gpu(gpu, driver)
    if cuda is not None:
        verdict += cuda_on_driver(cuda, driver, minor_version_compat, facts) + cuda_on_gpu(gpu, cuda)
    if mig_profile is not None or mig_profiles:
        verdict += mig_on(gpu, mig_profile, driver, instance_type, profiles=mig_profiles)
    if open_kernel_modules is not None:
        verdict += open_kernel_modules_on(gpu, open_kernel_modules)
    if instance_type is not None:
        verdict += fabric_manager(instance_type, driver)
    return verdict
