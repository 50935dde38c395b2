"""The GPU facts (catalog, driver/CUDA matrix, prices), read once from core/data/gpu-facts.yaml.

Every part of gpu-fleet that needs to know a driver floor or an instance type asks this module;
nothing else hard-codes one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import yaml
from packaging.version import Version

from .assets import FACTS_FILE


class NvidiaVersion(Version):
    """A version that compares numerically but prints as NVIDIA writes it (520.61.05, not 520.61.5)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._text = str(text)

    def __str__(self) -> str:
        return self._text


@dataclass(frozen=True)
class Architecture:
    name: str
    order: int
    max_cuda_major: Optional[int]
    open_kernel_modules: bool
    requires_open_kernel_modules: bool
    last_driver_branch: Optional[int]
    """The newest driver branch that supports the architecture; None while no end is announced."""
    reports_fabric_state: bool
    """NVML reports the NVLink fabric state (Hopper and newer)."""


@dataclass(frozen=True)
class Mig:
    driver_floor: Version
    profiles_by_memory_gib: Mapping[int, Mapping[str, int]]
    """Memory size of the part -> profile -> how many GPU instances of it one GPU holds."""


@dataclass(frozen=True)
class Gpu:
    model: str
    architecture: Architecture
    compute_capability: str
    driver_floor: Version
    mig: Optional[Mig]


@dataclass(frozen=True)
class InstanceType:
    name: str
    family: str
    gpu: Gpu
    gpus: int
    gpu_memory_gib: int
    efa_interfaces: int
    nvswitch: bool
    on_demand_price: Optional[float]
    nvlsm: bool = False
    """NVLink5 systems: the fabric manager also runs the NVLink Subnet Manager."""
    instance_store: bool = False
    """The type has NVMe instance-store disks (a pool may build them into one RAID0 volume)."""

    @property
    def efa(self) -> bool:
        return self.efa_interfaces > 0

    @property
    def mig_profiles(self) -> tuple[str, ...]:
        if self.gpu.mig is None:
            return ()
        return tuple(self.gpu.mig.profiles_by_memory_gib.get(self.gpu_memory_gib, {}))

    def mig_instances(self, profile: str) -> int:
        """GPU instances of `profile` one GPU holds (0: not a profile of this part)."""
        if self.gpu.mig is None:
            return 0
        return self.gpu.mig.profiles_by_memory_gib.get(self.gpu_memory_gib, {}).get(profile, 0)


@dataclass(frozen=True)
class Source:
    source: str
    read: str


@dataclass(frozen=True)
class Prices:
    source: Source
    region: str
    currency: str
    spot_discount_estimate: float


@dataclass(frozen=True)
class Advisory:
    """A security fix in the NVIDIA Container Toolkit: releases below `fixed` are vulnerable."""

    cve: str
    fixed: Version
    bulletin: int
    summary: str

    @property
    def url(self) -> str:
        return f"https://nvidia.custhelp.com/app/answers/detail/a_id/{self.bulletin}"


@dataclass(frozen=True)
class Software:
    device_plugin_image: str
    device_plugin_version: str
    dcgm_exporter_image: str
    dcgm_exporter_version: str
    container_toolkit_version: str
    driver_version: str
    kueue_image: str
    kueue_version: str
    karpenter_image: str
    karpenter_version: str


@dataclass(frozen=True)
class EksRegistries:
    """AWS's registries of EKS add-on images, one per region."""

    account: str
    accounts: Mapping[str, str]
    """Regions whose registry is in another account than `account`."""

    def host(self, region: str) -> str:
        """The region's registry (China's regions are under amazonaws.com.cn)."""
        domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"{self.accounts.get(region, self.account)}.dkr.ecr.{region}.{domain}"

    def is_eks_registry(self, host: str) -> bool:
        """Whether `host` is one of these registries, in any region."""
        match = _EKS_REGISTRY_HOST.fullmatch(host)
        return match is not None and self.host(match.group("region")) == host


_EKS_REGISTRY_HOST = re.compile(r"\d{12}\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-\d+)\.amazonaws\.com(\.cn)?")


@dataclass(frozen=True)
class Efa:
    """The AWS EFA device plugin's image and the EFA installer (pinned, with AWS's published checksum)."""

    device_plugin_repository: str
    device_plugin_version: str
    installer_version: str
    installer_sha256: str


