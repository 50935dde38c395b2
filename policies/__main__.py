"""Entry point the Pulumi engine runs (from policies/): assembles the pack, nothing else.

PolicyPack(...) serves the engine and never returns, so the policies live in importable modules.
"""

import sys
from pathlib import Path

# The engine runs this file from policies/; the pack imports core (facts, plan names) from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies import ALL, PACK_NAME  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=ALL,
    enforcement_level=EnforcementLevel.ADVISORY,
    description="Driver/CUDA/GPU compatibility, GPU node pool, tenancy and supply-chain rules for gpu-fleet stacks.",
    display_name="gpu-fleet",
)
