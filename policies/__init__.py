"""The gpu-fleet CrossGuard policy pack: policies grouped by domain; __main__.py only assembles them.

ALL is the one list both the engine (through __main__.py) and `gpufleet check` evaluate.
"""

from __future__ import annotations

from . import compatibility, nodes, queues, supply_chain, tenancy

PACK_NAME = "gpu-fleet"

ALL = [*compatibility.POLICIES, *nodes.POLICIES, *tenancy.POLICIES, *queues.POLICIES, *supply_chain.POLICIES]

BY_NAME = {policy.name: policy for policy in ALL}