@dataclass(frozen=True)
class EksAmis:
    """The EKS-optimized AL2023 AMI release Karpenter pools boot, and the Kubernetes versions it was built for."""

    release: str
    kubernetes_versions: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    cuda_driver_minimums: Mapping[str, Version]
    minor_version_floors: Mapping[int, Version]
    architectures: Mapping[str, Architecture]
    gpus: Mapping[str, Gpu]
    instance_types: Mapping[str, InstanceType]
    prices: Prices
    software: Software
    eks_registries: EksRegistries
    efa: Efa
    eks_amis: EksAmis
    toolkit_advisories: tuple[Advisory, ...]
    application_xids: tuple[int, ...]
    """XIDs a workload causes on a healthy GPU (NVIDIA's Xid catalog); every other XID is a hardware fault."""
    sources: Mapping[str, Source]

    def toolkit_advisories_open(self, version: Version) -> tuple[Advisory, ...]:
        """The advisories a toolkit release is not yet fixed for."""
        return tuple(a for a in self.toolkit_advisories if version < a.fixed)

    def efa_device_plugin_image(self, region: str) -> str:
        """The EFA device plugin's image in the region's EKS registry."""
        return f"{self.eks_registries.host(region)}/{self.efa.device_plugin_repository}:{self.efa.device_plugin_version}"

    def gpu(self, model: str) -> Optional[Gpu]:
        """A GPU by its NVIDIA/AWS name, case-insensitive (t4, A10G, h100...)."""
        return self._gpus_by_lower().get(model.lower())

    def instance_type(self, name: str) -> Optional[InstanceType]:
        return self.instance_types.get(name)

    def cuda_min_driver(self, cuda: str) -> Optional[Version]:
        return self.cuda_driver_minimums.get(_major_minor(cuda))

    def _gpus_by_lower(self) -> Mapping[str, Gpu]:
        return {name.lower(): gpu for name, gpu in self.gpus.items()}


def _major_minor(cuda: str) -> str:
    release = Version(cuda).release
    return f"{release[0]}.{release[1] if len(release) > 1 else 0}"


def _source(section: Mapping) -> Source:
    return Source(source=section["source"], read=str(section["read"]))


def parse_facts(raw: Mapping) -> Facts:
    """Builds typed facts from the parsed YAML document."""
    architectures = {
        name: Architecture(name=name, **values)
        for name, values in raw["architectures"].items()
        if name not in ("source", "read")
    }
    gpus = {}
    for model, values in raw["gpus"].items():
        if model in ("source", "read"):
            continue
        mig = values.get("mig")
        gpus[model] = Gpu(
            model=model,
            architecture=architectures[values["architecture"]],
            compute_capability=values["compute_capability"],
            driver_floor=NvidiaVersion(values["driver_floor"]),
            mig=None
            if mig is None
            else Mig(
                driver_floor=NvidiaVersion(mig["driver_floor"]),
                profiles_by_memory_gib={int(mem): dict(p) for mem, p in mig["profiles"].items()},
            ),
        )
    on_demand = raw["prices"]["on_demand"]
    instance_types = {}
    for family, fam in raw["instance_types"]["families"].items():
        for size, sz in fam["sizes"].items():
            name = f"{family}.{size}"
            instance_types[name] = InstanceType(
                name=name,
                family=family,
                gpu=gpus[fam["gpu"]],
                gpus=sz["gpus"],
                gpu_memory_gib=fam["gpu_memory_gib"],
                efa_interfaces=sz["efa_interfaces"],
                nvswitch=sz.get("nvswitch", fam.get("nvswitch", False)),
                nvlsm=fam.get("nvlsm", False),
                instance_store=bool(fam["instance_store"]),
                on_demand_price=on_demand.get(name),
            )
    prices = raw["prices"]
    return Facts(
        cuda_driver_minimums={
            cuda: NvidiaVersion(driver) for cuda, driver in raw["cuda_driver_minimums"]["table"].items()
        },
        minor_version_floors={
            int(major): NvidiaVersion(driver)
            for major, driver in raw["cuda_minor_version_compatibility"]["floors"].items()
        },
        architectures=architectures,
        gpus=gpus,
        instance_types=instance_types,
        prices=Prices(
            source=_source(prices),
            region=prices["region"],
            currency=prices["currency"],
            spot_discount_estimate=float(prices["spot_discount_estimate"]),
        ),
        software=Software(**{k: str(v) for k, v in raw["software"].items() if k not in ("source", "read")}),
        eks_registries=EksRegistries(account=raw["eks_registries"]["account"], accounts=raw["eks_registries"]["accounts"]),
        efa=Efa(**{k: v for k, v in raw["efa"].items() if k not in ("source", "read")}),
        eks_amis=EksAmis(
            release=raw["eks_amis"]["release"],
            kubernetes_versions=tuple(str(v) for v in raw["eks_amis"]["kubernetes_versions"]),
        ),
        toolkit_advisories=tuple(
            Advisory(a["cve"], Version(a["fixed"]), int(a["bulletin"]), a["summary"])
            for a in raw["container_toolkit_advisories"]["advisories"]
        ),
        application_xids=tuple(int(x) for x in raw["xid_errors"]["application"]),
        sources={
            key: _source(section)
            for key, section in raw.items()
            if isinstance(section, Mapping) and "source" in section
        },
    )


@functools.lru_cache(maxsize=None)
def load_facts(path: Path = FACTS_FILE) -> Facts:
    with open(path, encoding="utf-8") as handle:
        return parse_facts(yaml.safe_load(handle))
