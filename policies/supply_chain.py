"""What runs: pinned driver, toolkit and image versions, images from allowed registries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from packaging.version import InvalidVersion, Version
from pulumi_policy import Severity

from core import names
from core.facts import load_facts

from . import resource_types
from .builders import POOL_RESOURCES, resource_policy, schema
from .observed_fleet import pools_of_resource
from .props import get, items, pending, user_data_vars

UNPINNED_TAGS = frozenset({"latest", "stable", "main", "master", "edge", "nightly"})
PINNED_VARS = (names.DRIVER_VERSION_VAR, names.TOOLKIT_VERSION_VAR)


@dataclass(frozen=True)
class ImageRef:
    text: str
    registry: str
    repository: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def pinned(self) -> bool:
        return self.digest is not None or (self.tag is not None and self.tag.lower() not in UNPINNED_TAGS)


def parse_image(text: str) -> ImageRef:
    """Splits an image reference the way container runtimes do (docker.io when no registry is named)."""
    rest, _, digest = text.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
    repository, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
    return ImageRef(text, registry, repository if colon else path, tag or None, digest or None)


def pod_spec(resource_type: str, props: Any) -> Any:
    if resource_type == resource_types.POD:
        return get(props, "spec")
    if resource_type == resource_types.CRON_JOB:
        return get(props, "spec", "jobTemplate", "spec", "template", "spec")
    return get(props, "spec", "template", "spec")


def container_images(resource_type: str, props: Any) -> Iterable[tuple[str, str]]:
    """(container name, image) of every container and init container with a known image."""
    spec = pod_spec(resource_type, props)
    for field in ("initContainers", "containers"):
        for container in items(spec, field):
            image = get(container, "image")
            if isinstance(image, str):
                yield str(get(container, "name") or "?"), image


def exact_version(value: Any) -> bool:
    try:
        return len(Version(str(value)).release) >= 2
    except InvalidVersion:
        return False


def _check_versions(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    if resource_type in resource_types.WORKLOADS:
        for container, image in container_images(resource_type, props):
            if not parse_image(image).pinned:
                yield f"container '{container}' runs image '{image}' without a version: pin a release tag or digest (e.g. :v0.20.0)"
        return
    if resource_type == resource_types.LAUNCH_TEMPLATE:
        found = user_data_vars(props)
        for var in PINNED_VARS:
            if var in found and not exact_version(found[var]):
                yield f"user data installs {var}={found[var]!r}: pin an exact version such as 570.133.20 / 1.19.1"
        return
    for pool in pools_of_resource(resource_type, props, urn, name):
        if not pool.is_gpu:
            continue
        if pool.driver is None:
            labels_unknown = pool.source == "nodegroup" and pending(props, "labels")
            ami_pinned = pool.source == "nodegroup" and get(props, "releaseVersion") is not None
            if not (labels_unknown or ami_pinned):
                yield f"{pool.label} does not name its driver: label it {names.DRIVER_LABEL}=<pinned driver version>"
        elif not exact_version(pool.driver):
            yield f"{pool.label} driver '{pool.driver}' is not a pinned version: set an exact driver such as 570.133.20"


versions_pinned = resource_policy(
    name="versions-pinned",
    description="Driver, container toolkit, device plugin and exporter versions and all images are pinned (no 'latest').",
    types=[*POOL_RESOURCES, resource_types.LAUNCH_TEMPLATE, *resource_types.WORKLOADS],
    check=_check_versions,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Pin drivers.version, drivers.containerToolkit, devicePlugin.version and monitoring.exporterVersion to exact "
        "releases; reference images by release tag or digest, never latest."
    ),
)




def _check_toolkit(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    found = user_data_vars(props)
    version = found.get(names.TOOLKIT_VERSION_VAR)
    if found.get(names.INSTALL_VAR) is False or version is None or not exact_version(version):
        return  # the image's own toolkit (drivers.install ami), or unpinned: versions-pinned reports that
    facts = load_facts()
    open_advisories = facts.toolkit_advisories_open(Version(str(version)))
    if open_advisories:
        floor = max(a.fixed for a in open_advisories)
        listed = "; ".join(f"{a.cve} (fixed in {a.fixed}: {a.summary}, {a.url})" for a in open_advisories)
        yield f"user data installs NVIDIA Container Toolkit {version}, open to {listed}: set drivers.containerToolkit to {floor} or later"


container_toolkit_patched = resource_policy(
    name="container-toolkit-patched",
    description="Nodes install an NVIDIA Container Toolkit release with every known container escape fixed (facts: container_toolkit_advisories).",
    types=[resource_types.LAUNCH_TEMPLATE],
    check=_check_toolkit,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "Set drivers.containerToolkit to the release core/data/gpu-facts.yaml names as fixed for every advisory "
        "(the default is such a release); a crafted image can otherwise escape to the node as root."
    ),
)


def registry_allowed(image: ImageRef, allowed: Iterable[str]) -> bool:
    location = f"{image.registry}/{image.repository}"
    return any(location == a or location.startswith(a.rstrip("/") + "/") for a in allowed)


# EKS's own add-on images (the EFA device plugin) come from AWS's registry of the stack's region.
EKS_IMAGE_PATH = "eks/"


def eks_image(image: ImageRef) -> bool:
    return load_facts().eks_registries.is_eks_registry(image.registry) and image.repository.startswith(EKS_IMAGE_PATH)


def _check_registries(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    allowed = [str(a) for a in opts.get("allowedRegistries", resource_types.DEFAULT_ALLOWED_REGISTRIES)]
    eks = bool(opts.get("allowEksRegistries", True))
    for container, image in container_images(resource_type, props):
        ref = parse_image(image)
        if not registry_allowed(ref, allowed) and not (eks and eks_image(ref)):
            yield (
                f"container '{container}' pulls '{image}' from {ref.registry}, not an allowed registry "
                f"({', '.join(allowed)}): mirror the image there or add the registry to allowedRegistries"
            )


images_from_allowed_registries = resource_policy(
    name="images-from-allowed-registries",
    description="Workload images come from allowed registries (default nvcr.io, registry.k8s.io, public.ecr.aws, and "
    "AWS's EKS registries for EKS add-on images).",
    types=resource_types.WORKLOADS,
    check=_check_registries,
    severity=Severity.HIGH,
    remediation_steps="Pull images from an allowed registry (mirror them if needed) or extend allowedRegistries in the policy config.",
    config_schema=schema(
        allowedRegistries={
            "type": "array",
            "items": {"type": "string"},
            "default": list(resource_types.DEFAULT_ALLOWED_REGISTRIES),
            "description": "Registries (host, or host/path prefix) images may come from.",
        },
        allowEksRegistries={
            "type": "boolean",
            "default": True,
            "description": "Also allow EKS's add-on images (eks/...) from AWS's EKS registry of any region "
            "(<account>.dkr.ecr.<region>.amazonaws.com, the accounts of the facts' eks_registries).",
        },
    ),
)


POLICIES = [versions_pinned, container_toolkit_patched, images_from_allowed_registries]
