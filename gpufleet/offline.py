"""Runs the Pulumi program offline under Pulumi's own mocks and records what it registers.

No engine, no credentials, no network: the same GpuPlatform code as `pulumi up`, with the
engine's resource monitor replaced by pulumi.runtime.Mocks. The recorded inputs carry the
property names the engine would send to the policy pack.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.platform import GpuPlatform
from core.facts import load_facts
from core.plan import FleetPlan, plan_fleet
from core.spec import FleetSpec

PROJECT = "gpu-fleet"


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    custom: bool
    parent: Optional[str] = None
    provider: Optional[str] = None
    dependencies: tuple[str, ...] = ()
    """URNs of the resources it was registered to wait for (dependsOn and its inputs' resources)."""


# Outputs the program reads back from resources the engine would compute.
_COMPUTED: dict[str, dict[str, Any]] = {
    "aws:eks/cluster:Cluster": {
        "endpoint": "https://mock.eks.local",
        "certificateAuthority": {"data": "bW9jaw=="},
        "identities": [{"oidcs": [{"issuer": "https://oidc.eks.mock/id/MOCK"}]}],
        "vpcConfig": {"clusterSecurityGroupId": "sg-0ff1ine0c1uster"},
    },
    "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1},
}


# Ids in AWS's own form where something reads them back with a pattern (an EC2NodeClass's subnet terms).
_ID_PREFIXES = {"aws:ec2/subnet:Subnet": "subnet-"}


def mock_id(type_: str, name: str) -> str:
    prefix = _ID_PREFIXES.get(type_)
    if prefix is None:
        return f"{name}-id"
    return prefix + hashlib.sha256(name.encode()).hexdigest()[:17]


# Answers to the data sources the program reads (the zones of no real region: placeholders).
_INVOKES: dict[str, dict[str, Any]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": {"names": [f"offline-az-{i}" for i in range(1, 7)]},
    # A custom AMI's root device: what Canonical's Ubuntu AMIs have.
    "aws:ec2/getAmi:getAmi": {"rootDeviceName": "/dev/sda1", "id": "ami-offline", "imageId": "ami-offline"},
    # The account Karpenter's controller policies are scoped to (its partition and id).
    "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
    "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "000000000000", "id": "000000000000"},
}


class RecordingMonitor(MockMonitor):
    """Tells the mocks the URN and parent of the registration in progress (MockResourceArgs lacks them)."""

    def __init__(self, mocks: "RecordingMocks") -> None:
        super().__init__(mocks)
        self._mocks = mocks

    def RegisterResource(self, request):
        self._mocks.current.urn = self.make_urn(request.parent, request.type, request.name)
        self._mocks.current.parent = request.parent or None
        self._mocks.current.dependencies = tuple(request.dependencies)
        return super().RegisterResource(request)


class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes inputs back as outputs, fills what the program reads, and keeps a record."""

    def __init__(self, region: Optional[str] = None) -> None:
        self.resources: list[PlannedResource] = []
        self.current = threading.local()
        # A stack config without aws:region is planned in the region of the facts' prices.
        self.region = region or load_facts().prices.region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(
            PlannedResource(
                type=args.typ,
                name=args.name,
                urn=self.current.urn,
                parent=self.current.parent,
                inputs=dict(args.inputs),
                custom=args.custom,
                provider=args.provider or None,
                dependencies=self.current.dependencies,
            )
        )
        computed = _COMPUTED.get(args.typ, {})
        state = {
            "arn": f"arn:aws:mock::000000000000:{args.name}",
            "name": args.inputs.get("name", args.name),
            "bucket": args.inputs.get("bucket", args.name),
            **computed,
            **args.inputs,
        }
        for key, value in computed.items():  # a computed field inside an input object (vpcConfig's group)
            if isinstance(value, dict) and isinstance(args.inputs.get(key), dict):
                state[key] = {**value, **args.inputs[key]}
        return mock_id(args.typ, args.name), state

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}
        return _INVOKES.get(args.token, {})


@dataclass
class OfflineRun:
    stack: str
    plan: FleetPlan
    resources: list[PlannedResource] = field(default_factory=list)

    @property
    def custom_resources(self) -> list[PlannedResource]:
        return [r for r in self.resources if r.custom]

    def engine_urns(self) -> list[str]:
        """The URN the engine gives each resource, sorted: the whole chain of parent types, as
        `pulumi up` names them (the mock monitor's own URNs carry only the nearest parent's type)."""
        by_urn = {r.urn: r for r in self.resources}
        urns = []
        for resource in self.resources:
            chain, parent = [resource.type], resource.parent
            while parent in by_urn:  # the root Stack is not recorded and not part of the chain
                chain.insert(0, by_urn[parent].type)
                parent = by_urn[parent].parent
            urns.append(f"urn:pulumi:{self.stack}::{PROJECT}::{'$'.join(chain)}::{resource.name}")
        return sorted(urns)


async def settle() -> None:
    """Waits until every output and registration the program started has finished.

    The SDK's own wait (pulumi.runtime.stack.wait_for_rpcs) finds no registration outstanding
    right after the program returns (none has started yet) and then waits on all tracked outputs
    with FIRST_COMPLETED, re-arming a callback on every pending output for each batch that
    completes: rounds x outputs, about 44 x 20,000 at 1x. Waiting on all of them at once arms
    each callback once. Nothing is skipped: the same registrations and applies run, and the
    SDK's wait still follows (it finds them done, and re-raises any failure).
    """
    while True:
        await asyncio.sleep(0)  # let the registrations just scheduled start and track their RPCs
        with SETTINGS.lock:
            pending = [task for task in SETTINGS.outputs if not task.done()]
        pending += [rpc for rpc in _get_rpc_manager().rpcs if not rpc.done()]
        if not pending:
            return
        await asyncio.wait(pending)


def run_program(mocks: "RecordingMocks", stack: str, program: Callable[[], Any]) -> None:
    """Runs `program` (which registers resources) under `mocks`, as the engine would run it."""
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(mocks))

    def main():
        program()
        return settle()

    _sync_await(run_pulumi_func(main))


def run_offline(spec: FleetSpec, stack: str = "offline", region: Optional[str] = None) -> OfflineRun:
    """Plans the fleet of `spec` and builds the platform under mocks, in `region` (the stack's aws:region;
    where it names none, the facts' price region); returns every registered resource."""
    plan = plan_fleet(spec)
    mocks = RecordingMocks(region)
    run_program(mocks, stack, lambda: GpuPlatform(PROJECT, plan))
    return OfflineRun(stack=stack, plan=plan, resources=mocks.resources)
