"""Driver, CUDA and GPU compatibility: tenants' CUDA on pool drivers, drivers on GPUs, MIG."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from pulumi_policy import Severity

from core import compatibility as compat
from core import names
from core.facts import load_facts

from . import resource_types
from .builders import pool_policy, schema, stack_policy
from .observed_fleet import Fleet, Pool, tenant_pools
from .props import user_data_vars


def _verdict(run) -> Optional[compat.Verdict]:
    """A verdict, or None when an input is not a version the facts know (other policies say so)."""
    try:
        return run()
    except compat.UnknownFact:
        return None


# --- driver-supports-cuda ---------------------------------------------------------------


def _check_driver_supports_cuda(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    minor = bool(opts.get("allowMinorVersionCompatibility", False))
    for tenant in fleet.tenants:
        for cuda in tenant.cuda_versions:
            try:
                compat.cuda_min_driver(cuda)
            except compat.UnknownFact as error:
                yield tenant.urn, f"tenant '{tenant.name}': {error}; declare a CUDA version from the facts table"
                continue
            for pool in tenant_pools(fleet, tenant):
                if pool.driver is None:
                    continue  # unknown during preview or not labelled: nothing to judge
                verdict = _verdict(lambda: compat.cuda_on_driver(cuda, pool.driver, minor))
                if verdict is not None and not verdict.compatible:
                    yield tenant.urn, (
                        f"tenant '{tenant.name}' declares CUDA {cuda} but {pool.label} runs driver {pool.driver}: "
                        + "; ".join(verdict.reasons)
                        + f", or drop CUDA {cuda} from the tenant's cudaVersions, or remove the pool from its pools"
                    )


driver_supports_cuda = stack_policy(
    name="driver-supports-cuda",
    description="Every CUDA version a tenant declares runs on the driver of every pool it may use.",
    check=_check_driver_supports_cuda,
    severity=Severity.HIGH,
    remediation_steps=(
        "Raise the pool's driver (drivers.version or nodePools[].driverVersion) to the CUDA release's minimum "
        "driver from core/data/gpu-facts.yaml, or build the tenant's images with an older CUDA, or set "
        "allowMinorVersionCompatibility if the images rely on NVIDIA minor-version compatibility."
    ),
    config_schema=schema(
        allowMinorVersionCompatibility={
            "type": "boolean",
            "default": False,
            "description": "Accept a driver that meets the CUDA major's minor-version compatibility floor "
            "(e.g. any 12.x on >= 525.60.13) instead of the strict per-release table.",
        }
    ),
)


# --- driver-supports-gpu ----------------------------------------------------------------


def _pool_driver_findings(pool: Pool) -> Iterable[str]:
    gpu = pool.gpu
    if gpu is None or pool.driver is None:
        return
    try:
        verdict = compat.driver_on_gpu(gpu, pool.driver)
    except compat.UnknownFact as error:
        yield f"{pool.label}: {error}; label gpufleet.io/driver-version with the pinned driver version"
        return
    if not verdict.compatible:
        yield f"{pool.label}: " + "; ".join(verdict.reasons)


def _kernel_module_findings(fleet: Fleet) -> Iterable[tuple[str, str]]:
    """The kernel modules a launch template's user data installs support the GPU it expects."""
    for template in fleet.of_type(resource_types.LAUNCH_TEMPLATE):
        found = user_data_vars(template.props)
        gpu = load_facts().gpu(str(found.get(names.GPU_MODEL_VAR, "")))
        open_modules = found.get(names.OPEN_MODULES_VAR)
        if gpu is None or not isinstance(open_modules, bool):
            continue
        verdict = compat.open_kernel_modules_on(gpu, open_modules)
        if not verdict.compatible:
            yield template.urn, f"launch template '{template.name}': " + "; ".join(verdict.reasons)


def _check_driver_supports_gpu(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    for pool in fleet.pools.values():
        for message in _pool_driver_findings(pool):
            yield pool.urn, message
    yield from _kernel_module_findings(fleet)
    for tenant in fleet.tenants:
        for pool in tenant_pools(fleet, tenant):
            gpu = pool.gpu
            if gpu is None:
                continue
            for cuda in tenant.cuda_versions:
                verdict = _verdict(lambda: compat.cuda_on_gpu(gpu, cuda))
                if verdict is not None and not verdict.compatible:
                    yield tenant.urn, f"tenant '{tenant.name}' on {pool.label}: " + "; ".join(verdict.reasons)


driver_supports_gpu = stack_policy(
    name="driver-supports-gpu",
    description="Each pool's driver meets its GPU's floor and is of a branch that still supports it, its kernel modules "
    "support it, and tenants' CUDA versions still support the pool's GPU.",
    check=_check_driver_supports_gpu,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "Set the pool's driver to at least the GPU's driver_floor in core/data/gpu-facts.yaml (e.g. B200 >= 570.133.20) "
        "and at most its architecture's last driver branch (V100: R580). Blackwell needs the open kernel modules "
        "(drivers.openKernelModules). For GPUs an architecture's last CUDA major covers (V100: CUDA 12), keep tenants "
        "that use the pool on that major."
    ),
)


# --- mig-capable-gpu --------------------------------------------------------------------


def _mig_findings(pool: Pool) -> Iterable[str]:
    if pool.sharing != "mig":
        return
    catalog = pool.catalog
    targets = catalog or ([None] if pool.gpu is not None else [])
    for itype in targets:
        gpu = itype.gpu if itype is not None else pool.gpu
        verdict = _verdict(lambda: compat.mig_on(gpu, pool.mig_profile, pool.driver, itype, pool.mig_profiles))
        if verdict is not None and not verdict.compatible:
            yield f"{pool.label}: " + "; ".join(verdict.reasons)


mig_capable_gpu = pool_policy(
    name="mig-capable-gpu",
    description="MIG sharing only on MIG-capable GPUs, with profiles that exist for the GPU's memory size (and, for a list, fit on one GPU together) and a driver at or above the MIG floor.",
    judge=_mig_findings,
    severity=Severity.HIGH,
    remediation_steps=(
        "Use sharing.mode mig only on A100/H100/H200/B200 instance types, with a migProfile listed for that "
        "type's GPU memory in core/data/gpu-facts.yaml (label nvidia.com/mig.config: all-<profile>), or migProfiles "
        "that fit on one GPU together (custom-<count>x<profile>_...); otherwise use time-slicing or exclusive."
    ),
)


POLICIES = [driver_supports_cuda, driver_supports_gpu, mig_capable_gpu]
