"""Scheduling: the fleet's PriorityClasses, one per tenant priority.

critical (inference) preempts everything below it; standard is the default for interactive
and training work; batch is the lowest class, is preempted first, and never preempts other pods
itself (preemptionPolicy Never: a batch job waits for room instead of evicting anyone).
None is globalDefault: pods without a class keep priority 0, below batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from core.names import PRIORITY_CLASSES

from .meta import object_meta


@dataclass(frozen=True)
class PriorityClassDecision:
    priority: str  # the tenant priority: critical, standard, batch
    name: str
    value: int
    preemption_policy: str
    description: str


def priority_classes() -> list[PriorityClassDecision]:
    return [
        PriorityClassDecision(
            "critical", PRIORITY_CLASSES["critical"], 1_000_000, "PreemptLowerPriority",
            "gpu-fleet: latency-critical inference; preempts standard and batch pods.",
        ),
        PriorityClassDecision(
            "standard", PRIORITY_CLASSES["standard"], 100_000, "PreemptLowerPriority",
            "gpu-fleet: default for interactive and training work; preempts batch pods.",
        ),
        PriorityClassDecision(
            "batch", PRIORITY_CLASSES["batch"], 1_000, "Never",
            "gpu-fleet: preemptible batch work; preempted first and never preempts others.",
        ),
    ]


@dataclass(frozen=True)
class SchedulingArgs:
    classes: tuple[PriorityClassDecision, ...] = tuple(priority_classes())
    """The PriorityClasses to create, one per tenant priority."""


class Scheduling(pulumi.ComponentResource):
    """The gpufleet-critical, gpufleet-standard and gpufleet-batch PriorityClasses."""

    def __init__(self, name: str, args: SchedulingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:scheduling:Scheduling", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.classes: dict[str, k8s.scheduling.v1.PriorityClass] = {}
        for decision in args.classes:
            self.classes[decision.priority] = k8s.scheduling.v1.PriorityClass(
                decision.name,
                metadata=object_meta(decision.name),
                value=decision.value,
                preemption_policy=decision.preemption_policy,
                global_default=False,
                description=decision.description,
                opts=child,
            )
        self.register_outputs({"priorityClasses": [d.name for d in args.classes]})
